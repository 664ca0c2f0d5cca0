import math
from itertools import combinations

import pytest

from sparkrl.eval.passk import mean_pass_at_k, pass_at_k, sample_games, wins_per_game

from tests.envs.toy_envs import CounterEnv
from tests.eval.policies import CounterPolicy


@pytest.mark.parametrize("n", range(1, 8))
def test_estimator_equals_the_share_of_k_subsets_holding_a_win(n):
    for c in range(n + 1):
        outcomes = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(combinations(outcomes, k))
            expected = sum(any(s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_large_n_stays_finite_and_pass_at_1_is_the_win_share():
    assert pass_at_k(1000, 7, 1) == pytest.approx(0.007)
    assert 0 < pass_at_k(1000, 1, 500) <= 1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="k=5"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="wins"):
        pass_at_k(4, 5, 1)


def test_mean_over_games():
    assert mean_pass_at_k([0, 2, 4], 4, [1, 4]) == {1: pytest.approx(0.5), 4: pytest.approx(2 / 3)}


def test_sample_games_plays_n_independent_chains_per_game():
    tasks = CounterEnv().tasks("L0")[:3]
    forests = sample_games(CounterPolicy(inc_rate=0.6, explore_rate=1.0, seed=1), tasks, lambda task: CounterEnv(),
                           samples=5, max_steps=6, temperature=0.4, max_new_tokens=8, seed=0)
    assert [len(f.leaves()) for f in forests] == [5, 5, 5]
    assert all(len(f.root_ids) == 5 for f in forests)  # no branching even though every step explores
    wins = wins_per_game(forests)
    assert all(0 <= w <= 5 for w in wins) and sum(wins) > 0
