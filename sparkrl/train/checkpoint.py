"""Atomic training checkpoints.

A checkpoint is a folder ``checkpoints/iter-NNNNNN`` holding the model (HF format),
``trainer.pt`` (optimizer, scheduler, every RNG state, the loop's position, the metrics so far)
and ``manifest.json`` (size and SHA-256 of every other file, written last). It is written to a
temporary folder, fsynced, then renamed into place (and the parent folder fsynced), so a kill at
any moment leaves either the previous checkpoint or the new one — never half of one.
``latest_checkpoint`` verifies the manifest and skips a folder whose files are missing,
truncated, altered or unreadable, saying why, and falls back to the one before.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

TRAINER_FILE = "trainer.pt"
MANIFEST_FILE = "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written (the state is not worth keeping) or read."""


def rng_state(rng: random.Random) -> dict[str, Any]:
    """Every random state the run draws from: the loop's ``rng``, Python's, NumPy's, torch's
    CPU generator (sampling and dropout) and, when present, each CUDA device's."""
    return {
        "python": rng.getstate(),
        "global_python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(rng: random.Random, state: dict[str, Any]) -> None:
    """Put back what ``rng_state`` saved."""
    rng.setstate(state["python"])
    random.setstate(state["global_python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        # files first, then their folders (deepest first), so every entry is durable
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _manifest(folder: Path) -> dict[str, list]:
    return {
        str(path.relative_to(folder)): [path.stat().st_size, _digest(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }


def _check_finite(model: Any) -> None:
    bad = [name for name, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError(
            f"refusing to checkpoint non-finite weights ({len(bad)} tensors, e.g. {bad[0]}); "
            "the previous checkpoint is kept"
        )


def save_checkpoint(run_dir: Path, iteration: int, model: Any, tokenizer: Any, trainer_state: dict[str, Any]) -> Path:
    """Write checkpoint ``iteration`` atomically; returns its folder. Non-finite weights raise
    ``CheckpointError`` before anything is written."""
    _check_finite(model)
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"iter-{iteration:06d}"
    staging = root / f".iter-{iteration:06d}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging / "model")
    tokenizer.save_pretrained(staging / "model")
    torch.save(trainer_state, staging / TRAINER_FILE)
    (staging / MANIFEST_FILE).write_text(json.dumps(_manifest(staging), indent=1), encoding="utf-8")
    _fsync_tree(staging)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    _fsync_dir(root)
    return final


def check_checkpoint(folder: Path) -> dict[str, Any]:
    """The trainer state of checkpoint ``folder``; ``CheckpointError`` saying what is wrong when
    a file is missing, truncated, altered or unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{folder.name}: no readable {MANIFEST_FILE} ({error})") from None
    for name, (size, digest) in sorted(manifest.items()):
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{folder.name}: {name} is missing")
        if path.stat().st_size != size:
            raise CheckpointError(f"{folder.name}: {name} has {path.stat().st_size} bytes, expected {size}")
        if _digest(path) != digest:
            raise CheckpointError(f"{folder.name}: {name} does not match its SHA-256 (corrupt)")
    try:
        state = torch.load(folder / TRAINER_FILE, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 — any unpickling failure means: unusable
        raise CheckpointError(f"{folder.name}: {TRAINER_FILE} is unreadable ({error})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{folder.name}: {TRAINER_FILE} holds no trainer state")
    return state


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest usable checkpoint and its trainer state, or None. Broken ones are skipped;
    ``state["skipped"]`` lists why each newer one was unusable, for the caller to report."""
    root = run_dir / "checkpoints"
    skipped = []
    for folder in sorted(root.glob("iter-*"), reverse=True) if root.exists() else []:
        try:
            state = check_checkpoint(folder)
        except CheckpointError as error:
            skipped.append(str(error))
            continue
        state["skipped"] = skipped
        return folder, state
    return None
