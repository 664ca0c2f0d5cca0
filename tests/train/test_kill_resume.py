"""Crash safety of `sparkrl train`, for real: a training process killed with SIGKILL in the middle
of an iteration is resumed with `--resume` and its metrics equal those of an uninterrupted run
with the same seed; a corrupt or truncated newest checkpoint is reported and the previous one
used, again reproducing the uninterrupted run."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from sparkrl.config import load_yaml
from sparkrl.train.checkpoint import MANIFEST_FILE, latest_checkpoint
from sparkrl.train.config import TrainConfig
from sparkrl.train.rl import train

ITERATIONS = 3
# A branching trigger (random forks), a warmup schedule and KL to the reference: every piece
# of state a resume must restore is in play. No cold start and no eval keep it under a minute.
CONFIG = f"""\
iterations: {ITERATIONS}
tasks_per_iteration: 2
save_every: 1
threads: 1
rollout:
  num_leaves: 4
  num_roots: 2
  max_steps: 4
  max_new_tokens: 12
  trigger: fixed
  trigger_probability: 0.5
optim:
  warmup_iterations: 2
cold_start:
  enabled: false
eval:
  splits: []
"""
WALL_TIME = {"rollout_seconds", "generation_seconds", "env_seconds", "update_seconds"}
STARTUP_LIMIT_S = 240


def sparkrl(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-m", "sparkrl", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=STARTUP_LIMIT_S)
    assert process.returncode == 0, output
    return output


def iteration_records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in record.items() if k not in WALL_TIME}
            for record in map(json.loads, lines) if record["kind"] == "iteration"]


def wait_for(predicate, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not predicate():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()[0]}"
        assert time.monotonic() < deadline, f"no {what} after {STARTUP_LIMIT_S} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A `sparkrl train` process killed with SIGKILL during iteration 2 and resumed with
    `--resume` as soon as it is dead, and (meanwhile, in this process) the same run uninterrupted."""
    root = tmp_path_factory.mktemp("kill-resume")
    config_file = root / "tiny.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    whole, killed = root / "whole", root / "killed"
    victim = sparkrl("--config", str(config_file), "--run-dir", str(killed))
    checkpoint = killed / "checkpoints" / "iter-000001" / MANIFEST_FILE
    wait_for(checkpoint.exists, victim, "checkpoint 1")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    done_before_kill = len(iteration_records(killed))
    resuming = sparkrl("--resume", str(killed))
    config = dataclasses.replace(load_yaml(TrainConfig, config_file), run_dir=str(whole))
    train(config, console=Console(file=io.StringIO()))
    resumed = finish(resuming)
    return {"whole": whole, "killed": killed, "done_before_kill": done_before_kill, "resumed_output": resumed}


def test_a_run_killed_mid_iteration_resumes_to_the_same_metrics(runs):
    assert runs["done_before_kill"] < ITERATIONS, "the kill came after the run had finished"
    assert "resuming" in runs["resumed_output"] and "from iter-00000" in runs["resumed_output"]
    expected = iteration_records(runs["whole"])
    assert [r["iteration"] for r in expected] == list(range(1, ITERATIONS + 1))
    assert sum(r["branches"] for r in expected) > 0, "no forks: the test would not cover the rollout rng"
    assert iteration_records(runs["killed"]) == expected
    assert (runs["killed"] / "summary.json").exists()


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(runs, tmp_path):
    run_dir = tmp_path / "run"
    subprocess.run(["cp", "-r", str(runs["whole"]), str(run_dir)], check=True)
    checkpoints = run_dir / "checkpoints"
    weights = checkpoints / "iter-000003" / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit-pattern deep in the weights
    weights.write_bytes(bytes(data))
    trainer = checkpoints / "iter-000002" / "trainer.pt"
    trainer.write_bytes(trainer.read_bytes()[: trainer.stat().st_size // 3])  # a torn write
    (checkpoints / ".iter-000004.tmp").mkdir()  # a staging folder left by a kill during a save

    folder, state = latest_checkpoint(run_dir)
    assert folder.name == "iter-000001" and state["iteration"] == 1
    assert state["skipped"][0] == "iter-000003: model/model.safetensors does not match its SHA-256 (corrupt)"
    assert re.fullmatch(rf"iter-000002: trainer\.pt has {trainer.stat().st_size} bytes, expected \d+",
                        state["skipped"][1])

    output = io.StringIO()
    config = load_yaml(TrainConfig, run_dir / "config.yaml")
    config = dataclasses.replace(config, run_dir=str(run_dir))
    train(config, resume=True, console=Console(file=output, width=200))
    log = output.getvalue()
    assert "unusable checkpoint, falling back to the previous one: iter-000003: model/model.safetensors" in log
    assert "unusable checkpoint, falling back to the previous one: iter-000002: trainer.pt" in log
    assert "resuming" in log and "from iter-000001" in log
    assert iteration_records(run_dir) == iteration_records(runs["whole"])
