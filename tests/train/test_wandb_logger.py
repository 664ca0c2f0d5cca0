"""`logger: wandb` mirrors the metrics and the learning curves to a W&B run (offline here)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from sparkrl.config import from_dict
from sparkrl.train.config import TrainConfig
from sparkrl.train.rl import train
from sparkrl.train.run_log import RunLog

pytest.importorskip("wandb")

CONFIG = {
    "iterations": 1, "tasks_per_iteration": 1, "threads": 1, "logger": "wandb",
    "rollout": {"num_leaves": 2, "num_roots": 1, "max_steps": 3, "max_new_tokens": 12},
    "cold_start": {"enabled": False}, "eval": {"splits": ["L0"], "games": 1, "max_new_tokens": 12},
}


def test_a_wandb_run_holds_the_metrics_and_the_learning_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    config = from_dict(TrainConfig, {**CONFIG, "run_dir": str(run_dir)})
    train(config, console=Console(file=io.StringIO()))
    [record_file] = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    data = record_file.read_bytes()
    for key in (b"iteration/success", b"eval/results/L0/success", b"learning_curves"):
        assert key in data, key
    assert (run_dir / "tensorboard").is_dir() and (run_dir / "metrics.jsonl").is_file()


def test_an_unknown_logger_is_refused():
    with pytest.raises(ValueError, match="unknown logger 'csv'"):
        RunLog(Path("."), logger="csv")
