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
    source.add_argument("--model", metavar="SPEC",
                        help="any model spec: tiny, smollm2-135m, an HF folder, a hub name; or openai:MODEL, a "
                             "model behind an OpenAI-compatible chat endpoint (with --run: that run's settings)")
    protocol = parser.add_argument_group("protocol (defaults: the run's eval config, else 100 games, T=0.4)")
    protocol.add_argument("--env", help="environment (default: the run's env, else household)")
    protocol.add_argument("--split", type=_name_list, help="comma-separated splits, e.g. L0,L1,L2")
    protocol.add_argument("--games", type=non_negative_int, help="games per split (0 = the whole split)")
    protocol.add_argument("--temperature", type=float, help="sampling temperature")
    protocol.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, help="longest response in tokens")
    protocol.add_argument("--max-steps", dest="max_steps", type=int, help="horizon K in env steps")
    protocol.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    protocol.add_argument("--prompt-style", dest="prompt_style", choices=("paper", "compact"),
                          help="prompt layout (default: the run's, else compact as `sparkrl train` uses)")
    api = parser.add_argument_group("API models (--model openai:MODEL; key from $OPENAI_API_KEY)")
    api.add_argument("--base-url", dest="base_url", metavar="URL",
                     help="OpenAI-compatible API root up to /v1 (default: $OPENAI_BASE_URL, else "
                          "https://api.openai.com/v1)")
    api.add_argument("--concurrency", metavar="N", type=int, default=4, help="requests in flight at once (default: 4)")
    api.add_argument("--request-timeout", dest="request_timeout", metavar="S", type=float, default=60.0,
                     help="per-request timeout in seconds (default: 60)")
    api.add_argument("--retries", metavar="N", type=non_negative_int, default=3,
                     help="extra attempts of a failed request before it counts as an invalid reply (default: 3)")
    api.add_argument("--retry-backoff", dest="retry_backoff", metavar="S", type=float, default=0.5,
                     help="seconds before the first retry, doubling at each further one (default: 0.5)")
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
    from sparkrl.experiments.runner import EvalRequest
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
    from sparkrl.experiments.runner import evaluation_document, print_report, resolve_source, run_evaluation
    from sparkrl.models.api_policy import ApiConfig, ApiPolicy
    from sparkrl.models.loading import load
    from sparkrl.rollout.spark import agent_fields
    from sparkrl.train.config import TrainConfig

    try:
        source = resolve_source(args.run, args.checkpoint, args.model)
        if args.base_url and source.source != "api":
            raise ConfigError("--base-url applies to an API model only (--model openai:MODEL)")
        request = _eval_request(args, source.config)
        api_config = (ApiConfig.from_spec(source.spec, args.base_url, concurrency=args.concurrency,
                                          request_timeout_s=args.request_timeout, retries=args.retries,
                                          backoff_s=args.retry_backoff)
                      if source.source == "api" else None)
    except ConfigError as error:
        print(f"sparkrl eval: {error}", file=sys.stderr)
        return 2
    # A bare model plays the env and is prompted the way `sparkrl train` would by default.
    env_name = args.env or (source.config or TrainConfig()).env
    agent = agent_fields((source.config or TrainConfig()).rollout)
    if args.prompt_style:
        agent["prompt_style"] = args.prompt_style
    notes = []
    if api_config is not None:
        policy = ApiPolicy(api_config)
        if agent["constrain_actions"]:
            # Token masks over the admissible actions need the model's logits: impossible over HTTP.
            agent["constrain_actions"] = False
            notes.append("constrained decoding is off: an API model decodes freely, so its invalid and "
                         "inadmissible replies count as they are")
    else:
        policy = load(source.spec, threads=args.threads or None)
        policy.model.eval()
    try:
        with make(env_name, max_steps=request.max_steps) as env:
            splits = run_evaluation(policy, env, request, agent)
    finally:
        if api_config is not None:
            policy.close()
    api = None if api_config is None else {**api_config.describe(), **policy.stats.to_json(), "notes": notes}
    document = evaluation_document(source, env_name, request, splits, agent, api)
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
    from sparkrl.experiments.compare import ComparePlan
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

    from sparkrl.experiments.compare import run_all
    from sparkrl.experiments.report import write_report

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
