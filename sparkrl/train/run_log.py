"""Metrics of a run: one JSON line per record in `metrics.jsonl`, mirrored to TensorBoard and,
when asked, to Weights & Biases (the logger most RL papers use; `pip install 'sparkrl[wandb]'`)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any


LOGGERS = ("tensorboard", "wandb", "none")
"""``tensorboard``: metrics.jsonl + TensorBoard; ``wandb``: both and W&B; ``none``: metrics.jsonl."""


class RunLog:
    """Append-only metrics log of one run folder.

    With ``logger="wandb"`` the run is a W&B run whose id is derived from the run folder, so a
    ``--resume`` continues the same W&B run; ``$WANDB_MODE=offline`` keeps it on disk (under
    ``<run>/wandb``) for a later ``wandb sync``. ``wandb_config`` is logged as the run's config.
    """

    def __init__(self, run_dir: Path, logger: str = "tensorboard", project: str = "sparkrl",
                 wandb_config: dict[str, Any] | None = None) -> None:
        if logger not in LOGGERS:
            raise ValueError(f"unknown logger {logger!r}; expected one of {', '.join(LOGGERS)}")
        self.path = run_dir / "metrics.jsonl"
        self._writer = None
        self._wandb: Any = None
        if logger in ("tensorboard", "wandb"):
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if logger == "wandb":
            try:
                import wandb
            except ImportError as error:
                raise ImportError("logger 'wandb' needs the wandb package: pip install 'sparkrl[wandb]'") from error
            folder = run_dir.resolve()
            run_id = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
            self._wandb = wandb.init(project=project, name=folder.name, id=run_id, resume="allow",
                                     dir=str(folder), config=wandb_config or {})

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (must hold `kind` and `iteration`); its finite scalars also go to
        TensorBoard and W&B when they are on."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
        step = int(record.get("iteration", 0))
        scalars = {f"{record['kind']}/{key}": value for key, value in _flatten(record).items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)}
        if self._writer is not None:
            for key, value in scalars.items():
                self._writer.add_scalar(key, value, step)
            self._writer.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def image(self, name: str, path: Path | None) -> None:
        """Attach a PNG (the learning curves) to the W&B run; the run folder has it already."""
        if self._wandb is not None and path is not None and path.exists():
            import wandb

            self._wandb.log({name: wandb.Image(str(path))})

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        return [r for r in rows if kind is None or r.get("kind") == kind]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
