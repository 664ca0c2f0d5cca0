"""The learner on real forests: shared step rows equal the duplicated rows in loss and gradient."""

from __future__ import annotations

import copy
import dataclasses
import random

import pytest
import torch

from sparkrl.algos.advantages import AdvantageConfig
from sparkrl.algos.losses import LossConfig
from sparkrl.envs import make
from sparkrl.models import load
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, spark_rollout
from sparkrl.train.learner import accumulate_gradients, attach_reference_logprobs, build_rows, micro_batches

LOSS = LossConfig(clip_eps=0.2, dual_clip=3.0, kl_coef=0.01, entropy_coef=0.001)


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return load("tiny", threads=1)


@pytest.fixture(scope="module")
def rollout(policy):
    """Two household forests that branch at every step (fixed trigger, p = 1), with one leaf
    per forest marked won and the behaviour log-probs perturbed so advantages are non-zero and
    PPO ratios leave the clip range."""
    env = make("household")
    config = RolloutConfig(num_leaves=4, num_roots=2, branch_factor=2, max_steps=3, trigger="fixed",
                           trigger_probability=1.0, max_new_tokens=6)
    stats = RolloutStats()
    engine_before = dataclasses.replace(policy.stats)
    with torch.no_grad():
        result = spark_rollout(policy, env.tasks("train")[:2], lambda task: env.spawn(), config,
                               random.Random(0), stats)
    noise = random.Random(1)
    for forest in result:
        forest.nodes[forest.leaves()[0]].won = True
        for node in forest.nodes.values():
            node.logprobs = [value + noise.uniform(-0.5, 0.5) for value in node.logprobs]
    return result, stats, policy.stats.prefill_tokens - engine_before.prefill_tokens


@pytest.fixture(scope="module")
def forests(rollout):
    return rollout[0]


def test_rollout_prefill_tokens_are_what_the_engine_prefilled(rollout):
    _, stats, engine_prefill = rollout
    assert stats.prefill_tokens == engine_prefill
    # Roots share their first prompt and fork children their parent's next prompt.
    assert 0 < stats.prefill_tokens < stats.prompt_tokens


def test_shared_rows_equal_duplicated_rows_in_loss_and_gradients(policy, forests):
    shared_rows = build_rows(forests, "spark", AdvantageConfig())
    duplicated_rows = build_rows(forests, "spark", AdvantageConfig(), share_steps=False)
    assert max(r.multiplicity for r in shared_rows) > 1
    assert len(duplicated_rows) == sum(r.multiplicity for r in shared_rows) > len(shared_rows)
    assert all(r.multiplicity == 1 for r in duplicated_rows)

    reference = copy.deepcopy(policy)
    with torch.no_grad():
        for parameter in reference.model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    results = []
    for rows in (shared_rows, duplicated_rows):
        attach_reference_logprobs(reference, rows, 1.0, max_tokens=4096)
        model = copy.deepcopy(policy)
        metrics = accumulate_gradients(model, rows, LOSS, temperature=1.0, micro_batch_tokens=2048)
        assert metrics is not None
        results.append((metrics, {name: p.grad.clone() for name, p in model.model.named_parameters()}))
    (shared_metrics, shared_grads), (dup_metrics, dup_grads) = results
    assert shared_metrics["clip_fraction"] > 0 and abs(dup_metrics["loss"]) > 1e-4
    assert abs(shared_metrics["loss"] - dup_metrics["loss"]) <= 1e-5 * abs(dup_metrics["loss"])
    for name, grad in dup_grads.items():
        error = float((shared_grads[name] - grad).norm() / grad.norm().clamp(min=1e-12))
        assert error <= 1e-5, (name, error)


def test_micro_batches_are_length_buckets_under_the_token_budget(forests):
    rows = build_rows(forests, "spark", AdvantageConfig(), share_steps=False)
    random.Random(0).shuffle(rows)
    chunks = micro_batches(rows, max_tokens=2048)
    assert sorted(id(r) for chunk in chunks for r in chunk) == sorted(id(r) for r in rows)
    lengths = [r.length for chunk in chunks for r in chunk]
    assert lengths == sorted(lengths)
    assert all(len(chunk) == 1 or len(chunk) * max(r.length for r in chunk) <= 2048 for chunk in chunks)
