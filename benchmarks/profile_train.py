"""Where the time of a default ``sparkrl train`` goes: a short default-like run under cProfile.

The run is the default configuration (household, tiny model, Spark N = 8 / M = 4 / B = 2,
K = 30, default tasks per iteration, evaluation on L0/L1/L2 before and after) shortened to
``--iterations`` iterations and ``--eval-games`` games per split, on one torch thread. The
cold start reuses the default SFT when it is cached; otherwise the best cached household SFT is
loaded with the cold start off (no SFT is trained here).

Printed: the wall time split into phases (rollouts, generation, prompt encoding, learner,
evaluation, checkpoint and tree files, start-up), each from the profile's cumulative times
(phases nest: generation runs inside the rollouts and the evaluation), the iteration records'
own timers (generation / env / update seconds, tokens), and the top functions by own time.
cProfile adds a per-call overhead, so Python-heavy phases read somewhat larger than they are;
the split, not the absolute seconds, is the result.

    python benchmarks/profile_train.py [--iterations 2] [--eval-games 6]

The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import pstats
import tempfile
import time
from pathlib import Path

import torch
from household_setup import cold_started_tiny
from rich.console import Console

from sparkrl.train.cold_start import cached_sft_dir, cold_start_config
from sparkrl.train.config import EvalConfig, TrainConfig
from sparkrl.train.rl import train
from sparkrl.train.sft import MODEL_DIR

PHASES = {
    # phase: (file suffix, function name) whose cumulative time is the phase. Phases nest: the
    # evaluation plays its games with spark_rollout (M = N = 1), and generation and prompt
    # encoding happen inside the rollouts.
    "rollouts (training + evaluation)": ("sparkrl/rollout/spark.py", "spark_rollout"),
    "generation (Policy.sample, rollouts + eval)": ("sparkrl/models/policy.py", "sample"),
    "prompt encoding (chat template + tokenizer)": ("sparkrl/models/policy.py", "encode"),
    "learner: update_policy": ("sparkrl/train/learner.py", "update_policy"),
    "learner: reference log-probs": ("sparkrl/train/learner.py", "attach_reference_logprobs"),
    "learner: advantages and rows": ("sparkrl/train/learner.py", "build_rows"),
    "evaluation (before + after)": ("sparkrl/train/rl.py", "_evaluate"),
    "checkpoints": ("sparkrl/train/checkpoint.py", "save_checkpoint"),
    "tree files": ("sparkrl/rollout/tree.py", "save_forests"),
    "start-up (model, SFT cache)": ("sparkrl/train/cold_start.py", "initial_policy"),
}


def default_like_config(iterations: int, eval_games: int, run_dir: Path) -> tuple[TrainConfig, str]:
    """The default config shortened; (config, how the starting policy is obtained)."""
    config = TrainConfig(iterations=iterations, threads=1, run_dir=str(run_dir),
                         eval=dataclasses.replace(EvalConfig(), games=eval_games))
    if (cached_sft_dir(cold_start_config(config)) / MODEL_DIR / "config.json").exists():
        return config, "default cold start (cached SFT)"
    folder, description = cold_started_tiny()
    if folder is None:
        return dataclasses.replace(config, cold_start=dataclasses.replace(config.cold_start, enabled=False)), description
    return dataclasses.replace(config, model=str(folder),
                               cold_start=dataclasses.replace(config.cold_start, enabled=False)), description


def cumulative_seconds(stats: pstats.Stats, suffix: str, name: str) -> float:
    """Cumulative seconds of the function ``name`` defined in a file ending with ``suffix``."""
    return sum(entry[3] for (filename, _, function), entry in stats.stats.items()  # type: ignore[attr-defined]
               if filename.endswith(suffix) and function == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--eval-games", type=int, default=6, help="games per split (default run: 30)")
    parser.add_argument("--top", type=int, default=20, help="functions to list by own time")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        config, start = default_like_config(args.iterations, args.eval_games, Path(folder) / "run")
        print(f"profiling sparkrl train: {args.iterations} iterations, {args.eval_games} eval games per split, "
              f"1 torch thread; starting policy: {start}")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(train, config, console=Console(file=io.StringIO()))
        wall = time.perf_counter() - started
        records = [json.loads(line) for line in (Path(folder) / "run" / "metrics.jsonl").read_text().splitlines()]

    stats = pstats.Stats(profiler)
    phases = {phase: cumulative_seconds(stats, *where) for phase, where in PHASES.items()}
    iterations = [r for r in records if r["kind"] == "iteration"]
    logged = {key: round(sum(r[key] for r in iterations), 2)
              for key in ("generation_seconds", "env_seconds", "update_seconds", "generated_tokens",
                          "prefill_tokens", "prompt_tokens", "env_steps")}
    print(f"wall {wall:.1f} s")
    for phase, seconds in phases.items():
        print(f"  {phase:45s} {seconds:8.1f} s  {seconds / wall:6.1%}")
    print(f"iteration records (timers inside the run): {logged}")
    listing = io.StringIO()
    pstats.Stats(profiler, stream=listing).sort_stats("tottime").print_stats(args.top)
    print(listing.getvalue().split("\n\n", 1)[-1].strip())
    print(json.dumps({
        "benchmark": "profile_train", "start": start, "iterations": args.iterations,
        "eval_games": args.eval_games, "wall_seconds": round(wall, 1),
        "phases_seconds": {k: round(v, 2) for k, v in phases.items()},
        "phases_share": {k: round(v / wall, 4) for k, v in phases.items()},
        "iteration_totals": logged,
    }))


if __name__ == "__main__":
    main()
