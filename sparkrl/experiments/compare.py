"""`sparkrl compare`: algorithms at an equal budget, several seeds each, one report.

Every run shares the base config's budget — N leaves per task, tasks per iteration,
iterations — and the same initial model: the cold-start SFT is trained once, with the base
config's seed, and every run starts from that folder (cold start off in the runs themselves);
only the algorithm (``apply_algo``) and the RL seed differ. Runs live in
``<runs_root>/compare-<name>/<algo>-seed<k>/``: a run with ``summary.json`` is reused, one with a
``metrics.jsonl`` is resumed from its newest checkpoint, and a run whose folder holds a
different config is refused rather than mixed in.

The statistics (``summarise``) read only the run folders, so a report can be rebuilt at any
time from whatever has finished.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from sparkrl.config import ConfigError, load_yaml, to_dict
from sparkrl.eval.curves import RunMetrics, budget_to_reach, mean_curve, read_metrics, smooth
from sparkrl.eval.stats import Interval, difference_ci, mean_ci, paired_difference_ci, wilson_interval
from sparkrl.train.config import ALGOS, TrainConfig, apply_algo


@dataclass(frozen=True)
class ComparePlan:
    """Which runs a comparison holds and where."""

    name: str
    base: TrainConfig
    algos: tuple[str, ...] = ("spark", "grpo", "fixed", "entropy")
    seeds: tuple[int, ...] = (0, 1, 2)
    runs_root: str = "runs"
    reference: str = "grpo"
    smoothing: int = 3

    def __post_init__(self) -> None:
        unknown = [algo for algo in self.algos if algo not in ALGOS]
        if unknown:
            raise ConfigError(f"algos: {unknown[0]!r} is not an algorithm; choose from {', '.join(ALGOS)}")
        if len(set(self.algos)) != len(self.algos) or not self.algos:
            raise ConfigError(f"algos: give each algorithm once, got {list(self.algos)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ConfigError(f"seeds: need distinct non-negative seeds, got {list(self.seeds)}")
        if self.smoothing < 1:
            raise ConfigError(f"smoothing: window must be >= 1, got {self.smoothing}")
        if self.reference not in self.algos:
            raise ConfigError(f"reference: {self.reference!r} is not among the algos {', '.join(self.algos)}")

    @property
    def folder(self) -> Path:
        return Path(self.runs_root) / f"compare-{self.name}"

    def run_dir(self, algo: str, seed: int) -> Path:
        return self.folder / f"{algo}-seed{seed}"


def run_config(plan: ComparePlan, algo: str, seed: int, initial_model: str | None) -> TrainConfig:
    """The base config switched to ``algo`` and ``seed``, starting from ``initial_model`` (the
    shared cold-start folder; None = the base model without a cold start)."""
    config = dataclasses.replace(plan.base, seed=seed, run_dir=str(plan.run_dir(algo, seed)))
    if initial_model is not None:
        config = dataclasses.replace(config, model=initial_model,
                                     cold_start=dataclasses.replace(config.cold_start, enabled=False))
    return apply_algo(config, algo)


def shared_initial_model(base: TrainConfig, console: Console) -> str | None:
    """Train (or reuse from the cache) the base config's cold-start SFT, with the base seed, and
    return its model folder; None when the base config has no cold start."""
    from sparkrl.train.cold_start import cached_sft_dir, cold_start_config, initial_policy
    from sparkrl.train.sft import MODEL_DIR

    if not base.cold_start.enabled:
        return None
    initial_policy(base, console)
    return str(cached_sft_dir(cold_start_config(base)) / MODEL_DIR)


# Where the folder is and how many threads run it do not change a run's result.
_NOT_IDENTITY = ("run_dir", "threads")


def _check_same_config(run_dir: Path, wanted: TrainConfig) -> None:
    existing = to_dict(load_yaml(TrainConfig, run_dir / "config.yaml"))
    for key, value in to_dict(wanted).items():
        if key not in _NOT_IDENTITY and existing.get(key) != value:
            raise ConfigError(
                f"{run_dir}/config.yaml: {key} is {existing.get(key)!r}, this comparison wants {value!r}; "
                "choose another --name or delete that run folder"
            )


def ensure_run(config: TrainConfig, command: str, console: Console) -> str:
    """Make sure ``config``'s run has finished: reuse it, resume it or start it. Returns what
    was done: ``"reused"``, ``"resumed"`` or ``"trained"``."""
    from sparkrl.train.rl import train

    run_dir = Path(config.run_dir)
    started = (run_dir / "config.yaml").exists()
    if started:
        _check_same_config(run_dir, config)
    if (run_dir / "summary.json").exists():
        console.print(f"[green]reusing[/green] finished run {run_dir}")
        return "reused"
    resume = started and (run_dir / "metrics.jsonl").exists()
    console.print(f"[bold]{'resuming' if resume else 'training'}[/bold] {run_dir}")
    train(config, resume=resume, command=command, console=console)
    return "resumed" if resume else "trained"


def run_all(plan: ComparePlan, command: str, console: Console) -> dict[str, str]:
    """Run every (seed, algo) of ``plan`` in seed-major order, so that an interrupted
    comparison already holds complete seeds; returns what was done per run folder."""
    initial_model = shared_initial_model(plan.base, console)
    done = {}
    for seed in plan.seeds:
        for algo in plan.algos:
            config = run_config(plan, algo, seed, initial_model)
            done[str(plan.run_dir(algo, seed))] = ensure_run(config, f"{command}  # {algo} seed {seed}", console)
    return done


@dataclass
class AlgoSummary:
    """Everything the report says about one algorithm, over its finished seeds."""

    algo: str
    seeds: list[int]
    final: dict[str, Interval]
    final_values: dict[str, list[float]]
    iterations: list[int]
    trajectories: list[float]
    tokens: list[float]
    success_smoothed: list[float]
    success_low: list[float]
    success_high: list[float]
    eval_points: list[tuple[float, float]]
    game_wins: dict[str, dict[str, bool]] = dataclasses.field(default_factory=dict)
    """Split -> ``"seed:task_id"`` -> won, over every seed's final evaluation (for pooled and
    game-paired figures: every algorithm plays the same games with the same seeds)."""

    @property
    def total_trajectories(self) -> float:
        return self.trajectories[-1] if self.trajectories else 0.0

    @property
    def total_tokens(self) -> float:
        return self.tokens[-1] if self.tokens else 0.0


OVERALL = "mean"
"""Key of the per-seed mean over splits in ``AlgoSummary.final``."""


def summarise_algo(algo: str, runs: dict[int, RunMetrics], smoothing: int) -> AlgoSummary:
    """Seed means of ``algo``'s finished runs: final evaluation per split (and their mean) with
    95% t intervals, and the smoothed training-success curve against cumulative budget."""
    finals = {seed: metrics.final_evaluation() or {} for seed, metrics in runs.items()}
    splits = sorted({split for per_seed in finals.values() for split in per_seed})
    values: dict[str, list[float]] = {
        split: [finals[seed][split]["success"] for seed in runs if split in finals[seed]] for split in splits
    }
    values[OVERALL] = [sum(r["success"] for r in per_seed.values()) / len(per_seed)
                       for per_seed in finals.values() if per_seed]
    smoothed = [smooth(metrics.series("success"), smoothing) for metrics in runs.values()]
    length = min((len(curve) for curve in smoothed), default=0)
    return AlgoSummary(
        algo=algo,
        seeds=sorted(runs),
        final={split: mean_ci(v) for split, v in values.items() if v},
        final_values=values,
        iterations=next(iter(runs.values())).iteration_numbers()[:length] if runs else [],
        trajectories=mean_curve([m.cumulative_trajectories() for m in runs.values()]),
        tokens=mean_curve([m.cumulative_tokens() for m in runs.values()]),
        success_smoothed=mean_curve(smoothed),
        success_low=[min(curve[i] for curve in smoothed) for i in range(length)],
        success_high=[max(curve[i] for curve in smoothed) for i in range(length)],
        eval_points=_mean_eval_curve(list(runs.values())),
        game_wins={split: {f"{seed}:{task}": bool(won) for seed in runs if split in finals[seed]
                           for task, won in (finals[seed][split].get("wins") or {}).items()} for split in splits},
    )


def pooled_success(algo: AlgoSummary) -> dict[str, dict[str, float]]:
    """Per split: wins and games pooled over seeds, with the Wilson 95% interval."""
    pooled = {}
    for split, wins in algo.game_wins.items():
        if wins:
            won, games = sum(wins.values()), len(wins)
            low, high = wilson_interval(won, games)
            pooled[split] = {"wins": won, "games": games, "success": won / games, "low": low, "high": high}
    return pooled


def paired_game_difference(algo: AlgoSummary, reference: AlgoSummary) -> dict[str, Interval]:
    """``algo`` minus ``reference`` per split and over all splits, paired by (seed, game)."""
    result, every_a, every_b = {}, [], []
    for split, wins in algo.game_wins.items():
        shared = [key for key in wins if key in reference.game_wins.get(split, {})]
        if shared:
            a = [float(wins[k]) for k in shared]
            b = [float(reference.game_wins[split][k]) for k in shared]
            result[split] = paired_difference_ci(b, a)
            every_a += a
            every_b += b
    if every_a:
        result[OVERALL] = paired_difference_ci(every_b, every_a)
    return result


def _mean_eval_curve(runs: Sequence[RunMetrics]) -> list[tuple[float, float]]:
    """(mean cumulative trajectories, seed-mean of the split-mean success) at each evaluation
    iteration that every seed has."""
    per_run = []
    for metrics in runs:
        spent = dict(zip(metrics.iteration_numbers(), metrics.cumulative_trajectories()))
        points = {}
        for record in metrics.evaluations:
            results = record.get("results") or {}
            if results:
                iteration = int(record["iteration"])
                success = sum(r["success"] for r in results.values()) / len(results)
                points[iteration] = (spent.get(iteration, 0.0), success)
        per_run.append(points)
    common = sorted(set.intersection(*(set(p) for p in per_run))) if per_run else []
    return [(sum(p[i][0] for p in per_run) / len(per_run), sum(p[i][1] for p in per_run) / len(per_run))
            for i in common]


def efficiency(algo: AlgoSummary, reference: AlgoSummary) -> dict[str, float | None]:
    """Budget figures of ``algo`` against ``reference``.

    ``target`` is the reference's final smoothed training success (the last point of its
    seed-mean, trailing-moving-average curve); ``trajectories_to_target`` is ``algo``'s mean
    cumulative trajectories at the first iteration where its own smoothed curve reaches the
    target (None if it never does); ``trajectory_ratio`` divides that by the reference's total
    trajectories. ``token_ratio`` compares total generated tokens.
    """
    target = reference.success_smoothed[-1] if reference.success_smoothed else math.nan
    needed = budget_to_reach(algo.success_smoothed, algo.trajectories, target) if not math.isnan(target) else None
    return {
        "target": target,
        "trajectories_to_target": needed,
        "trajectory_ratio": needed / reference.total_trajectories if needed is not None and reference.total_trajectories else None,
        "token_ratio": algo.total_tokens / reference.total_tokens if reference.total_tokens else None,
    }


def verdict(algo: AlgoSummary, reference: AlgoSummary) -> dict[str, Any]:
    """Whether ``algo`` beat ``reference`` on the final success averaged over splits: Welch's
    95% interval of the difference of seed means (points = percentage points)."""
    difference = difference_ci(algo.final_values[OVERALL], reference.final_values[OVERALL])
    name, other = algo.algo, reference.algo
    figures = (f"{name} {algo.final[OVERALL].text()}% vs {other} {reference.final[OVERALL].text()}% "
               f"final success (mean over splits); difference {difference.mean * 100:+.1f}")
    if math.isnan(difference.half_width):
        text = (f"Undecided: {figures} points, with a single seed on one side there is no confidence "
                "interval — run with --seeds 3 or more to conclude.")
    elif difference.low > 0:
        text = f"{name} beat {other} at equal budget: {figures} ± {difference.half_width * 100:.1f} points (95% CI excludes 0)."
    elif difference.high < 0:
        text = f"{other} beat {name} at equal budget: {figures} ± {difference.half_width * 100:.1f} points (95% CI excludes 0)."
    else:
        text = (f"No significant difference between {name} and {other} at equal budget: {figures} "
                f"± {difference.half_width * 100:.1f} points (95% CI includes 0).")
    return {"algo": name, "reference": other, "difference": difference.mean,
            "ci95_half_width": None if math.isnan(difference.half_width) else difference.half_width, "text": text}


def collect(plan: ComparePlan) -> tuple[dict[str, AlgoSummary], list[str]]:
    """Summaries of every algorithm over its finished runs, and the run folders not finished."""
    summaries, missing = {}, []
    for algo in plan.algos:
        runs = {}
        for seed in plan.seeds:
            run_dir = plan.run_dir(algo, seed)
            metrics = read_metrics(run_dir / "metrics.jsonl")
            if (run_dir / "summary.json").exists() and metrics.final_evaluation() is not None:
                runs[seed] = metrics
            else:
                missing.append(str(run_dir))
        if runs:
            summaries[algo] = summarise_algo(algo, runs, plan.smoothing)
    return summaries, missing
