"""Cold-start experiment: one SFT setting -> where its policy stands before any RL.

    python benchmarks/cold_start_probe.py --out runs/exp/small-compact --env household-small \
        --prompt-style compact --annotation short --constrain --games 100

Runs (or resumes) the SFT into ``OUT/sft``, then evaluates the SFT model on each split (one
sample per game, T = 0.4, the training protocol) and writes ``OUT/probe.json``:

- success with its Wilson 95% interval, valid-format and inadmissible-action rates;
- why lost games were lost: ran out of steps at K, an invalid response, an inadmissible
  action, a repeated (observation, action) pair;
- the SFT model's held-out negative log-likelihood on expert steps of train tasks it never saw,
  split into the reasoning tokens and the action tokens (does it know *what* to do, or only how
  to write about it?).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from sparkrl.data.annotate import ANNOTATION_STYLES, RuleAnnotator
from sparkrl.data.golden import collect_golden
from sparkrl.envs import make
from sparkrl.eval.evaluate import evaluate
from sparkrl.eval.stats import wilson_text
from sparkrl.models.loading import free_cores, load
from sparkrl.agent.prompt import PROMPT_STYLES
from sparkrl.rollout.tree import TaskForest
from sparkrl.train.sft import SFTConfig, run_sft

HELD_OUT = 40
"""Train tasks from the end of the split (never in an SFT run of <= 1,900 trajectories)."""


def failure_reasons(forest: TaskForest, max_steps: int) -> dict[str, bool]:
    path = forest.path(forest.leaves()[0])
    seen, repeated = set(), False
    for node in path:
        repeated |= (node.observation, node.action) in seen
        seen.add((node.observation, node.action))
    return {
        "won": path[-1].won,
        "out_of_steps": not path[-1].won and len(path) >= max_steps,
        "invalid_response": any(not n.valid for n in path),
        "inadmissible_action": any(n.info.get("admissible") is False for n in path),
        "repeated_step": repeated,
    }


def held_out_nll(model_dir: Path, env_name: str, prompt_style: str, annotation: str,
                 history_window: int) -> dict[str, float]:
    """Mean NLL per token of held-out expert responses: reasoning part and action part."""
    policy = load(str(model_dir))
    action_open = policy.tokenizer.convert_tokens_to_ids("<action>")
    with make(env_name) as env:
        golden = collect_golden(env, env.tasks("train")[-HELD_OUT:]).trajectories
    sums = {"reasoning": [0.0, 0], "action": [0.0, 0]}
    with torch.no_grad():
        for trajectory in RuleAnnotator(seed=1, style=annotation).annotate_all(golden):
            rows = [(policy.encode(m), policy.encode_text(r)) for m, r in trajectory.chat_samples(history_window, prompt_style)]
            scored = policy.logprobs(rows)
            for i, (_, response) in enumerate(rows):
                split = response.index(action_open) if action_open in response else len(response)
                values = -scored.logprobs[i, : len(response)]
                sums["reasoning"][0] += float(values[:split].sum())
                sums["reasoning"][1] += split
                sums["action"][0] += float(values[split:].sum())
                sums["action"][1] += len(response) - split
    return {f"nll_{k}": total / max(count, 1) for k, (total, count) in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--env", default="household")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prompt-style", default="paper", choices=PROMPT_STYLES)
    parser.add_argument("--annotation", default="sentence", choices=ANNOTATION_STYLES)
    parser.add_argument("--trajectories", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--history-window", type=int, default=5, help="past steps shown in each prompt")
    parser.add_argument("--constrain", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--games", type=int, default=100)
    parser.add_argument("--splits", nargs="+", default=["L0", "L1", "L2"])
    parser.add_argument("--temperature", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sft = SFTConfig(model=args.model, env=args.env, trajectories=args.trajectories, epochs=args.epochs, lr=args.lr,
                    batch_size=args.batch_size, annotation=args.annotation, prompt_style=args.prompt_style,
                    history_window=args.history_window, seed=args.seed, output_dir=str(out / "sft"), resume=(out / "sft" / "sft_config.json").exists(),
                    progress=False)
    started = time.perf_counter()
    model_dir = out / "sft" / "model"
    if not (model_dir / "config.json").exists():
        model_dir = run_sft(sft)
    sft_seconds = json.loads((out / "sft" / "sft_summary.json").read_text())["seconds"]

    started = time.perf_counter()
    policy = load(str(model_dir))
    agent = {"prompt_style": args.prompt_style, "constrain_actions": args.constrain,
             "history_window": args.history_window}
    with make(args.env) as env:
        results, forests = evaluate(policy, env, lambda task: env.spawn(), args.splits, args.games,
                                    args.temperature, 64, args.seed, agent)
        max_steps = env.max_steps
    eval_seconds = time.perf_counter() - started
    report: dict = {"setting": vars(args), "sft_seconds": sft_seconds, "eval_seconds": eval_seconds,
                    "threads": free_cores(), "splits": {}}
    for split, result in results.items():
        reasons = [failure_reasons(f, max_steps) for f in forests if f.split == split]
        lost = [r for r in reasons if not r["won"]]
        wins = round(result.success * result.games)
        report["splits"][split] = {
            **{k: v for k, v in asdict(result).items() if k != "wins"},
            "success_text": wilson_text(wins, result.games),
            "lost": len(lost),
            "lost_because": {key: sum(r[key] for r in lost) for key in lost[0] if key != "won"} if lost else {},
        }
    report.update(held_out_nll(model_dir, args.env, args.prompt_style, args.annotation, args.history_window))
    (out / "probe.json").write_text(json.dumps(report, indent=2) + "\n")
    for split, figures in report["splits"].items():
        print(f"{split}: success {figures['success_text']}  invalid {figures['invalid_rate']:.3f}  "
              f"inadmissible {figures['inadmissible_rate']:.3f}  lost_because {figures['lost_because']}")
    print(f"nll reasoning {report['nll_reasoning']:.3f} action {report['nll_action']:.3f}; "
          f"sft {sft_seconds:.0f}s eval {eval_seconds:.0f}s")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
