"""The `sparkrl` command line. Each subcommand imports its machinery lazily so that
`sparkrl --help` stays instant and optional backends are only needed when used."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEBUG_ENV = "SPARKRL_DEBUG"
"""Set to 1 (or pass ``sparkrl --debug``) to see the traceback behind a one-line user error."""


def _check_env(args: argparse.Namespace) -> int:
    from sparkrl.envs import make
    from sparkrl.envs.checker import check_env

    kwargs = {"max_steps": args.max_steps} if args.max_steps else {}
    if args.data:
        kwargs["data"] = args.data
    with make(args.env, **kwargs) as env:
        report = check_env(
            env, games=args.games, splits=args.splits.split(","), seed=args.seed, expert=not args.no_expert
        )
    for failure in report.failures:
        print(f"  FAIL {failure}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def _train_config(args: argparse.Namespace):
    import dataclasses

    from sparkrl.config import load_yaml
    from sparkrl.train.config import TrainConfig, apply_algo

    if args.config and args.preset:
        raise SystemExit("sparkrl train: give --config or --preset, not both")
    path = args.config or (_preset_path(args.preset) if args.preset else None)
    config = load_yaml(TrainConfig, path) if path else TrainConfig()
    overrides = {name: getattr(args, name) for name in ("env", "model", "seed", "iterations", "run_dir", "workers", "lora_r", "engine",
                                                       "logger")
                 if getattr(args, name) is not None}
    config = dataclasses.replace(config, **overrides)
    if args.algo:
        config = apply_algo(config, args.algo)
    return config


def _preset_path(name: str):
    from pathlib import Path

    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        candidate = root / "configs" / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise SystemExit(f"sparkrl train: no preset {name!r} (looked for configs/{name}.yaml)")


def _train(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from sparkrl.config import ConfigError, load_yaml
    from sparkrl.train.config import TrainConfig
    from sparkrl.train.rl import train
    from sparkrl.train.safeguards import TrainingDiverged

    try:
        if args.resume:
            if not (Path(args.resume) / "config.yaml").is_file():
                print(f"sparkrl train: nothing to resume in {args.resume!r}: no run folder with a "
                      "config.yaml there (give the RUN_DIR a previous `sparkrl train` wrote)", file=sys.stderr)
                return 2
            config = load_yaml(TrainConfig, Path(args.resume) / "config.yaml")
            config = dataclasses.replace(config, run_dir=args.resume)
        else:
            config = _train_config(args)
    except ConfigError as error:
        print(f"sparkrl train: bad config: {error}", file=sys.stderr)
        return 2
    try:
        train(config, resume=bool(args.resume), command="sparkrl " + " ".join(sys.argv[1:]))
    except TrainingDiverged as error:
        # the last good state is checkpointed; the message says what to change before resuming
        print(f"sparkrl train: stopped: {error}", file=sys.stderr)
        return 3
    return 0


def _sft(args: argparse.Namespace) -> int:
    from sparkrl.train.sft import run_sft
    from sparkrl.train.sft_config import sft_config_from_args

    print(run_sft(sft_config_from_args(args)))
    return 0


def _view(args: argparse.Namespace) -> int:
    from sparkrl.viz.viewer import write_viewer

    try:
        path = write_viewer(args.run, out=args.out, iteration=args.iteration)
    except (FileNotFoundError, ValueError) as error:
        print(f"sparkrl view: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _export(args: argparse.Namespace) -> int:
    from sparkrl.export import export_run

    try:
        result = export_run(args.run, args.out, checkpoint=args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        if args.debug or os.environ.get(DEBUG_ENV) == "1":
            raise
        print(f"sparkrl export: {error}", file=sys.stderr)
        return 2
    for reason in result.skipped:
        print(f"unusable checkpoint, exported the previous one: {reason}", file=sys.stderr)
    merged = ", LoRA merged" if result.merged_lora else ""
    print(f"{result.out} (from {result.checkpoint.name}{merged}; stops at </action> by {result.stop.how})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sparkrl.config import non_negative_int

    parser = argparse.ArgumentParser(prog="sparkrl", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of a user error (also ${DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check-env", help="verify an environment's contract and fork determinism on real games"
    )
    check.add_argument("env", help="registered env name (household, scienceworld, alfworld, webshop)")
    check.add_argument("--games", type=non_negative_int, default=20, help="games per split (0 = the whole split)")
    check.add_argument("--splits", default="train,L0,L1,L2", help="comma-separated splits")
    check.add_argument("--seed", type=int, default=0, help="seed of the random action walk")
    check.add_argument("--max-steps", type=int, default=None, help="override the env's horizon")
    check.add_argument("--data", default=None, help="game-file directory for envs that need one")
    check.add_argument("--no-expert", action="store_true", help="skip playing the expert")
    check.set_defaults(handler=_check_env)

    train = commands.add_parser(
        "train", help="cold-start SFT, Spark RL and evaluation before/after (defaults: household-small + tiny)"
    )
    train.add_argument("--config", help="experiment YAML (see configs/)")
    train.add_argument("--preset", help="a named experiment in configs/, e.g. smoke")
    train.add_argument("--algo", choices=("spark", "grpo", "gigpo", "fixed", "entropy"),
                       help="switch trigger, roots and estimator to this algorithm at the same budget")
    train.add_argument("--env", help="environment name")
    train.add_argument("--model", help="model spec")
    train.add_argument("--seed", type=int, help="seed")
    train.add_argument("--iterations", type=int, help="RL iterations")
    train.add_argument("--run-dir", dest="run_dir", help="run folder")
    train.add_argument("--workers", type=int, help="Ray env worker processes stepping envs in parallel (0/1 = in-process)")
    train.add_argument("--lora-r", dest="lora_r", type=int, help="train LoRA adapters of this rank (0 = full fine-tuning)")
    train.add_argument("--engine", choices=("auto", "hf", "vllm"), help="rollout generation engine (auto: vLLM on CUDA)")
    train.add_argument("--logger", choices=("tensorboard", "wandb", "none"),
                       help="metrics sink beside metrics.jsonl (wandb: W&B and TensorBoard)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    train.set_defaults(handler=_train)

    sft = commands.add_parser("sft", help="cold-start SFT on annotated expert trajectories")
    from sparkrl.train.sft_config import add_sft_arguments

    add_sft_arguments(sft)
    sft.set_defaults(handler=_sft)

    from sparkrl.experiments.commands import add_compare_arguments, add_eval_arguments, compare_command, eval_command

    evaluation = commands.add_parser(
        "eval", help="success per split and task type of any checkpoint or model (paper protocol), "
                     "optionally pass@k and test-time branching"
    )
    add_eval_arguments(evaluation)
    evaluation.set_defaults(handler=eval_command)
    compare = commands.add_parser(
        "compare", help="algorithms x seeds at an equal budget: learning curves, final success with 95%% CIs, report.md"
    )
    add_compare_arguments(compare)
    compare.set_defaults(handler=compare_command)

    view = commands.add_parser("view", help="write a self-contained HTML viewer of a run's trajectory trees")
    view.add_argument("run", help="run folder (holds trees/iter-N.jsonl)")
    view.add_argument("--iteration", type=int, help="embed only this iteration (default: all, sampled evenly past 24)")
    view.add_argument("--out", help="output HTML file (default: RUN/viewer.html)")
    view.set_defaults(handler=_view)

    export = commands.add_parser(
        "export", help="write a plain Hugging Face model folder (LoRA merged, tokenizer, generation config, "
                       "model card) from a run's newest complete checkpoint"
    )
    export.add_argument("run", metavar="RUN_DIR", help="run folder (holds config.yaml and checkpoints/)")
    export.add_argument("--out", required=True, metavar="DIR", help="new or empty folder to write")
    export.add_argument("--checkpoint", metavar="DIR", help="export this checkpoint (an iter-N folder) instead of the newest")
    export.set_defaults(handler=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Per-call weight-loading bars from transformers drown the run's own progress output.
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    from sparkrl.config import ConfigError
    from sparkrl.envs.registry import UnknownEnvError
    from sparkrl.models.loading import ModelLoadError

    try:
        return args.handler(args)
    except (ConfigError, UnknownEnvError, ModelLoadError, FileNotFoundError) as error:
        # A bad name, spec or path the user typed: one line naming it, not a traceback.
        if args.debug or os.environ.get(DEBUG_ENV) == "1":
            raise
        print(f"sparkrl {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
