import random

import pytest

from sparkrl.rollout.spark import RolloutConfig, RolloutStats, spark_rollout

from tests.envs.toy_envs import CounterEnv
from tests.scripted_response import Response


class ScriptedPolicy:
    """A seeded sampler over the admissible actions, exploring with a fixed rate."""

    def __init__(self, explore_rate: float, seed: int = 0, invalid_rate: float = 0.0):
        self.rng = random.Random(seed)
        self.explore_rate, self.invalid_rate = explore_rate, invalid_rate
        self.batch_sizes = []

    def encode(self, messages):
        return [ord(c) % 251 for c in messages[-1]["content"]]

    def sample(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=512):
        self.batch_sizes.append(len(prompts))
        out = []
        for prompt in prompts:
            action = self.rng.choice(["inc", "dec", "look"])
            mode = "explore" if self.rng.random() < self.explore_rate else "think"
            text = f"<{mode}>r</{mode}><action>{action}</action>"
            if self.rng.random() < self.invalid_rate:
                text = f"<action>{action}</action>"
            ids = [self.rng.randrange(100) for _ in range(3)]
            out.append(Response(list(prompt), ids, [-1.0] * 3, text, self.rng.random()))
        return out


def rollout(explore_rate, config, tasks=3, seed=0, invalid_rate=0.0):
    env = CounterEnv()
    policy = ScriptedPolicy(explore_rate, seed, invalid_rate)
    stats = RolloutStats()
    forests = spark_rollout(policy, env.tasks("train")[:tasks], lambda task: CounterEnv(),
                            config, random.Random(seed), stats)
    return forests, policy, stats


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("explore_rate", [0.0, 0.3, 1.0])
def test_tree_invariants(seed, explore_rate):
    config = RolloutConfig(num_leaves=8, num_roots=4, branch_factor=2, max_steps=12)
    forests, _, _ = rollout(explore_rate, config, seed=seed)
    for forest in forests:
        leaves = forest.leaves()
        assert 4 <= len(leaves) <= 8
        assert len(forest.root_ids) == 4
        for node in forest.nodes.values():
            if node.branched:
                assert not node.done, "forked from a finished parent"
                assert node.explore
                children = [forest.nodes[c] for c in node.children]
                assert len(children) == 2
                # children diverge at the next decision from an identical prompt (same env state and history)
                assert len({tuple(c.prompt_ids) for c in children}) == 1
            else:
                assert len(node.children) <= 1
        for leaf in leaves:
            path = forest.path(leaf)
            assert len(path) <= 12
            assert path[-1].done
            assert [n.depth for n in path] == list(range(len(path)))


def test_always_exploring_fills_the_budget_exactly():
    config = RolloutConfig(num_leaves=8, num_roots=4, branch_factor=3, max_steps=20)
    forests, _, stats = rollout(1.0, config, tasks=4)
    for forest in forests:
        # The counter games can end at the first step, so the budget is filled unless all roots die.
        assert len(forest.leaves()) <= 8
    assert any(len(f.leaves()) == 8 for f in forests)
    assert stats.forks == sum(len(f.leaves()) - 4 for f in forests)


def test_never_exploring_is_plain_independent_chains():
    config = RolloutConfig(num_leaves=8, num_roots=8, trigger="explore", max_steps=6)
    forests, _, _ = rollout(0.0, config)
    assert all(len(f.leaves()) == 8 and not any(n.children[1:] for n in f.nodes.values()) for f in forests)


def test_one_batched_policy_call_per_lock_step_across_tasks():
    config = RolloutConfig(num_leaves=4, num_roots=2, max_steps=5)
    forests, policy, stats = rollout(0.5, config, tasks=3)
    assert stats.policy_calls == len(policy.batch_sizes)
    assert policy.batch_sizes[0] == 6  # 3 tasks × 2 roots in the first call
    assert sum(policy.batch_sizes) == stats.env_steps == sum(len(f.nodes) for f in forests)


def test_invalid_responses_are_recorded_and_still_stepped():
    config = RolloutConfig(num_leaves=4, num_roots=4, max_steps=4)
    forests, _, _ = rollout(0.0, config, invalid_rate=1.0)
    nodes = [n for f in forests for n in f.nodes.values()]
    assert nodes and all(not n.valid and n.action in ("inc", "dec", "look") for n in nodes)


def test_padding_is_optional_and_flagged():
    config = RolloutConfig(num_leaves=8, num_roots=2, max_steps=3, pad_to_budget=True)
    forests, _, _ = rollout(0.0, config)
    for forest in forests:
        assert len(forest.training_leaves()) == 8
        assert len(forest.padded_leaf_ids) == 8 - len(forest.leaves())


def test_fixed_and_entropy_triggers_branch_without_explore_tags():
    for trigger in ("fixed", "entropy"):
        config = RolloutConfig(num_leaves=8, num_roots=2, max_steps=10, trigger=trigger,
                               trigger_probability=0.9)
        forests, _, stats = rollout(0.0, config, tasks=2)
        assert stats.forks > 0, trigger


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="num_roots: M=4 must be <= num_leaves N=2"):
        RolloutConfig(num_leaves=2, num_roots=4)
