"""EnvPool: parallel steps and resets, in order, with per-env errors kept."""

from __future__ import annotations

import shutil
import threading
from typing import Any

import pytest

from sparkrl.envs import SPLITS, UNKNOWN_ACTION_TEXT, Observation, Task, TextEnv
from sparkrl.envs.pool import EnvPool, EnvPoolError

PARTIES = 4


class RendezvousEnv(TextEnv):
    """Echoes actions. ``meet`` waits until ``PARTIES`` envs are inside ``step`` at once, which
    only happens when the pool really runs them in parallel; ``boom`` raises."""

    name = "rendezvous"
    barrier = threading.Barrier(PARTIES, timeout=10)

    def tasks(self, split: str) -> list[Task]:
        return [Task(self.name, f"{split}-{i}", split, "echo") for i in range(3)] if split in SPLITS else []

    def _reset(self, task: Task) -> Observation:
        return Observation(f"start {task.task_id}", ["echo", "meet", "boom"], "echo things")

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        if action == "boom":
            raise RuntimeError(f"{self.task.task_id} exploded")
        if action == "meet":
            self.barrier.wait()
        text = f"{self.task.task_id}: {action}" if action in ("echo", "meet") else UNKNOWN_ACTION_TEXT
        return Observation(text, ["echo", "meet", "boom"], "echo things"), 0.0, False, False, {}


def fresh_envs(count: int) -> list[RendezvousEnv]:
    envs = [RendezvousEnv(max_steps=5) for _ in range(count)]
    for index, env in enumerate(envs):
        env.reset(Task(RendezvousEnv.name, f"train-{index}", "train", "echo"))
    return envs


def test_steps_run_in_parallel_and_come_back_in_order():
    envs = fresh_envs(PARTIES)
    with EnvPool(max_workers=PARTIES) as pool:
        calls = pool.step([(env, "meet") for env in envs])
    assert [call.get().observation.text for call in calls] == [f"train-{i}: meet" for i in range(PARTIES)]


def test_errors_are_kept_per_env_and_the_others_still_step():
    envs = fresh_envs(3)
    with EnvPool(max_workers=2) as pool:
        calls = pool.step([(envs[0], "echo"), (envs[1], "boom"), (envs[2], "nonsense")])
    assert calls[0].ok and calls[0].get().observation.text == "train-0: echo"
    assert not calls[1].ok and isinstance(calls[1].error, RuntimeError)
    with pytest.raises(RuntimeError, match="train-1 exploded"):
        calls[1].get()
    assert calls[2].get().observation.text == UNKNOWN_ACTION_TEXT


def test_raise_errors_names_every_failed_env():
    envs = fresh_envs(3)
    with EnvPool(max_workers=3) as pool, pytest.raises(EnvPoolError) as failure:
        pool.step([(envs[0], "boom"), (envs[1], "echo"), (envs[2], "boom")], raise_errors=True)
    assert [index for index, _ in failure.value.failed] == [0, 2]
    assert "2/3 envs failed to step" in str(failure.value) and "train-2 exploded" in str(failure.value)
    assert isinstance(failure.value.__cause__, RuntimeError)
    assert envs[1].num_steps == 1


def test_resets_in_parallel_and_rejects_an_env_twice_in_one_batch():
    envs = [RendezvousEnv() for _ in range(2)]
    tasks = RendezvousEnv().tasks("L1")[:2]
    with EnvPool(max_workers=2) as pool:
        observations = [call.get() for call in pool.reset(list(zip(envs, tasks)))]
        assert [o.text for o in observations] == ["start L1-0", "start L1-1"]
        with pytest.raises(ValueError, match="twice"):
            pool.step([(envs[0], "echo"), (envs[0], "echo")])


def test_scienceworld_envs_step_in_parallel_like_in_sequence():
    pytest.importorskip("scienceworld")
    if shutil.which("java") is None:
        pytest.skip("ScienceWorld needs java on PATH")
    from sparkrl.envs.scienceworld import BackendPool, ScienceWorldEnv

    tasks = [Task("scienceworld", task_id, "L0", task_id.split("/")[0])
             for task_id in ("boil/0", "find-living-thing/0")]
    plan = ["teleport to kitchen", "look around", "xyzzy"]
    with BackendPool(max_backends=2) as backends, EnvPool(max_workers=2) as pool:
        sequential = []
        for task in tasks:
            env = ScienceWorldEnv(pool=backends)
            env.reset(task)
            sequential.append([env.step(action).observation.text for action in plan])
        envs = [ScienceWorldEnv(pool=backends) for _ in tasks]
        pool.reset(list(zip(envs, tasks)), raise_errors=True)
        parallel = [[], []]
        for action in plan:
            for index, call in enumerate(pool.step([(env, action) for env in envs], raise_errors=True)):
                parallel[index].append(call.get().observation.text)
        assert parallel == sequential
        assert len(backends.pids) == 2
