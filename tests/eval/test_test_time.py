import pytest

from sparkrl.config import ConfigError
from sparkrl.eval.test_time import BranchingConfig, branching_evaluate, play_plan, vote_plan
from sparkrl.rollout.tree import StepNode, TaskForest

from tests.envs.toy_envs import CounterEnv
from tests.eval.policies import CounterPolicy


def build(paths):
    """A forest from leaf action sequences that share prefixes (a trie: shared prefixes are
    shared nodes, as in a Spark tree); leaves are created in the given order."""
    forest, ids = TaskForest("L0-0", "count", "L0"), {}
    for path in paths:
        parent = None
        for depth in range(len(path)):
            key = tuple(path[: depth + 1])
            if key not in ids:
                ids[key] = len(forest.nodes)
                forest.add(StepNode(ids[key], parent, depth, [1], [2], [-1.0], "obs", "", path[depth],
                                    "think", True, False))
            parent = ids[key]
    return forest


def test_step_wise_majority_follows_the_most_voted_branch():
    forest = build([["look", "inc", "inc"], ["inc", "inc", "look"], ["inc", "dec"], ["inc", "inc", "inc"]])
    # step 0: inc 3 votes vs look 1; step 1 among the inc leaves: inc 2 vs dec 1;
    # step 2: look 1 vs inc 1, a tie won by the earlier leaf
    assert vote_plan(forest) == ["inc", "inc", "look"]


def test_ties_go_to_the_earliest_leaf_and_actions_are_compared_normalised():
    assert vote_plan(build([["dec"], ["inc"]])) == ["dec"]
    assert vote_plan(build([["look"], ["Go  North"], ["go north"]])) == ["Go  North"]


def test_invalid_steps_vote_for_the_empty_action():
    assert vote_plan(build([[""], [""], ["inc"]])) == [""]


def test_play_plan_runs_on_a_fresh_env_until_done():
    env = CounterEnv()
    task = env.tasks("L0")[0]  # target 2
    assert play_plan(env, task, ["inc", "inc", "inc"], max_steps=10) == (True, 1.0, 2)
    assert play_plan(CounterEnv(), task, ["inc", "look"], max_steps=10) == (False, 0.0, 2)
    assert play_plan(CounterEnv(), task, ["look"] * 5, max_steps=3)[2] == 3


def test_branching_explores_the_budget_and_never_beats_the_oracle():
    tasks = CounterEnv().tasks("L0")[:4] + CounterEnv().tasks("L2")[:2]
    config = BranchingConfig(num_leaves=6, num_roots=1, branch_factor=2)
    results = branching_evaluate(CounterPolicy(inc_rate=0.4, explore_rate=1.0, seed=3), tasks,
                                 lambda task: CounterEnv(), config, max_steps=8, temperature=0.4,
                                 max_new_tokens=8, seed=0)
    assert set(results) == {"L0", "L2"} and results["L0"].games == 4 and results["L2"].games == 2
    for result in results.values():
        assert 1 < result.leaves_per_game <= 6 and result.forks_per_game > 0
        assert result.success <= result.oracle_success
        assert result.success_by_type == {"count": result.success}


def test_a_sure_policy_wins_by_vote():
    tasks = CounterEnv().tasks("L1")[:3]
    results = branching_evaluate(CounterPolicy(inc_rate=1.0, explore_rate=1.0), tasks, lambda task: CounterEnv(),
                                 BranchingConfig(num_leaves=4), max_steps=10, temperature=0.4, max_new_tokens=8,
                                 seed=0)
    assert results["L1"].success == 1.0 and results["L1"].score == 1.0


def test_tree_shape_is_validated():
    with pytest.raises(ConfigError, match="num_roots"):
        BranchingConfig(num_leaves=2, num_roots=3)
    with pytest.raises(ConfigError, match="branch_factor"):
        BranchingConfig(branch_factor=1)
