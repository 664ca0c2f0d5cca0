"""Dynamic sampling: uniform-outcome groups are counted, and dropped when asked."""

from __future__ import annotations

import pytest

from sparkrl.rollout.tree import StepNode, TaskForest
from sparkrl.train.group_filter import GroupCounts, filter_groups, uniform_outcome


def _group(task_id: str, outcomes: list[bool]) -> TaskForest:
    """A forest of independent one-step trajectories with the given outcomes."""
    forest = TaskForest(task_id, "pick", "train")
    for node_id, won in enumerate(outcomes):
        forest.add(StepNode(node_id, None, 0, [1], [2], [-0.1], "obs", "r", "look", "think", True, False,
                            reward=10.0 * won, done=True, won=won))
    return forest


GROUPS = [_group("mixed", [True, False, False]), _group("lost", [False] * 3), _group("won", [True] * 3),
          _group("mixed2", [False, True])]


def test_uniform_outcome():
    assert [uniform_outcome(g) for g in GROUPS] == [False, True, True, False]


@pytest.mark.parametrize("mode, kept", [("off", ["mixed", "lost", "won", "mixed2"]), ("skip", ["mixed", "mixed2"]),
                                        ("resample", ["mixed", "mixed2"])])
def test_filter_keeps_and_counts(mode, kept):
    counts = GroupCounts()
    assert [g.task_id for g in filter_groups(GROUPS, mode, counts)] == kept
    assert counts.as_metrics() == {"groups_rolled": 4, "groups_uniform": 2, "groups_all_won": 1,
                                   "groups_kept": len(kept), "resample_rounds": 0}
    filter_groups(GROUPS[:1], mode, counts)  # counts accumulate over an iteration's rounds
    assert counts.rolled == 5 and counts.kept == len(kept) + 1


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="skip"):
        filter_groups(GROUPS, "sometimes", GroupCounts())
