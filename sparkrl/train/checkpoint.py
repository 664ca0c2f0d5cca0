"""Atomic training checkpoints.

A checkpoint is a folder ``checkpoints/iter-NNNNNN`` holding the model (HF format), and
``trainer.pt`` with the optimizer, every RNG state and the loop's position. It is written to a
temporary folder, fsynced, then renamed into place, so a kill at any moment leaves either the
previous checkpoint or the new one — never half of one. ``latest_checkpoint`` skips folders
whose files are missing or unreadable and falls back to the one before.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

TRAINER_FILE = "trainer.pt"


def rng_state(rng: random.Random) -> dict[str, Any]:
    return {
        "python": rng.getstate(),
        "global_python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def restore_rng_state(rng: random.Random, state: dict[str, Any]) -> None:
    rng.setstate(state["python"])
    random.setstate(state["global_python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def save_checkpoint(run_dir: Path, iteration: int, model: Any, tokenizer: Any, trainer_state: dict[str, Any]) -> Path:
    """Write checkpoint ``iteration`` atomically; returns its folder."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"iter-{iteration:06d}"
    staging = root / f".iter-{iteration:06d}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging / "model")
    tokenizer.save_pretrained(staging / "model")
    torch.save(trainer_state, staging / TRAINER_FILE)
    _fsync_tree(staging)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    return final


def _readable(folder: Path) -> dict[str, Any] | None:
    try:
        state = torch.load(folder / TRAINER_FILE, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 — any unreadable file means: not a usable checkpoint
        return None
    has_weights = any((folder / "model").glob("*.safetensors"))
    return state if has_weights and isinstance(state, dict) else None


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint and its trainer state, or None. Broken ones are skipped
    (their names are returned in ``state["skipped"]`` so the caller can report them)."""
    root = run_dir / "checkpoints"
    skipped = []
    for folder in sorted(root.glob("iter-*"), reverse=True) if root.exists() else []:
        state = _readable(folder)
        if state is not None:
            state["skipped"] = skipped
            return folder, state
        skipped.append(folder.name)
    return None
