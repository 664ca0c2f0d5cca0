"""Rollout engine: ``Policy.sample`` vs a plain ``model.generate`` call on the same household prompts.

Two workloads, each one rollout step as ``spark_rollout`` issues it (one call for all active
trajectories, temperature 1, stop at ``</action>``, ``--max-new-tokens``):

- ``distinct``: ``--prompts`` different prompts, no forks;
- ``forks``: a Spark step right after every trajectory forked with B = 2: each of the
  ``--prompts`` prompts appears twice (a fork child and its parent share history and
  observation, so their next prompts are identical).

The baseline is one left-padded ``model.generate`` call on the same prompt list with
``stop_strings=["</action>"]``: it prefills every row and keeps finished rows in the batch
until the last one ends. Ours prefills each distinct prompt once, clones its KV cache, and
drops rows as they finish. Reported per workload (median and range over ``--repeats`` runs,
engines alternating, same process): generated tokens per second of each engine and their
ratio (by wall clock, and per CPU second, steadier on a busy machine), and prefill tokens (baseline: every row's prompt; ours: ``GenerationStats``).
Targets (issue 7): ratio >= 1.0 without forks, >= 1.3 with B = 2 forks; prefill / B at forks.

    python benchmarks/rollout_engine.py [--model tiny|smollm2-135m] [--quick]

The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch
from timing import Timer, left_padded
from household_setup import household_prompts, load_benchmark_policy

from sparkrl.models import Policy
from sparkrl.models.sampling import StopMatcher

STOP = "</action>"




def ours(policy: Policy, prompts: list[list[int]], max_new_tokens: int, seed: int) -> tuple[int, int, Timer]:
    """(generated tokens, prefill tokens, seconds) of one ``Policy.sample`` call."""
    generator = torch.Generator().manual_seed(seed)
    with Timer() as timer:
        policy.sample(prompts, max_new_tokens=max_new_tokens, stop=STOP, generator=generator)
    return policy.last_stats.generated_tokens, policy.last_stats.prefill_tokens, timer


def generate(policy: Policy, prompts: list[list[int]], max_new_tokens: int, seed: int) -> tuple[int, int, Timer]:
    """(generated tokens, prefill tokens, seconds) of one left-padded ``model.generate`` call."""
    input_ids, attention_mask = left_padded(prompts, policy.pad_id)
    torch.manual_seed(seed)
    with Timer() as timer, torch.inference_mode():
        output = policy.model.generate(
            input_ids=input_ids, attention_mask=attention_mask, do_sample=True, temperature=1.0,
            top_p=1.0, top_k=0, max_new_tokens=max_new_tokens, pad_token_id=policy.pad_id,
            eos_token_id=sorted(policy.eos_ids), stop_strings=[STOP], tokenizer=policy.tokenizer,
        )
    matcher = StopMatcher(policy.tokenizer, [STOP])
    generated = sum(_response_length(row, policy.eos_ids, matcher) for row in output[:, input_ids.shape[1]:].tolist())
    return generated, sum(len(p) for p in prompts), timer


def _response_length(row: list[int], eos_ids: frozenset[int], matcher: StopMatcher) -> int:
    """Tokens up to the one that completes the stop string or is EOS (``generate`` pads after)."""
    for index, token in enumerate(row):
        if token in eos_ids or matcher.matches(row[: index + 1]):
            return index + 1
    return len(row)


def measure(policy: Policy, prompts: list[list[int]], max_new_tokens: int, repeats: int) -> dict[str, object]:
    """Both engines ``repeats`` times on ``prompts``, alternating which goes first."""
    ratios, cpu_ratios, rates = [], [], {"sparkrl": [], "generate": []}
    prefill = {}
    for repeat in range(repeats):
        engines = [("sparkrl", ours), ("generate", generate)]
        if repeat % 2:
            engines.reverse()
        rate, cpu_rate = {}, {}
        for name, engine in engines:
            tokens, prefill[name], timer = engine(policy, prompts, max_new_tokens, seed=repeat)
            rate[name], cpu_rate[name] = tokens / timer.wall_s, tokens / timer.cpu_s
            rates[name].append(rate[name])
        ratios.append(rate["sparkrl"] / rate["generate"])
        cpu_ratios.append(cpu_rate["sparkrl"] / cpu_rate["generate"])
    return {
        "rows": len(prompts),
        "distinct_prompts": len({tuple(p) for p in prompts}),
        "sparkrl_tok_per_s": round(statistics.median(rates["sparkrl"]), 1),
        "generate_tok_per_s": round(statistics.median(rates["generate"]), 1),
        "throughput_ratio": round(statistics.median(ratios), 3),
        "throughput_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "cpu_throughput_ratio": round(statistics.median(cpu_ratios), 3),
        "sparkrl_prefill_tokens": prefill["sparkrl"],
        "generate_prefill_tokens": prefill["generate"],
        "prefill_ratio": round(prefill["generate"] / prefill["sparkrl"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny", help="tiny (cold-started when cached) | smollm2-135m | folder")
    parser.add_argument("--prompts", type=int, default=8, help="distinct prompts per step")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    policy, description = load_benchmark_policy(args.model)
    print(f"model: {description}; 1 torch thread; {repeats} repeats")
    prompts = household_prompts(policy, args.prompts)
    ours(policy, prompts[:1], 4, 0)  # warm-up: first-call allocations
    generate(policy, prompts[:1], 4, 0)
    workloads = {"distinct": prompts, "forks_b2": [p for p in prompts for _ in range(2)]}
    result: dict[str, object] = {
        "benchmark": "rollout_engine", "model": description, "threads": torch.get_num_threads(),
        "max_new_tokens": args.max_new_tokens, "repeats": repeats,
        "prompt_tokens": [len(p) for p in prompts],
    }
    for name, batch in workloads.items():
        row = measure(policy, batch, args.max_new_tokens, repeats)
        result[name] = row
        print(f"{name:9s} {row['rows']:3d} rows ({row['distinct_prompts']} distinct)  "
              f"sparkrl {row['sparkrl_tok_per_s']:8.1f} tok/s  generate {row['generate_tok_per_s']:8.1f} tok/s  "
              f"x{row['throughput_ratio']} (range {row['throughput_ratio_range']}, per CPU s x{row['cpu_throughput_ratio']})  "
              f"prefill {row['sparkrl_prefill_tokens']} vs {row['generate_prefill_tokens']} "
              f"(/{row['prefill_ratio']})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
