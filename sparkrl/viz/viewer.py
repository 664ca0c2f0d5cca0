"""`sparkrl view`: one self-contained HTML file showing a run's trajectory forests.

The page (``viewer.html``, with ``viewer.css`` and ``viewer.js`` inlined; package data) is
filled with the run's data as JSON: one ``<script type="application/json">`` block per iteration,
parsed by the page only when that iteration is opened, so a long run stays cheap to open. Observation and response texts are
interned per iteration because forked branches repeat their parent's observations verbatim.
Nothing is fetched from the network; every text reaches the page through ``textContent``.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sparkrl.rollout.tree import StepNode, TaskForest

OUTCOMES = ("won", "lost", "truncated", "invalid")
"""Leaf outcomes, as the page colours them."""

DEFAULT_MAX_ITERATIONS = 24
"""Iterations embedded when none is chosen; longer runs are sampled evenly (first and last kept)."""

_TREE_FILE = re.compile(r"^iter-(\d+)\.jsonl$")
_DATA_SLOT = "<!--SPARKRL_DATA-->"
_STYLE_SLOT = "<!--SPARKRL_STYLE-->"
_SCRIPT_SLOT = "<!--SPARKRL_SCRIPT-->"
_TITLE_SLOT = "{{TITLE}}"


def leaf_outcome(node: StepNode, horizon: int | None) -> str:
    """How the trajectory ending at ``node`` ended: won, truncated, invalid or lost.

    ``truncated``: it ran into the rollout horizon (or was never finished), whatever its last
    response; before the horizon, ``invalid`` when the env ended it on a response that broke the
    format, ``lost`` when it ended it on a valid one without a win.
    """
    if node.won:
        return "won"
    if not node.done or node.info.get("truncated") or (horizon is not None and node.depth + 1 >= horizon):
        return "truncated"
    return "lost" if node.valid else "invalid"


def tree_statistics(forest: TaskForest, horizon: int | None) -> dict[str, Any]:
    """Branch statistics of one task's forest, as the page shows them above the tree."""
    nodes = list(forest.nodes.values())
    leaves = [forest.nodes[leaf_id] for leaf_id in forest.leaves()]
    outcomes = {outcome: 0 for outcome in OUTCOMES}
    for leaf in leaves:
        outcomes[leaf_outcome(leaf, horizon)] += 1
    return {
        "roots": len(forest.root_ids),
        "forks": sum(1 for node in nodes if len(node.children) > 1),
        "leaves": len(leaves),
        "branches": len(leaves) - len(forest.root_ids),
        "depth": 1 + max((node.depth for node in nodes), default=-1),
        "steps": len(nodes),
        "explore_ratio": sum(node.explore for node in nodes) / max(1, len(nodes)),
        "invalid_ratio": sum(not node.valid for node in nodes) / max(1, len(nodes)),
        "success": outcomes["won"] / max(1, len(leaves)),
        "outcomes": outcomes,
        "generated_tokens": sum(len(node.response_ids) for node in nodes),
        "padded": len(forest.padded_leaf_ids),
    }


class _StringTable:
    """Interns texts so a text shared by many nodes is embedded once."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def intern(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.values)
            self.values.append(text)
        return self._index[text]


def _node_record(node: StepNode, horizon: int | None, strings: _StringTable) -> dict[str, Any]:
    next_observation = node.info.get("next_observation")
    entropy = node.info.get("head_entropy")
    return {
        "id": node.node_id,
        "parent": node.parent_id,
        "children": list(node.children),
        "depth": node.depth,
        "mode": node.mode,
        "action": node.action,
        "observation": strings.intern(node.observation),
        "response": strings.intern(node.response_text),
        "next_observation": None if next_observation is None else strings.intern(str(next_observation)),
        "valid": node.valid,
        "explore": node.explore,
        "reward": node.reward,
        "done": node.done,
        "won": node.won,
        "branched": node.branched,
        "tokens": len(node.response_ids),
        "entropy": entropy if isinstance(entropy, (int, float)) else None,
        "outcome": None if node.children else leaf_outcome(node, horizon),
    }


def forest_record(forest: TaskForest, horizon: int | None, strings: _StringTable) -> dict[str, Any]:
    """What the page needs of one forest: task labels, statistics and slimmed nodes (no token ids)."""
    return {
        "task_id": forest.task_id,
        "task_type": forest.task_type,
        "split": forest.split,
        "root_ids": list(forest.root_ids),
        "stats": tree_statistics(forest, horizon),
        "nodes": [_node_record(node, horizon, strings) for node in forest.nodes.values()],
    }


def iteration_record(iteration: int, forests: list[TaskForest], horizon: int | None) -> dict[str, Any]:
    """One iteration's forests and summary, with its interned text table."""
    strings = _StringTable()
    tasks = [forest_record(forest, horizon, strings) for forest in forests]
    leaves = sum(task["stats"]["leaves"] for task in tasks)
    steps = sum(task["stats"]["steps"] for task in tasks)
    return {
        "iteration": iteration,
        "summary": {
            "tasks": len(tasks),
            "leaves": leaves,
            "success": sum(task["stats"]["outcomes"]["won"] for task in tasks) / max(1, leaves),
            "explore_ratio": sum(task["stats"]["explore_ratio"] * task["stats"]["steps"] for task in tasks)
            / max(1, steps),
        },
        "tasks": tasks,
        "strings": strings.values,
    }


def tree_files(run_dir: str | Path) -> dict[int, Path]:
    """The run's ``trees/iter-N.jsonl`` files by iteration number."""
    trees = Path(run_dir) / "trees"
    if not trees.is_dir():
        raise FileNotFoundError(f"{run_dir}: no trees/ folder (is this a sparkrl run folder?)")
    files = {int(match.group(1)): path for path in trees.iterdir() if (match := _TREE_FILE.match(path.name))}
    if not files:
        raise FileNotFoundError(f"{trees}: no iter-N.jsonl files (has the run finished an iteration?)")
    return dict(sorted(files.items()))


def choose_iterations(available: list[int], iteration: int | None, max_iterations: int) -> list[int]:
    """The iterations to embed: the one asked for, or all of them sampled evenly down to a cap."""
    if iteration is not None:
        if iteration not in available:
            raise ValueError(f"iteration {iteration} not in the run (it has {available[0]}..{available[-1]})")
        return [iteration]
    if len(available) <= max_iterations:
        return list(available)
    last = len(available) - 1
    picks = {round(i * last / (max_iterations - 1)) for i in range(max_iterations)}
    return [available[i] for i in sorted(picks)]


def _read_forests(path: Path) -> list[TaskForest]:
    forests = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                forests.append(TaskForest.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a saved TaskForest ({error})") from error
    return forests


def _run_config(run_dir: Path) -> tuple[str, int | None]:
    """The command that made the run (config header) and its rollout horizon, when recorded."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return "", None
    text = path.read_text(encoding="utf-8")
    first_line = text.splitlines()[0] if text else ""
    command = first_line[2:].strip() if first_line.startswith("# ") else ""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not readable YAML ({error})") from error
    rollout = config.get("rollout") if isinstance(config, dict) else None
    horizon = rollout.get("max_steps") if isinstance(rollout, dict) else None
    return command, horizon if isinstance(horizon, int) else None


def _script_json(value: Any) -> str:
    """JSON that cannot end or comment its ``<script>`` element, whatever the texts contain."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_viewer(run_name: str, command: str, horizon: int | None, iterations: list[dict[str, Any]]) -> str:
    """The complete HTML page for already-built iteration records."""
    index = {
        "run": run_name,
        "command": command,
        "horizon": horizon,
        "iterations": [{"iteration": it["iteration"], **it["summary"]} for it in iterations],
    }
    blocks = [f'<script type="application/json" id="run-index">{_script_json(index)}</script>']
    blocks += [
        f'<script type="application/json" id="iteration-{it["iteration"]}">{_script_json(it)}</script>'
        for it in iterations
    ]
    assets = resources.files("sparkrl.viz")
    style, script = (assets.joinpath(name).read_text(encoding="utf-8") for name in ("viewer.css", "viewer.js"))
    page = assets.joinpath("viewer.html").read_text(encoding="utf-8")
    page = page.replace(_TITLE_SLOT, html.escape(f"sparkrl · {run_name}"))
    page = page.replace(_STYLE_SLOT, f"<style>\n{style}</style>")
    page = page.replace(_SCRIPT_SLOT, f"<script>\n{script}</script>")
    # The data goes in last: its escaped JSON holds no "<", so it cannot fake a slot.
    return page.replace(_DATA_SLOT, "\n".join(blocks))


def write_viewer(
    run_dir: str | Path,
    out: str | Path | None = None,
    iteration: int | None = None,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> Path:
    """Write the viewer of ``run_dir`` (default ``RUN/viewer.html``) and return its path.

    ``iteration`` embeds only that iteration; otherwise every iteration is embedded, sampled
    evenly down to ``max_iterations`` for long runs.
    """
    run_dir = Path(run_dir)
    files = tree_files(run_dir)
    chosen = choose_iterations(list(files), iteration, max_iterations)
    command, horizon = _run_config(run_dir)
    records = [iteration_record(number, _read_forests(files[number]), horizon) for number in chosen]
    target = Path(out) if out is not None else run_dir / "viewer.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_viewer(run_dir.resolve().name, command, horizon, records)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(target)
    return target
