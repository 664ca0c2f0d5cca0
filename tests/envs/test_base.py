import pytest

from sparkrl.envs import Task, make, available
from sparkrl.envs.base import UNKNOWN_ACTION_TEXT, replay_fork

from tests.envs.toy_envs import CounterEnv


def test_step_before_reset_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before reset"):
        CounterEnv().step("inc")


def test_reset_rejects_a_task_of_another_env():
    with pytest.raises(ValueError, match="belongs to env"):
        CounterEnv().reset(Task("other", "x", "train", "t"))


def test_truncation_at_max_steps_and_no_step_after_done():
    env = CounterEnv(max_steps=3)
    env.reset(env.tasks("train")[0])
    results = [env.step("look") for _ in range(3)]
    assert [r.truncated for r in results] == [False, False, True]
    assert not any(r.terminated for r in results)
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step("look")


def test_unknown_action_answers_nothing_happens():
    env = CounterEnv()
    env.reset(env.tasks("L0")[0])
    result = env.step("fly to the moon")
    assert result.observation.text == UNKNOWN_ACTION_TEXT
    assert not result.done and result.reward == 0


def test_replay_fork_is_independent_and_keeps_history():
    env = CounterEnv()
    env.reset(env.tasks("train")[3])
    env.step("dec")
    clone = replay_fork(env)
    assert clone.actions == ["dec"] and clone.value == -1
    clone.step("dec")
    assert env.value == -1 and env.actions == ["dec"]


def test_invalid_max_steps_is_rejected():
    with pytest.raises(ValueError, match="max_steps"):
        CounterEnv(max_steps=0)


def test_registry_knows_builtin_envs_and_rejects_unknown_names():
    assert {"household", "scienceworld", "alfworld", "webshop"} <= set(available())
    with pytest.raises(KeyError, match="unknown env"):
        make("no-such-env")
