"""Trajectory trees: the data structure a Spark rollout produces and the learner consumes.

A task's rollout is a *forest*: M roots (independent first steps from the same initial state),
each growing into a tree when a step triggers a branch. Nodes are steps; a step that branched
has several children (the parent's own next step and each forked child's next step). A leaf's
root-to-leaf path is one trajectory. Nodes keep the exact token ids that were sampled, so the
learner never re-tokenises text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StepNode:
    """One (prompt, response) step of one or more trajectories."""

    node_id: int
    parent_id: int | None
    depth: int
    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    observation: str
    response_text: str
    action: str | None
    mode: str
    valid: bool
    explore: bool
    reward: float = 0.0
    done: bool = False
    won: bool = False
    branched: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)
    action_mask: list | None = None
    """Constrained decoding's record (``ActionMask.to_json()``): the tokens allowed at each
    position of the action span, which the learner re-applies; ``None`` when decoding was free."""


@dataclass(frozen=True)
class StepRow:
    """A training row: one node shared by ``multiplicity`` trajectories (its descendant leaves)."""

    node_id: int
    leaf_ids: tuple[int, ...]

    @property
    def multiplicity(self) -> int:
        return len(self.leaf_ids)


@dataclass
class TaskForest:
    """All trajectories of one task: nodes by id, the M root ids, and bookkeeping for Spark."""

    task_id: str
    task_type: str
    split: str
    nodes: dict[int, StepNode] = field(default_factory=dict)
    root_ids: list[int] = field(default_factory=list)
    padded_leaf_ids: list[int] = field(default_factory=list)
    """Leaves duplicated to pad the group to N (off by default); each entry is one extra copy."""

    # ---- building -------------------------------------------------------------------------
    def add(self, node: StepNode) -> StepNode:
        if node.node_id in self.nodes:
            raise ValueError(f"node id {node.node_id} already in the forest")
        self.nodes[node.node_id] = node
        if node.parent_id is None:
            self.root_ids.append(node.node_id)
        else:
            self.nodes[node.parent_id].children.append(node.node_id)
        return node

    # ---- reading --------------------------------------------------------------------------
    def leaves(self) -> list[int]:
        """Real leaves (one per trajectory), in node order; padding copies are not included."""
        return [nid for nid, node in self.nodes.items() if not node.children]

    def training_leaves(self) -> list[int]:
        """Leaves as the learner counts them: real leaves plus any padding copies."""
        return self.leaves() + list(self.padded_leaf_ids)

    def path(self, leaf_id: int) -> list[StepNode]:
        """Root-to-leaf steps of the trajectory ending at ``leaf_id``."""
        steps = []
        node: StepNode | None = self.nodes[leaf_id]
        while node is not None:
            steps.append(node)
            node = None if node.parent_id is None else self.nodes[node.parent_id]
        return steps[::-1]

    def won(self, leaf_id: int) -> bool:
        return self.nodes[leaf_id].won

    def step_rows(self) -> list[StepRow]:
        """One row per node, listing the training leaves that contain it (padding included)."""
        leaves_under: dict[int, list[int]] = {nid: [] for nid in self.nodes}
        for leaf_id in self.training_leaves():
            for node in self.path(leaf_id):
                leaves_under[node.node_id].append(leaf_id)
        return [StepRow(nid, tuple(leaves)) for nid, leaves in leaves_under.items()]

    def descendant_leaves(self, node_id: int) -> list[int]:
        """Real leaves of the subtree rooted at ``node_id``."""
        stack, leaves = [node_id], []
        while stack:
            node = self.nodes[stack.pop()]
            if node.children:
                stack.extend(reversed(node.children))
            else:
                leaves.append(node.node_id)
        return leaves

    def stats(self) -> dict[str, float]:
        """Per-forest figures the trainer logs."""
        leaves = self.leaves()
        nodes = list(self.nodes.values())
        return {
            "leaves": len(leaves),
            "branches": len(leaves) - len(self.root_ids),
            "forks": sum(1 for n in nodes if n.branched),
            "steps": len(nodes),
            "trajectory_steps": sum(len(self.path(leaf)) for leaf in leaves),
            "success": sum(self.won(leaf) for leaf in leaves) / max(1, len(leaves)),
            "explore_steps": sum(n.explore for n in nodes),
            "invalid_steps": sum(not n.valid for n in nodes),
            "generated_tokens": sum(len(n.response_ids) for n in nodes),
            "padded": len(self.padded_leaf_ids),
        }

    # ---- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "task_type": self.task_type,
            "split": self.split,
            "root_ids": self.root_ids,
            "padded_leaf_ids": self.padded_leaf_ids,
            # a shallow copy per node: asdict's deep copy of every id list dominated saving
            "nodes": [dict(vars(node)) for node in self.nodes.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskForest:
        forest = cls(data["task_id"], data["task_type"], data["split"])
        for raw in data["nodes"]:
            node = StepNode(**raw)
            forest.nodes[node.node_id] = node
        forest.root_ids = list(data["root_ids"])
        forest.padded_leaf_ids = list(data["padded_leaf_ids"])
        return forest


def save_forests(forests: list[TaskForest], path: str | Path) -> None:
    """Write forests as JSON lines (one task per line), atomically: a reader (the viewer, a
    resumed run) never sees half a file."""
    target = Path(path)
    staging = target.with_name(f".{target.name}.tmp")
    with open(staging, "w", encoding="utf-8") as handle:
        for forest in forests:
            handle.write(json.dumps(forest.to_dict()) + "\n")
    staging.replace(target)


def load_forests(path: str | Path) -> list[TaskForest]:
    with open(path, encoding="utf-8") as handle:
        return [TaskForest.from_dict(json.loads(line)) for line in handle if line.strip()]
