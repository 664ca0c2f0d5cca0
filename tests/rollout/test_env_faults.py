"""Env faults inside a Spark rollout: a step that raises or hangs is retried on an env rebuilt by
replay (the forest is exactly the fault-free one), repeated failures skip the task and count it,
and stepping the envs concurrently changes nothing."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from sparkrl.envs.base import Observation, Task
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, spark_rollout
from sparkrl.train.rl import _iteration_record

from tests.envs.toy_envs import CounterEnv
from tests.rollout.test_spark import ScriptedPolicy

HANG_LIMIT_S = 10.0


class FaultPlan:
    """Faults to inject, consumed as they fire: ``(task_id, step)`` → kinds in order, where
    step 0 is the reset and step k the k-th action; kinds are ``"raise"`` and ``"hang"``."""

    def __init__(self, faults: dict[tuple[str, int], list[str]]) -> None:
        self.faults = {key: list(kinds) for key, kinds in faults.items()}
        self.release = threading.Event()
        self.lock = threading.Lock()

    def fire(self, task_id: str, step: int) -> None:
        with self.lock:
            kinds = self.faults.get((task_id, step))
            kind = kinds.pop(0) if kinds else None
        if kind == "raise":
            raise ConnectionError(f"env process of {task_id} died at step {step}")
        if kind == "hang":
            self.release.wait(HANG_LIMIT_S)


class FaultyCounterEnv(CounterEnv):
    """CounterEnv whose reset/steps fail as ``plan`` says."""

    def __init__(self, plan: FaultPlan, max_steps: int = 30) -> None:
        super().__init__(max_steps)
        self.plan = plan

    def spawn(self) -> FaultyCounterEnv:
        return FaultyCounterEnv(self.plan, self.max_steps)

    def _reset(self, task: Task) -> Observation:
        self.plan.fire(task.task_id, 0)
        return super()._reset(task)

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        assert self.task is not None
        self.plan.fire(self.task.task_id, self.num_steps + 1)
        return super()._step(action)


CONFIG = RolloutConfig(num_leaves=6, num_roots=2, branch_factor=2, max_steps=8)
TASKS = CounterEnv().tasks("train")[:3]


def run(faults: dict | None = None, tasks=TASKS, **overrides: Any):
    plan = FaultPlan(faults or {})
    config = RolloutConfig(**{**CONFIG.__dict__, **overrides})
    stats = RolloutStats()
    try:
        forests = spark_rollout(ScriptedPolicy(explore_rate=0.4, seed=1), tasks,
                                lambda task: FaultyCounterEnv(plan), config, random.Random(1), stats)
    finally:
        plan.release.set()
    return forests, stats


def shape(forests) -> list:
    return [(f.task_id, [(n.node_id, n.parent_id, n.action, n.observation, n.reward, n.done, n.branched)
                         for n in f.nodes.values()]) for f in forests]


@pytest.fixture(scope="module")
def reference():
    forests, stats = run()
    assert stats.env_failures == 0 and any(n.branched for f in forests for n in f.nodes.values())
    return shape(forests)


@pytest.mark.parametrize("workers", [1, 4])
def test_concurrent_env_steps_give_the_same_forests(reference, workers):
    forests, stats = run(env_workers=workers)
    assert shape(forests) == reference and stats.env_failures == 0


@pytest.mark.parametrize("workers", [1, 3])
def test_a_raising_step_is_retried_on_a_replayed_env(reference, workers):
    forests, stats = run({("train-1", 3): ["raise"], ("train-0", 1): ["raise"]}, env_workers=workers)
    assert shape(forests) == reference
    assert stats.env_failures == 2 and stats.env_retries == 2 and stats.skipped_tasks == []
    assert any("ConnectionError: env process of train-1 died at step 3" in e for e in stats.env_errors)


def test_a_failing_reset_is_retried(reference):
    forests, stats = run({("train-2", 0): ["raise", "raise"]})
    assert shape(forests) == reference
    assert stats.env_failures == 2 and stats.env_retries == 2


def test_a_hung_step_times_out_and_is_replayed(reference):
    forests, stats = run({("train-0", 2): ["hang"]}, step_timeout_s=0.5)
    assert shape(forests) == reference
    assert stats.env_failures == 1 and stats.env_retries == 1
    assert "did not finish within 0.5 s" in stats.env_errors[0]


def test_repeated_failures_skip_the_task_and_count_it(reference):
    # both roots of train-1 reach step 2 in the same lock-step: the first hangs once, then
    # every try of either raises
    forests, stats = run({("train-1", 2): ["hang"] + ["raise"] * 20}, step_timeout_s=0.5, env_retries=2)
    assert [f.task_id for f in forests] == ["train-0", "train-2"]
    assert len(stats.skipped_tasks) == 1
    assert stats.skipped_tasks[0].startswith("train-1: step 2")
    assert "failed 3 times; last error: ConnectionError" in stats.skipped_tasks[0]
    assert stats.env_failures == 6 and stats.env_retries == 4
    assert sum("did not finish within 0.5 s" in e for e in stats.env_errors) == 1
    assert all(leaf_done for f in forests for leaf_done in (f.nodes[leaf].done for leaf in f.leaves()))


def test_a_reset_that_never_works_skips_only_that_task():
    forests, stats = run({("train-0", 0): ["raise"] * 3}, env_retries=2)
    assert [f.task_id for f in forests] == ["train-1", "train-2"]
    assert stats.skipped_tasks == [
        "train-0: reset failed 3 times; last error: ConnectionError: env process of train-0 died at step 0"
    ]


def test_no_retries_means_the_first_failure_skips(reference):
    forests, stats = run({("train-2", 1): ["raise"]}, env_retries=0)
    assert len(forests) == 2 and stats.env_retries == 0 and len(stats.skipped_tasks) == 1


def test_the_trainer_metrics_record_faults_and_skips():
    forests, stats = run({("train-1", 2): ["raise"] * 20, ("train-0", 1): ["raise"]})
    record = _iteration_record(1, forests, stats, {}, 0.0)
    assert record["env_failures"] == 7 and record["env_retries"] == 5 and record["skipped_tasks"] == 1
    assert record["skipped_task_errors"][0].startswith("train-1: step 2")
