"""Learning-curve PNGs (matplotlib, Agg backend: no display needed).

``plot_run`` draws one run folder's curves from its ``metrics.jsonl`` into
``learning_curves.png`` (the trainer refreshes it at each evaluation); ``plot_curves`` and
``plot_final`` draw the comparison figures of ``sparkrl compare``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkrl.eval.curves import read_metrics
from sparkrl.eval.stats import Interval

RUN_PLOT = "learning_curves.png"


@dataclass(frozen=True)
class Curve:
    """One labelled line, with an optional band (e.g. the seeds' min and max)."""

    x: Sequence[float]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> Path:
    """Lay out, write through a temporary file (a reader never sees half a PNG) and close."""
    try:
        figure.tight_layout()
        staging = path.with_name(f".{path.name}.tmp")
        figure.savefig(staging, dpi=110, bbox_inches="tight", format="png")
        staging.replace(path)
        return path
    finally:
        _pyplot().close(figure)


def plot_run(run_dir: str | Path) -> Path | None:
    """Draw ``run_dir``'s training success (with every evaluation per split), return, explore
    ratio and generated tokens per iteration into ``learning_curves.png``; None if nothing has
    been logged yet."""
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir / "metrics.jsonl")
    evaluations = metrics.evaluation_success()
    if not metrics.iterations and not evaluations:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    iterations = metrics.iteration_numbers()
    panels = (
        (axes[0][0], "success", "success rate"),
        (axes[0][1], "return", "mean return"),
        (axes[1][0], "explore_ratio", "explore-trigger ratio"),
        (axes[1][1], "generated_tokens", "generated tokens / iteration"),
    )
    for axis, key, title in panels:
        if iterations:
            axis.plot(iterations, metrics.series(key), marker=".", label="training rollouts")
        axis.set_title(title)
        axis.set_xlabel("iteration")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    success_axis = axes[0][0]
    for split, points in sorted(evaluations.items()):
        success_axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", linestyle="--",
                          label=f"eval {split}")
    success_axis.set_ylim(-0.02, 1.02)
    success_axis.legend(fontsize="small")
    figure.suptitle(run_dir.name)
    return _save(figure, run_dir / RUN_PLOT)


def plot_curves(path: str | Path, curves: Mapping[str, Curve], xlabel: str, ylabel: str, title: str) -> Path:
    """One line per label (band shaded where given) into the PNG ``path``."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, curve in curves.items():
        (line,) = axis.plot(curve.x, curve.y, marker=".", label=label)
        if curve.low is not None and curve.high is not None:
            axis.fill_between(curve.x, curve.low, curve.high, color=line.get_color(), alpha=0.15)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(figure, Path(path))


def plot_final(path: str | Path, finals: Mapping[str, Mapping[str, Interval]], title: str) -> Path:
    """Grouped bars: final success per split (groups) and algorithm (bars), with 95% CI whiskers."""
    plt = _pyplot()
    splits = sorted({split for per_split in finals.values() for split in per_split})
    figure, axis = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / max(len(finals), 1)
    for index, (algo, per_split) in enumerate(finals.items()):
        positions = [s + (index - (len(finals) - 1) / 2) * width for s in range(len(splits))]
        means = [per_split[s].mean if s in per_split else math.nan for s in splits]
        errors = [0.0 if s not in per_split or math.isnan(per_split[s].half_width) else per_split[s].half_width
                  for s in splits]
        axis.bar(positions, means, width, yerr=errors, capsize=3, label=algo)
    axis.set_xticks(range(len(splits)), splits)
    axis.set_ylabel("success rate")
    axis.set_ylim(0, 1.05)
    axis.set_title(title)
    axis.grid(alpha=0.3, axis="y")
    axis.legend()
    return _save(figure, Path(path))
