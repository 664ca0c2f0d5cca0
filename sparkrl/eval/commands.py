"""Flags and handlers of `sparkrl eval` and `sparkrl compare`. Only argparse and the config
layer are imported here, so building the CLI parser stays instant; the handlers import the
machinery (torch, envs, models) when they run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sparkrl.config import ConfigError, non_negative_int

DEFAULT_ALGOS = "spark,grpo,fixed,entropy"


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sparkrl eval`; unset protocol flags default to the run's config, else the
    paper's protocol."""
    source = parser.add_argument_group("what to evaluate (one of)")
    source.add_argument("--run", metavar="DIR", help="run folder: its newest complete checkpoint and its config")
    source.add_argument("--checkpoint", metavar="DIR", help="a checkpoints/iter-N folder (or its model folder)")
    source.add_argument("--model", metavar="SPEC", help="any model spec: tiny, smollm2-135m, an HF folder, a hub name")
    protocol = parser.add_argument_group("protocol (defaults: the run's eval config, else 30 games, T=0.4)")
    protocol.add_argument("--env", help="environment (default: the run's env, else household)")
    protocol.add_argument("--split", type=_name_list, help="comma-separated splits, e.g. L0,L1,L2")
    protocol.add_argument("--games", type=non_negative_int, help="games per split (0 = the whole split)")
    protocol.add_argument("--temperature", type=float, help="sampling temperature")
    protocol.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, help="longest response in tokens")
    protocol.add_argument("--max-steps", dest="max_steps", type=int, help="horizon K in env steps")
    protocol.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    extra = parser.add_argument_group("beyond one sample per game")
    extra.add_argument("--samples", type=non_negative_int, default=0, help="n samples per game for pass@k (0 = off)")
    extra.add_argument("--k", type=_int_list, help="k values of pass@k, e.g. 1,5 (default: 1,n)")
    extra.add_argument("--branching", action="store_true",
                       help="also test-time branching: explore a Spark tree per game, commit by majority vote")
    extra.add_argument("--leaves", type=int, default=8, help="branching: N leaves per game (default: 8)")
    extra.add_argument("--roots", type=int, default=1, help="branching: M roots (default: 1)")
    extra.add_argument("--branch-factor", dest="branch_factor", type=int, default=2, help="branching: B (default: 2)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = the free cores)")


def _eval_request(args: argparse.Namespace, config):
    from sparkrl.eval.runner import EvalRequest
    from sparkrl.eval.test_time import BranchingConfig
    from sparkrl.train.config import EvalConfig

    protocol = config.eval if config is not None else EvalConfig()
    samples = args.samples
    ks = args.k or ((1, samples) if samples > 1 else (1,))
    branching = (BranchingConfig(num_leaves=args.leaves, num_roots=args.roots, branch_factor=args.branch_factor)
                 if args.branching else None)
    return EvalRequest(
        splits=tuple(args.split) if args.split else tuple(protocol.splits),
        games=protocol.games if args.games is None else args.games,
        temperature=protocol.temperature if args.temperature is None else args.temperature,
        max_new_tokens=protocol.max_new_tokens if args.max_new_tokens is None else args.max_new_tokens,
        max_steps=args.max_steps or (config.rollout.max_steps if config is not None else 30),
        seed=args.seed, samples=samples, ks=ks, branching=branching,
    )


def eval_command(args: argparse.Namespace) -> int:
    """Handler of `sparkrl eval`."""
    import json

    from rich.console import Console

    from sparkrl.envs import make
    from sparkrl.eval.runner import evaluation_document, print_report, resolve_source, run_evaluation
    from sparkrl.models.loading import load

    try:
        source = resolve_source(args.run, args.checkpoint, args.model)
        request = _eval_request(args, source.config)
    except ConfigError as error:
        print(f"sparkrl eval: {error}", file=sys.stderr)
        return 2
    env_name = args.env or (source.config.env if source.config is not None else "household")
    policy = load(source.spec, threads=args.threads or None)
    policy.model.eval()
    from sparkrl.rollout.spark import agent_fields
    from sparkrl.train.config import TrainConfig

    # A bare model is read and prompted the way `sparkrl train` would by default.
    agent = agent_fields((source.config or TrainConfig()).rollout)
    with make(env_name, max_steps=request.max_steps) as env:
        splits = run_evaluation(policy, env, request, agent)
    document = evaluation_document(source, env_name, request, splits)
    print_report(Console(), document)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sparkrl compare`."""
    parser.add_argument("--algos", type=_name_list, default=_name_list(DEFAULT_ALGOS),
                        help=f"comma-separated algorithms (default: {DEFAULT_ALGOS})")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per algorithm: base seed, +1, … (default: 3)")
    parser.add_argument("--config", help="base experiment YAML (default: the built-in defaults)")
    parser.add_argument("--preset", help="a named base experiment in configs/, e.g. smoke")
    parser.add_argument("--iterations", type=int, help="override the base config's RL iterations")
    parser.add_argument("--tasks-per-iteration", dest="tasks_per_iteration", type=int,
                        help="override the base config's tasks per iteration")
    parser.add_argument("--env", help="override the base config's environment")
    parser.add_argument("--model", help="override the base config's model spec")
    parser.add_argument("--name", help="comparison name: runs go to RUNS_ROOT/compare-NAME/ "
                                       "(default: the preset or config file name, else 'default')")
    parser.add_argument("--runs-root", dest="runs_root", default="runs", help="parent of the comparison folder")
    parser.add_argument("--reference", default="grpo", help="baseline of the ratios and the verdict (default: grpo)")
    parser.add_argument("--smoothing", type=int, default=3,
                        help="moving-average window (iterations) of the training-success curves (default: 3)")
    parser.add_argument("--report-only", dest="report_only", action="store_true",
                        help="train nothing: rebuild report.md from the runs that have finished")


def _preset_path(name: str) -> Path:
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = root / "configs" / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise ConfigError(f"--preset: no preset {name!r} (looked for configs/{name}.yaml)")


def _compare_plan(args: argparse.Namespace):
    import dataclasses

    from sparkrl.config import load_yaml
    from sparkrl.eval.compare import ComparePlan
    from sparkrl.train.config import TrainConfig

    if args.config and args.preset:
        raise ConfigError("give --config or --preset, not both")
    if args.seeds < 1:
        raise ConfigError(f"--seeds: need at least 1, got {args.seeds}")
    path = Path(args.config) if args.config else _preset_path(args.preset) if args.preset else None
    base = load_yaml(TrainConfig, path) if path else TrainConfig()
    overrides = {name: getattr(args, name) for name in ("iterations", "tasks_per_iteration", "env", "model")
                 if getattr(args, name) is not None}
    base = dataclasses.replace(base, **overrides)
    name = args.name or (path.stem if path else "default")
    return ComparePlan(name=name, base=base, algos=tuple(args.algos),
                       seeds=tuple(range(base.seed, base.seed + args.seeds)), runs_root=args.runs_root,
                       reference=args.reference, smoothing=args.smoothing)


def compare_command(args: argparse.Namespace) -> int:
    """Handler of `sparkrl compare`."""
    from rich.console import Console

    from sparkrl.eval.compare import run_all
    from sparkrl.eval.report import write_report

    console = Console()
    try:
        plan = _compare_plan(args)
        command = "sparkrl " + " ".join(sys.argv[1:])
        if not args.report_only:
            run_all(plan, command, console)
    except ConfigError as error:
        print(f"sparkrl compare: {error}", file=sys.stderr)
        return 2
    report, document = write_report(plan, command)
    console.print(f"\nwrote {report}")
    if document["verdict"]:
        console.print(f"[bold]{document['verdict']['text']}[/bold]")
    return 0
