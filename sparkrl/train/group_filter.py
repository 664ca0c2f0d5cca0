"""DAPO-style dynamic sampling: keep the update on task groups whose outcomes differ.

A group whose trajectories all won or all lost has zero outcome variance, so every
group-relative advantage in it is (up to the format penalty) zero: its rows cost learner compute
and dilute the token mean without moving the policy toward winning (Yu et al., 2025, DAPO
section 3.2). Modes (``TrainConfig.dynamic_sampling``):

- ``off``: train on every group (the paper's setting);
- ``skip``: drop uniform groups from the update;
- ``resample``: drop them and roll out further tasks, up to ``resample_rounds`` extra rounds,
  until the iteration has ``tasks_per_iteration`` mixed groups (or the rounds run out).

Every iteration logs how many groups were rolled out, how many were uniform and how many were
kept, so the cost of the filter is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sparkrl.rollout.tree import TaskForest

DYNAMIC_SAMPLING_MODES: tuple[str, ...] = ("off", "skip", "resample")


def uniform_outcome(forest: TaskForest) -> bool:
    """True when every trajectory of the group won, or every one lost (no outcome variance)."""
    outcomes = {forest.won(leaf) for leaf in forest.leaves()}
    return len(outcomes) <= 1


@dataclass
class GroupCounts:
    """Groups seen by the filter over one iteration."""

    rolled: int = 0
    uniform: int = 0
    all_won: int = 0
    kept: int = 0
    rounds: int = 0

    def as_metrics(self) -> dict[str, int]:
        return {"groups_rolled": self.rolled, "groups_uniform": self.uniform,
                "groups_all_won": self.all_won, "groups_kept": self.kept, "resample_rounds": self.rounds}


def filter_groups(forests: Sequence[TaskForest], mode: str, counts: GroupCounts) -> list[TaskForest]:
    """The groups the update trains on under ``mode``; ``counts`` is updated in place."""
    if mode not in DYNAMIC_SAMPLING_MODES:
        raise ValueError(f"unknown dynamic sampling mode {mode!r}; expected one of {DYNAMIC_SAMPLING_MODES}")
    kept = []
    for forest in forests:
        counts.rolled += 1
        uniform = uniform_outcome(forest)
        counts.uniform += uniform
        counts.all_won += uniform and bool(forest.leaves()) and forest.won(forest.leaves()[0])
        if mode == "off" or not uniform:
            kept.append(forest)
    counts.kept += len(kept)
    return kept
