"""The `sparkrl` command line. Each subcommand imports its machinery lazily so that
`sparkrl --help` stays instant and optional backends are only needed when used."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkrl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check-env", help="verify an environment's contract and fork determinism on real games"
    )
    check.add_argument("env", help="registered env name (household, scienceworld, alfworld, webshop)")
    check.add_argument("--games", type=int, default=20, help="games per split")
    check.add_argument("--splits", default="train,L0,L1,L2", help="comma-separated splits")
    check.add_argument("--seed", type=int, default=0, help="seed of the random action walk")
    check.add_argument("--max-steps", type=int, default=None, help="override the env's horizon")
    check.add_argument("--data", default=None, help="game-file directory for envs that need one")
    check.add_argument("--no-expert", action="store_true", help="skip playing the expert")
    check.set_defaults(handler=_check_env)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
