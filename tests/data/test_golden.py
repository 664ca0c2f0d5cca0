"""Golden trajectories from the household expert: collection, won-only filter, JSONL round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkrl.data.golden import GoldenTrajectory, collect_golden, load_jsonl, play_expert, save_jsonl
from sparkrl.envs.checker import EXPERT_HORIZON
from sparkrl.envs import make


@pytest.fixture(scope="module")
def household():
    return make("household")


def test_expert_trajectories_replay_to_a_win(household) -> None:
    tasks = household.tasks("train", limit=4) + household.tasks("L2", limit=2)
    collection = collect_golden(household, tasks)
    assert collection.episodes == 6 and collection.won == 6 and collection.lost == 0
    for trajectory, task in zip(collection.trajectories, tasks):
        assert (trajectory.task_id, trajectory.split, trajectory.task_type) == (
            task.task_id,
            task.split,
            task.task_type,
        )
        observation = household.reset(task)
        assert trajectory.goal == observation.goal
        for step in trajectory.steps:
            assert step.observation == observation.text
            assert step.action in step.admissible_actions
            result = household.step(step.action)
            observation = result.observation
        assert result.won
    assert any(step.is_search for t in collection.trajectories for step in t.steps)
    assert any(not step.is_search for t in collection.trajectories for step in t.steps)


def test_lost_episodes_are_counted_not_kept() -> None:
    short = make("household", max_steps=2)
    tasks = short.tasks("train", limit=3)
    collection = collect_golden(short, tasks, horizon=2)
    assert collection.trajectories == [] and collection.lost == 3
    assert play_expert(short, tasks[0], horizon=2).won is False
    assert "0/3 expert episodes won, 3 lost" in collection.summary()


def test_the_expert_plays_past_the_training_horizon() -> None:
    """A gold path longer than K is played whole (the expert gets ``EXPERT_HORIZON`` steps),
    and the env keeps its own horizon afterwards."""
    short = make("household", max_steps=2)
    tasks = short.tasks("train", limit=3)
    collection = collect_golden(short, tasks)
    assert collection.won == 3 and collection.lost == 0
    assert all(len(t.steps) > 2 for t in collection.trajectories)
    assert short.max_steps == 2 and EXPERT_HORIZON == 300
    short.reset(tasks[0])
    assert not short.step("look").truncated and short.step("look").truncated


def test_jsonl_round_trip_and_bad_lines(household, tmp_path: Path) -> None:
    trajectories = collect_golden(household, household.tasks("L1", limit=3)).trajectories
    path = save_jsonl(trajectories, tmp_path / "golden" / "household.jsonl")
    assert load_jsonl(path) == trajectories
    assert all(isinstance(t, GoldenTrajectory) for t in load_jsonl(path))
    path.write_text(path.read_text() + '{"env": "household"}\n')
    with pytest.raises(ValueError, match=r"household.jsonl:4"):
        load_jsonl(path)
