"""The comparison's outputs: ``report.md`` (verdict first), ``summary.json`` and PNG plots, all
in the comparison folder, rebuilt from the run folders each time."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sparkrl.experiments.compare import (
    OVERALL, AlgoSummary, ComparePlan, collect, efficiency, paired_game_difference, pooled_success, verdict,
)
from sparkrl.eval.plots import Curve, plot_curves, plot_final

PLOTS = {
    "trajectories": "success_vs_trajectories.png",
    "tokens": "success_vs_tokens.png",
    "eval": "eval_success_vs_trajectories.png",
    "final": "final_success.png",
}


def _interval_json(summary: AlgoSummary, split: str) -> dict[str, Any]:
    interval = summary.final[split]
    return {"mean": interval.mean, "ci95_half_width": None if math.isnan(interval.half_width) else interval.half_width,
            "seeds": interval.n, "values": summary.final_values[split]}


def summary_document(plan: ComparePlan, summaries: dict[str, AlgoSummary], missing: list[str]) -> dict[str, Any]:
    """Everything the report shows, as plain data (``summary.json``)."""
    base = plan.base
    reference = summaries.get(plan.reference)
    document: dict[str, Any] = {
        "name": plan.name,
        "algos": list(plan.algos),
        "seeds": list(plan.seeds),
        "reference": plan.reference,
        "smoothing_window": plan.smoothing,
        "budget": {"env": base.env, "model": base.model, "num_leaves": base.rollout.num_leaves,
                   "tasks_per_iteration": base.tasks_per_iteration, "iterations": base.iterations,
                   "cold_start": base.cold_start.enabled, "cold_start_seed": base.seed},
        "unfinished_runs": missing,
        "results": {},
        "verdict": None,
    }
    for algo, summary in summaries.items():
        document["results"][algo] = {
            "seeds": summary.seeds,
            "final_success": {split: _interval_json(summary, split) for split in summary.final},
            "pooled_success": pooled_success(summary),
            "paired_vs_reference": ({split: {"mean": i.mean, "low": i.low, "high": i.high, "games": i.n}
                                     for split, i in paired_game_difference(summary, reference).items()}
                                    if reference and summary is not reference else None),
            "total_trajectories": summary.total_trajectories,
            "total_generated_tokens": summary.total_tokens,
            "efficiency_vs_reference": efficiency(summary, reference) if reference else None,
            "curves": {"iteration": summary.iterations, "cumulative_trajectories": summary.trajectories,
                       "cumulative_generated_tokens": summary.tokens, "success_smoothed": summary.success_smoothed,
                       "success_smoothed_min": summary.success_low, "success_smoothed_max": summary.success_high},
        }
    spark = summaries.get("spark")
    if spark and reference and plan.reference != "spark" and OVERALL in spark.final and OVERALL in reference.final:
        document["verdict"] = verdict(spark, reference)
    return document


def _plots(folder: Path, summaries: dict[str, AlgoSummary], smoothing: int) -> list[str]:
    made = []
    ylabel = f"training success (moving average of {smoothing})"
    for axis, label in (("trajectories", "cumulative trajectories (leaves)"), ("tokens", "cumulative generated tokens")):
        curves = {algo: Curve(s.trajectories if axis == "trajectories" else s.tokens, s.success_smoothed,
                              s.success_low, s.success_high)
                  for algo, s in summaries.items() if s.success_smoothed}
        if curves:
            plot_curves(folder / PLOTS[axis], curves, label, ylabel, f"training success vs {axis} (band: seeds' min–max)")
            made.append(PLOTS[axis])
    evals = {algo: Curve([p[0] for p in s.eval_points], [p[1] for p in s.eval_points])
             for algo, s in summaries.items() if s.eval_points}
    if evals:
        plot_curves(folder / PLOTS["eval"], evals, "cumulative trajectories (leaves)", "eval success (mean over splits)",
                    "evaluation success vs trajectories (seed mean)")
        made.append(PLOTS["eval"])
    finals = {algo: {k: v for k, v in s.final.items() if k != OVERALL} for algo, s in summaries.items() if s.final}
    if finals:
        plot_final(folder / PLOTS["final"], finals, "final success (mean ± 95% CI over seeds)")
        made.append(PLOTS["final"])
    return made


def _ratio_text(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.2f}×"


def report_markdown(plan: ComparePlan, document: dict[str, Any], plots: list[str], command: str) -> str:
    """``report.md``: verdict, budget, final success table, efficiency table, plots, method."""
    budget = document["budget"]
    results = document["results"]
    lines = [f"# Comparison `{plan.name}`", "", f"Command: `{command}`", ""]
    verdict_block = document["verdict"]
    lines += ["## Verdict", "", f"**{verdict_block['text']}**" if verdict_block else
              f"No verdict: it needs finished runs of spark and {plan.reference} with an evaluation.", ""]
    if document["unfinished_runs"]:
        lines += ["Unfinished runs (not counted): " + ", ".join(f"`{r}`" for r in document["unfinished_runs"]), ""]
    lines += [
        "## Equal budget", "",
        f"env `{budget['env']}`, model `{budget['model']}`, N = {budget['num_leaves']} leaves per task, "
        f"{budget['tasks_per_iteration']} tasks per iteration, {budget['iterations']} iterations, seeds "
        f"{', '.join(map(str, plan.seeds))}; every run starts from the same model "
        + ("(the cold-start SFT trained once with seed "
           f"{budget['cold_start_seed']})." if budget["cold_start"] else "(no cold start)."), "",
    ]
    if results:
        lines += _final_table(results) + [""] + _pooled_table(plan, results) + [""] + _efficiency_table(plan, results)
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    else:
        lines += ["No run has finished yet: nothing to tabulate."]
    lines += ["", "## How to read this", "",
              f"- Final evaluation: each run's policy after RL, one sample per game at T = {plan.base.eval.temperature}, "
              f"{plan.base.eval.games or 'all'} games per split, no branching; "
              "the interval is mean ± t(0.975, seeds−1)·s/√seeds. The verdict compares the mean over splits "
              "with Welch's 95% interval of the difference.",
              "- Trajectories are leaves (Spark's branches share prefixes, so it may spend fewer than N per task); "
              "tokens are the rollouts' generated response tokens.",
              "- Training success is the share of won leaves in each iteration's rollouts.",
              "- `summary.json` holds every number here; each run folder has its own `learning_curves.png`.",
              "- Method: docs/evaluation.md.", ""]
    return "\n".join(lines)


def _final_table(results: dict[str, Any]) -> list[str]:
    splits = sorted({s for r in results.values() for s in r["final_success"] if s != OVERALL})
    lines = ["## Final evaluation (success %, mean ± 95% t-interval over seeds)", "",
             "| algo | seeds | " + " | ".join(splits + ["mean over splits"]) + " |",
             "|---|---|" + "---|" * (len(splits) + 1)]
    for algo, result in results.items():
        cells = [_cell(result["final_success"].get(split)) for split in splits + [OVERALL]]
        lines.append(f"| {algo} | {len(result['seeds'])} | " + " | ".join(cells) + " |")
    return lines


def _pooled_table(plan: ComparePlan, results: dict[str, Any]) -> list[str]:
    splits = sorted({s for r in results.values() for s in r.get("pooled_success") or {}})
    lines = ["## Pooled over seeds (success %, Wilson 95% interval over every seed's games)", "",
             "| algo | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for algo, result in results.items():
        pooled = result.get("pooled_success") or {}
        cells = [f"{p['success'] * 100:.1f} [{p['low'] * 100:.1f}, {p['high'] * 100:.1f}] ({p['games']})"
                 if (p := pooled.get(split)) else "—" for split in splits]
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    paired = [(algo, r["paired_vs_reference"]) for algo, r in results.items() if r.get("paired_vs_reference")]
    if paired:
        columns = splits + [OVERALL]
        lines += ["", f"Difference to {plan.reference}, paired by (seed, game), points with the 95% t interval "
                      "of the per-game differences:", "",
                  "| algo | " + " | ".join(s if s != OVERALL else "all splits" for s in columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for algo, figures in paired:
            cells = [f"{f['mean'] * 100:+.1f} [{f['low'] * 100:+.1f}, {f['high'] * 100:+.1f}]"
                     if (f := figures.get(split)) else "—" for split in columns]
            lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    return lines


def _efficiency_table(plan: ComparePlan, results: dict[str, Any]) -> list[str]:
    lines = [f"## Budget and efficiency (relative to {plan.reference})", "",
             "| algo | trajectories (leaves) | generated tokens | tokens vs ref | trajectories to reach ref's final "
             "training success | ratio to ref's total |", "|---|---|---|---|---|---|"]
    for algo, result in results.items():
        eff = result["efficiency_vs_reference"] or {}
        needed = eff.get("trajectories_to_target")
        token_ratio = eff.get("token_ratio")
        lines.append(f"| {algo} | {result['total_trajectories']:.0f} | {result['total_generated_tokens']:.0f} | "
                     f"{'—' if token_ratio is None else f'{token_ratio:.2f}×'} | "
                     f"{'not reached' if needed is None else f'{needed:.0f}'} | {_ratio_text(eff.get('trajectory_ratio'))} |")
    target = next((r["efficiency_vs_reference"]["target"] for r in results.values() if r["efficiency_vs_reference"]), None)
    if target is not None:
        lines += ["", f"Target = {plan.reference}'s final smoothed training success, {target:.1%} (seed mean, "
                  f"trailing moving average over {plan.smoothing} iterations)."]
    return lines


def _cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "—"
    if entry["ci95_half_width"] is None:
        return f"{entry['mean'] * 100:.1f}"
    return f"{entry['mean'] * 100:.1f} ± {entry['ci95_half_width'] * 100:.1f}"


def write_report(plan: ComparePlan, command: str) -> tuple[Path, dict[str, Any]]:
    """Rebuild ``report.md``, ``summary.json`` and the plots from the run folders; returns the
    report's path and the summary document."""
    folder = plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    summaries, missing = collect(plan)
    document = _json_safe(summary_document(plan, summaries, missing))
    plots = _plots(folder, summaries, plan.smoothing)
    (folder / "summary.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    path = folder / "report.md"
    path.write_text(report_markdown(plan, document, plots, command), encoding="utf-8")
    return path, document


def _json_safe(value: Any) -> Any:
    """NaN (an undefined figure) becomes null, which every JSON reader accepts."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value
