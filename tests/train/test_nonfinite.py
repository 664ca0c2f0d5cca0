"""NaN/inf in the update: the step is skipped and logged, the run stops with a clear message
after ``optim.max_nonfinite_updates`` iterations in a row, and the last good state is kept."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from sparkrl.models.loading import load
from sparkrl.models.policy import Policy
from sparkrl.rollout.spark import RolloutConfig
from sparkrl.train import rl
from sparkrl.train.checkpoint import CheckpointError, latest_checkpoint, save_checkpoint
from sparkrl.train.config import ColdStartConfig, EvalConfig, OptimConfig, TrainConfig
from sparkrl.train.safeguards import NonFiniteGuard, TrainingDiverged


def config(run_dir, iterations=6, limit=2):
    return TrainConfig(
        iterations=iterations, tasks_per_iteration=1, save_every=1, threads=1, run_dir=str(run_dir),
        rollout=RolloutConfig(num_leaves=2, num_roots=2, max_steps=3, max_new_tokens=12),
        optim=OptimConfig(max_nonfinite_updates=limit),
        cold_start=ColdStartConfig(enabled=False), eval=EvalConfig(splits=()),
    )


def poison_from_update(monkeypatch, first_poisoned: int) -> None:
    """From the ``first_poisoned``-th update on, the policy's training log-probs are NaN."""
    original_logprobs, original_update = Policy.logprobs, rl.update_policy
    updates = {"count": 0}

    def logprobs(self, rows, temperature=1.0):
        values, entropy, mask = original_logprobs(self, rows, temperature)
        if self.model.training and updates["count"] >= first_poisoned:
            values = values + float("nan")
        return values, entropy, mask

    def update_policy(*args, **kwargs):
        updates["count"] += 1
        return original_update(*args, **kwargs)

    monkeypatch.setattr(Policy, "logprobs", logprobs)
    monkeypatch.setattr(rl, "update_policy", update_policy)


def test_nan_updates_are_skipped_logged_and_stop_the_run_keeping_the_last_good_state(tmp_path, monkeypatch):
    poison_from_update(monkeypatch, first_poisoned=2)
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"2 consecutive iterations \(2-3\) had a NaN/inf loss") as stop:
        rl.train(config(run_dir))
    assert "optim.max_nonfinite_updates = 2" in str(stop.value) and "--resume" in str(stop.value)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in records if r["kind"] == "iteration"]
    assert [r["iteration"] for r in iterations] == [1, 2, 3]
    assert [r["nonfinite_update"] for r in iterations] == [False, True, True]
    assert [r["nonfinite_streak"] for r in iterations] == [0, 1, 2]
    assert iterations[0]["skipped_steps"] == 0 and all(r["skipped_steps"] >= 1 for r in iterations[1:])
    assert iterations[0]["optimizer_steps"] >= 1 and all(r["optimizer_steps"] == 0 for r in iterations[1:])
    # skipped updates leave the weights untouched: the saved state is the last good one
    last_good = load_file(run_dir / "checkpoints" / "iter-000001" / "model" / "model.safetensors")
    at_stop = load_file(run_dir / "checkpoints" / "iter-000003" / "model" / "model.safetensors")
    assert last_good.keys() == at_stop.keys()
    assert all(torch.equal(last_good[k], at_stop[k]) for k in last_good)
    folder, state = latest_checkpoint(run_dir)
    assert folder.name == "iter-000003" and state["nonfinite_streak"] == 2


def test_an_isolated_nan_update_does_not_stop_the_run():
    guard = NonFiniteGuard(limit=2)
    flags = [guard.observe(i, {"skipped_steps": s}) for i, s in enumerate([0, 1, 0, 1, 0], start=1)]
    assert [f["nonfinite_streak"] for f in flags] == [0, 1, 0, 1, 0] and not guard.tripped
    guard.observe(6, {"skipped_steps": 1})
    guard.observe(7, {"skipped_steps": 2})
    assert guard.tripped and "(6-7)" in guard.message(7, None, "runs/x")


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    policy = load("tiny", threads=1)
    save_checkpoint(tmp_path, 1, policy.model, policy.tokenizer, {"iteration": 1})
    with torch.no_grad():
        next(policy.model.parameters()).view(-1)[0] = float("inf")
    with pytest.raises(CheckpointError, match="refusing to checkpoint non-finite weights"):
        save_checkpoint(tmp_path, 2, policy.model, policy.tokenizer, {"iteration": 2})
    assert not (tmp_path / "checkpoints" / "iter-000002").exists()
    assert latest_checkpoint(tmp_path)[0].name == "iter-000001"
