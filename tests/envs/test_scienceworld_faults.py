"""ScienceWorld under real JVM faults: a JVM killed mid-episode (SIGKILL) and a JVM that hangs
without dying (SIGSTOP) are replaced and the episode replayed, identically. Skipped when
``scienceworld`` or ``java`` is missing."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

pytest.importorskip("scienceworld")
if shutil.which("java") is None:
    pytest.skip("ScienceWorld needs java on PATH", allow_module_level=True)

from sparkrl.envs import Task  # noqa: E402
from sparkrl.envs.scienceworld import BackendPool, ScienceWorldEnv  # noqa: E402
from sparkrl.rollout.env_runner import EnvRunner, Stepped  # noqa: E402

TASK = Task("scienceworld", "boil/0", "L0", "boil")
PLAN = ["teleport to kitchen", "open cupboard", "pick up thermometer", "teleport to outside"]


def trace(env: ScienceWorldEnv, actions: list[str]) -> list[tuple]:
    """(text, admissible, reward, terminated, won) after the reset and each action."""
    observation = env.reset(TASK)
    rows = [(observation.text, tuple(observation.admissible_actions), 0.0, False, False)]
    return rows + [row(env.step(action)) for action in actions]


def row(result) -> tuple:
    obs = result.observation
    return obs.text, tuple(obs.admissible_actions), result.reward, result.terminated, result.won


@pytest.fixture(scope="module")
def pool():
    """One JVM at a time, so the JVM to kill is the one holding the episode."""
    with BackendPool(max_backends=1, step_timeout_s=5.0) as one:
        yield one


@pytest.fixture(scope="module")
def reference(pool) -> list[tuple]:
    return trace(ScienceWorldEnv(pool=pool), PLAN)


@pytest.mark.slow  # two JVM launches; one kill is already in test_scienceworld.py's default run
def test_jvm_killed_twice_mid_episode_the_episode_continues_identically(pool, reference):
    env = ScienceWorldEnv(pool=pool)
    observation = env.reset(TASK)
    got = [(observation.text, tuple(observation.admissible_actions), 0.0, False, False)]
    killed, deaths, launches = [], pool.stats.deaths, pool.stats.launches
    for depth, action in enumerate(PLAN):
        if depth in (1, 3):
            killed.append(pool.pids[0])
            os.kill(killed[-1], signal.SIGKILL)
        got.append(row(env.step(action)))
    assert got == reference
    assert pool.stats.deaths == deaths + 2 and pool.stats.launches == launches + 2
    assert not set(killed) & set(pool.pids)


def test_hung_jvm_is_killed_after_the_step_timeout_and_the_step_recovers(pool, reference):
    env = ScienceWorldEnv(pool=pool)
    trace(env, PLAN[:2])
    hung, deaths = pool.pids[0], pool.stats.deaths
    os.kill(hung, signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = env.step(PLAN[2])
        waited = time.monotonic() - started
    finally:
        try:  # the watchdog SIGKILLed it; a JVM still alive must not stay stopped
            os.kill(hung, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert row(result) == reference[3]
    assert 5.0 <= waited < 60
    assert pool.stats.deaths == deaths + 1 and hung not in pool.pids
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # reaped: the hung JVM is gone, not leaked
    assert row(env.step(PLAN[3])) == reference[4]


def test_a_pool_that_gives_up_is_rescued_by_the_rollout_replay(pool, reference, monkeypatch):
    """With no restarts left in the pool the step raises EnvError; the rollout's env runner
    rebuilds the env by replay on a fresh JVM and the step still gives the reference answer."""
    monkeypatch.setattr(pool, "max_restarts", 0)
    env = ScienceWorldEnv(pool=pool)
    trace(env, PLAN[:2])
    runner = EnvRunner(lambda task: env.spawn(), max_steps=30, workers=2, retries=1)
    os.kill(pool.pids[0], signal.SIGKILL)
    [outcome] = runner.step([(env, PLAN[2])])
    runner.close()
    assert isinstance(outcome, Stepped) and row(outcome.result) == reference[3]
    assert runner.failures == 1 and runner.retried == 1
    assert "EnvError: ScienceWorld failed 1 times" in runner.errors[0] and "JVM" in runner.errors[0]
    assert row(outcome.env.step(PLAN[3])) == reference[4]
