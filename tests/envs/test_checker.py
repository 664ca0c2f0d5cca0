from sparkrl.envs.checker import check_env

from tests.envs.toy_envs import CounterEnv, LeakyForkEnv


def test_a_conforming_env_passes_with_expert_wins():
    report = check_env(CounterEnv(), games=5, seed=1)
    assert report.ok, [str(f) for f in report.failures]
    assert report.games == 20 and report.forks >= 20
    assert report.expert_wins == report.expert_games == 20
    assert "PASS" in report.summary()


def test_a_fork_that_shares_state_is_caught_with_game_and_step():
    report = check_env(LeakyForkEnv(), games=3, seed=0, expert=False)
    assert not report.ok
    failure = report.failures[0]
    assert failure.task_id.startswith("train-") and failure.step is not None
    assert "FAIL" in report.summary()


def test_overlapping_splits_are_reported():
    class Overlapping(CounterEnv):
        def tasks(self, split):
            return [t.__class__(t.env, "same-id", split, t.task_type) for t in super().tasks(split)[:1]]

    report = check_env(Overlapping(), games=1, expert=False)
    assert any("in both" in f.message for f in report.failures)
