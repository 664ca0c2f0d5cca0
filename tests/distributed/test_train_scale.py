"""`sparkrl train` with env workers and LoRA: one short run, its adapter checkpoint, a resume."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("peft")

from sparkrl.rollout.spark import RolloutConfig  # noqa: E402
from sparkrl.train.config import ColdStartConfig, EvalConfig, TrainConfig  # noqa: E402
from sparkrl.train.rl import train  # noqa: E402


def scaled_config(run_dir, iterations):
    return TrainConfig(
        iterations=iterations, tasks_per_iteration=2, save_every=1, threads=1, run_dir=str(run_dir),
        workers=2, lora_r=4, lora_alpha=8.0, engine="hf",
        rollout=RolloutConfig(num_leaves=4, num_roots=2, max_steps=4, max_new_tokens=16),
        cold_start=ColdStartConfig(trajectories=4, epochs=1),
        eval=EvalConfig(splits=(), games=1),
    )


def test_train_with_ray_workers_and_lora_saves_adapters_and_resumes(tmp_path):
    run_dir = train(scaled_config(tmp_path / "run", iterations=1))
    checkpoint = run_dir / "checkpoints" / "iter-000001" / "model"
    assert (checkpoint / "adapter_model.safetensors").is_file()
    assert not (checkpoint / "model.safetensors").exists()  # adapters only, no second model copy

    train(scaled_config(run_dir, iterations=2), resume=True)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in records if r["kind"] == "iteration"]
    assert [r["iteration"] for r in iterations] == [1, 2]
    assert all(r["env_steps"] > 0 and r["rows"] > 0 for r in iterations)
