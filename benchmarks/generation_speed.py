"""Generation speed: sparkrl's decode loop vs plain ``model.generate`` on the same prompts.

Three workloads, each sampled at temperature 1 for up to ``--max-new-tokens`` tokens with no
stop string (EOS still ends a row): one prompt; eight distinct prompts; one prompt sampled
eight times (where sparkrl prefills the prompt once and ``generate`` prefills it eight times).
Prints tokens per second per engine and the speed-up, by wall clock and per CPU second (the
latter is steadier on a busy machine). The LAST line is one JSON object.

    python benchmarks/generation_speed.py [--spec smollm2-135m|tiny|FOLDER] [--max-new-tokens 64] [--threads 1]

The default spec is ``smollm2-135m`` when its package is installed, else ``tiny``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

import torch
from timing import Timer, left_padded

from sparkrl.models import GGUF_MODELS, Policy, load

TASKS = [
    "You are in the kitchen. You see a fridge 1, a countertop 1 and a cabinet 2. Your task is to put a clean mug in the coffeemachine.",
    "You are in the hallway. You see a door 1 and a shelf 3. Your task is to find the key and open the door.",
    "You are in the bedroom. You see a bed 1, a desk 1 and a drawer 4. Your task is to put a book on the desk.",
    "You are in the garden. You see a shed 1 and a bench 2. Your task is to water the plants.",
    "You are in the bathroom. You see a sink 1 and a towelholder 1. Your task is to put a towel in the cabinet.",
    "You are in the office. You see a desk 2 and a lamp 1. Your task is to turn on the lamp and read the letter.",
    "You are in the living room. You see a sofa 1, a tv 1 and a coffeetable 1. Your task is to find the remote.",
    "You are in the garage. You see a car 1 and a toolbox 1. Your task is to put the wrench in the toolbox.",
]
SYSTEM = "Reply with <think>...</think> then <action>...</action> with one admissible action."


def default_spec() -> str:
    package = GGUF_MODELS["smollm2-135m"].chunks[0][0]
    return "smollm2-135m" if importlib.util.find_spec(package) else "tiny"




def ours(policy: Policy, prompts: list[list[int]], n: int, max_new_tokens: int, seed: int) -> tuple[int, Timer]:
    """(generated tokens, timings) of one ``Policy.sample`` call."""
    generator = torch.Generator().manual_seed(seed)
    with Timer() as timer:
        completions = policy.sample(prompts, n=n, max_new_tokens=max_new_tokens, stop=None, generator=generator)
    return sum(len(c.response_ids) for c in completions), timer


def hf_generate(policy: Policy, prompts: list[list[int]], n: int, max_new_tokens: int, seed: int) -> tuple[int, Timer]:
    """(generated tokens, timings) of one left-padded ``model.generate`` call."""
    input_ids, attention_mask = left_padded(prompts, policy.pad_id)
    torch.manual_seed(seed)
    with Timer() as timer, torch.inference_mode():
        output = policy.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=n,
            pad_token_id=policy.pad_id,
            eos_token_id=sorted(policy.eos_ids),
        )
    return sum(_generated_length(row, policy.eos_ids) for row in output[:, input_ids.shape[1]:].tolist()), timer


def _generated_length(row: list[int], eos_ids: frozenset[int]) -> int:
    """Tokens up to and including the first EOS (``generate`` pads after it)."""
    for index, token in enumerate(row):
        if token in eos_ids:
            return index + 1
    return len(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default=None, help="model spec for sparkrl.models.load")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: free cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    spec = args.spec or default_spec()
    policy = load(spec, threads=args.threads)
    prompts = [policy.encode([{"role": "system", "content": SYSTEM}, {"role": "user", "content": t}]) for t in TASKS]
    workloads = {"batch1": ([prompts[0]], 1), "batch8_distinct": (prompts, 1), "batch8_shared": ([prompts[0]], 8)}

    ours(policy, [prompts[0]], 1, 4, args.seed)  # warm-up: first-call allocations
    hf_generate(policy, [prompts[0]], 1, 4, args.seed)
    results: dict[str, object] = {
        "spec": spec,
        "threads": torch.get_num_threads(),
        "max_new_tokens": args.max_new_tokens,
        "prompt_tokens": [len(p) for p in prompts],
    }
    for name, (batch, n) in workloads.items():
        row = {}
        for engine, run in (("sparkrl", ours), ("generate", hf_generate)):
            tokens, timer = run(policy, batch, n, args.max_new_tokens, args.seed)
            row[f"{engine}_tokens"] = tokens
            row[f"{engine}_tok_per_s"] = round(tokens / timer.wall_s, 2)
            row[f"{engine}_tok_per_cpu_s"] = round(tokens / timer.cpu_s, 2)
        row["speedup"] = round(row["sparkrl_tok_per_s"] / row["generate_tok_per_s"], 2)
        row["cpu_speedup"] = round(row["sparkrl_tok_per_cpu_s"] / row["generate_tok_per_cpu_s"], 2)
        results[name] = row
        print(
            f"{name:16s} sparkrl {row['sparkrl_tok_per_s']:8.2f} tok/s ({row['sparkrl_tokens']} tokens)   "
            f"generate {row['generate_tok_per_s']:8.2f} tok/s ({row['generate_tokens']} tokens)   "
            f"x{row['speedup']} (per CPU second: x{row['cpu_speedup']})"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
