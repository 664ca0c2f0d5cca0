import statistics

import numpy as np
import pytest

from sparkrl.algos.advantages import ADVANTAGE_ESTIMATORS, compute_advantages, register_advantage

from tests.rollout.forests import small_forest

EPS = 1e-6


def by_node(rows, advantages):
    return {row.node_id: list(adv) for row, adv in zip(rows, advantages)}


def norm(values):
    mean, std = statistics.mean(values), statistics.stdev(values)
    return lambda x: (x - mean) / (std + EPS)


def test_spark_normalises_step_scores_over_all_step_copies():
    rows, adv = compute_advantages(small_forest(), "spark")
    got = by_node(rows, adv)
    # copies: node0 in leaf 2 (won) and leaf 4 (lost); node1 invalid & lost; node2 won; 3, 4 lost.
    f = norm([10, 0, -0.1, 10, 0, 0])
    assert got[0] == pytest.approx([f(10), f(0)])
    assert got[1] == pytest.approx([f(-0.1)])
    assert got[2] == pytest.approx([f(10)])
    assert got[3] == pytest.approx([f(0)]) and got[4] == pytest.approx([f(0)])


def test_grpo_broadcasts_the_episode_advantage():
    rows, adv = compute_advantages(small_forest(), "grpo")
    got = by_node(rows, adv)
    f = norm([-0.1, 10, 0])  # returns of leaves 1, 2, 4
    assert got[0] == pytest.approx([f(10), f(0)])
    assert got[1] == pytest.approx([f(-0.1)])
    assert got[3] == pytest.approx([f(0)]) and got[4] == pytest.approx([f(0)])


def test_gigpo_adds_anchor_group_step_term():
    rows, adv = compute_advantages(small_forest(), "gigpo")
    got = by_node(rows, adv)
    episode = norm([-0.1, 10, 0])
    roots = norm([9.5, 0, -0.1])  # anchor "o0": G(0|leaf2)=0.95*10, G(0|leaf4)=0, G(1)=-0.1
    after_fork = norm([10, 0])  # anchor "o1": nodes 2 and 3
    assert got[0] == pytest.approx([episode(10) + roots(9.5), episode(0) + roots(0)])
    assert got[1] == pytest.approx([episode(-0.1) + roots(-0.1)])
    assert got[2] == pytest.approx([episode(10) + after_fork(10)])
    assert got[3] == pytest.approx([episode(0) + after_fork(0)])
    assert got[4] == pytest.approx([episode(0)])  # anchor group of one → step term 0


def test_tree_credits_the_branch_against_its_siblings():
    rows, adv = compute_advantages(small_forest(), "tree")
    got = by_node(rows, adv)
    episode = norm([-0.1, 10, 0])
    scale = statistics.stdev([-0.1, 10, 0]) + EPS
    # V(0)=5, V(1)=-0.1 → roots' mean 2.45; V(2)=10, V(3)=0 → mean 5; node 4 has no sibling.
    assert got[0] == pytest.approx([episode(10) + 2.55 / scale, episode(0) + 2.55 / scale])
    assert got[1] == pytest.approx([episode(-0.1) - 2.55 / scale])
    assert got[2] == pytest.approx([episode(10) + 5 / scale])
    assert got[3] == pytest.approx([episode(0) - 5 / scale])
    assert got[4] == pytest.approx([episode(0)])


def test_all_equal_outcomes_give_zero_advantage():
    forest = small_forest()
    for node in forest.nodes.values():
        node.won, node.valid = False, True
    for name in ADVANTAGE_ESTIMATORS:
        _, adv = compute_advantages(forest, name)
        assert np.allclose(np.concatenate(adv), 0.0), name


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError):
        register_advantage("spark")(lambda f, r, c: [])
    with pytest.raises(KeyError, match="unknown estimator"):
        compute_advantages(small_forest(), "nope")
