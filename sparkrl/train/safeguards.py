"""What keeps an RL run from silently going wrong: the learning-rate warmup (whose state the
checkpoint carries), the guard that stops a run after repeated NaN/inf updates, and the atomic
rewrite of ``metrics.jsonl`` when a run resumes from a checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch


class TrainingDiverged(RuntimeError):
    """Too many consecutive iterations had a non-finite loss or gradient."""


def warmup_scheduler(optimizer: torch.optim.Optimizer, warmup_iterations: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup stepped once per iteration: iteration i (from 0) trains at
    ``lr · min(1, (i + 1) / (warmup_iterations + 1))``; 0 keeps the lr constant."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / (warmup_iterations + 1))
    )


class NonFiniteGuard:
    """Counts consecutive iterations whose update skipped a step for a NaN/inf loss or gradient
    (the learner never applies such a step) and trips after ``limit`` of them."""

    def __init__(self, limit: int, streak: int = 0) -> None:
        self.limit = limit
        self.streak = streak
        self.first_bad = 0

    def observe(self, iteration: int, update: dict[str, float]) -> dict[str, Any]:
        """Account for ``iteration``'s update; the fields to add to its metrics record."""
        if update.get("skipped_steps", 0) > 0:
            if self.streak == 0:
                self.first_bad = iteration
            self.streak += 1
        else:
            self.streak = 0
        return {"nonfinite_update": self.streak > 0, "nonfinite_streak": self.streak}

    @property
    def tripped(self) -> bool:
        return self.streak >= self.limit

    def message(self, iteration: int, checkpoint: Path | None, run_dir: Path) -> str:
        """Why the run stops and what to do about it."""
        first = self.first_bad or iteration - self.streak + 1
        kept = (f"the weights of the last finite update are saved in {checkpoint}" if checkpoint
                else "no checkpoint could be written")
        return (
            f"stopping: {self.streak} consecutive iterations ({first}-{iteration}) had a NaN/inf loss "
            f"or gradient, so their updates were skipped (optim.max_nonfinite_updates = {self.limit}); "
            f"{kept}. Lower optim.lr or check the inputs, then `sparkrl train --resume {run_dir}`."
        )


def restore_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``path`` (metrics.jsonl) by ``records`` atomically: the records written after the
    checkpoint a run resumes from describe iterations that will be run again."""
    staging = path.with_name(path.name + ".tmp")
    with open(staging, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)
