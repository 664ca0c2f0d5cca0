"""Learner speed: shared step rows (multiplicity > 1) vs the same steps as duplicated rows.

Real forests come from one short Spark rollout (household, N = 8, M = 4, B = 2, explore trigger
by default; ``--trigger fixed --trigger-probability 0.1`` forks later, so prefixes are shared more)
of the cold-started tiny model (see ``household_setup``). The same rows are then trained on
twice per repeat, each time from the same weights and a fresh AdamW: once shared (each step once,
with its multiplicity), once duplicated (one row per trajectory copy, the naive computation).
One ``update_policy`` call each (1 epoch, 1 minibatch, default micro-batch budget); engines
alternate across repeats. Times are CPU seconds on one torch thread (the box is shared).

Reported: the duplication factor (copies ÷ rows, and token-weighted), the time ratio shared ÷
duplicated against 1 ÷ duplication factor, learner throughput (tokens forwarded and backpropagated
per second; prompt + response, padding excluded), the padding fraction of the micro-batches with
length bucketing (``micro_batches``) and without (same token budget, rows in shuffled order), and
MFU against this CPU's measured fp32 matmul peak on the same thread count.

FLOPs formula (model FLOPs of the real tokens, training = 3 × forward): per row of length L with a
response of R tokens, forward = 2·N·L (N = non-embedding parameters) + 2·V·d·(R + 1) (the LM head,
computed only on the response positions) + n_layers·2·d·L² (causal QKᵀ and AV).

    python benchmarks/learner_speed.py [--quick]

The LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time

import torch
from household_setup import load_benchmark_policy

from sparkrl.algos.advantages import AdvantageConfig
from sparkrl.algos.losses import LossConfig
from sparkrl.envs import make
from sparkrl.models import Policy
from sparkrl.rollout.spark import RolloutConfig, spark_rollout
from sparkrl.train.config import OptimConfig
from sparkrl.train.learner import TrainRow, build_rows, micro_batches, update_policy


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 FLOP/s of ``torch.mm`` on two ``size`` × ``size`` matrices, per CPU second."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        torch.mm(a, b)
        best = min(best, time.process_time() - started)
    return 2 * size**3 / best


def training_flops(policy: Policy, rows: list[TrainRow]) -> float:
    """Model FLOPs of one forward + backward over ``rows`` (formula in the module docstring)."""
    config = policy.model.config
    embedding = policy.model.get_input_embeddings().weight.numel()
    non_embedding = sum(p.numel() for p in policy.model.parameters()) - embedding
    hidden, layers = config.hidden_size, config.num_hidden_layers
    forward = sum(
        2 * non_embedding * r.length + 2 * embedding * (len(r.response_ids) + 1) + layers * 2 * hidden * r.length**2
        for r in rows
    )
    return 3.0 * forward


def padding_fraction(chunks: list[list[TrainRow]]) -> float:
    """Share of the forwarded positions that are padding."""
    real = sum(r.length for chunk in chunks for r in chunk)
    padded = sum(len(chunk) * max(r.length for r in chunk) for chunk in chunks)
    return 1.0 - real / padded


def arrival_order_chunks(rows: list[TrainRow], max_tokens: int) -> list[list[TrainRow]]:
    """``micro_batches`` without the length sort: chunks in the order the rows come."""
    chunks: list[list[TrainRow]] = []
    for row in rows:
        chunk = chunks[-1] if chunks else []
        if chunk and (len(chunk) + 1) * max(row.length, max(r.length for r in chunk)) <= max_tokens:
            chunk.append(row)
        else:
            chunks.append([row])
    return chunks


def timed_update(policy: Policy, rows: list[TrainRow], optim: OptimConfig) -> float:
    """CPU seconds of one ``update_policy`` call on a copy of ``policy`` with a fresh AdamW
    (one torch thread: CPU time is the work done, steadier than wall time on a shared machine)."""
    model = copy.deepcopy(policy)
    optimizer = torch.optim.AdamW(model.model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    started = time.process_time()
    update_policy(model, optimizer, rows, LossConfig(), temperature=1.0, epochs=1, minibatches=1,
                  grad_clip=optim.grad_clip, micro_batch_tokens=optim.micro_batch_tokens, rng=random.Random(0))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trigger", default="explore", help="branch trigger of the rollout (explore | fixed | entropy)")
    parser.add_argument("--trigger-probability", type=float, default=0.3,
                        help="branch rate of the fixed trigger (a low rate forks later: longer shared prefixes)")
    parser.add_argument("--quick", action="store_true", help="2 tasks, 6 steps, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.max_steps, args.repeats = 2, 6, 2

    policy, description = load_benchmark_policy(args.model)
    print(f"model: {description}; 1 torch thread")
    env = make("household")
    rollout = RolloutConfig(num_leaves=8, num_roots=4, branch_factor=2, max_steps=args.max_steps,
                            trigger=args.trigger, trigger_probability=args.trigger_probability,
                            max_new_tokens=64)
    torch.manual_seed(0)
    with torch.no_grad():
        forests = spark_rollout(policy, env.tasks("train")[: args.tasks], lambda task: env.spawn(),
                                rollout, random.Random(0))
    shared = build_rows(forests, "spark", AdvantageConfig())
    duplicated = build_rows(forests, "spark", AdvantageConfig(), share_steps=False)
    shared_tokens = sum(r.length for r in shared)
    duplicated_tokens = sum(r.length for r in duplicated)
    factor_rows = len(duplicated) / len(shared)
    factor_tokens = duplicated_tokens / shared_tokens
    print(f"{len(forests)} forests, {sum(len(f.leaves()) for f in forests)} leaves: {len(shared)} shared rows, "
          f"{len(duplicated)} duplicated rows (x{factor_rows:.2f}; token-weighted x{factor_tokens:.2f})")

    optim = OptimConfig()
    timed_update(policy, shared[:4], optim)  # warm-up: first-call allocations
    times: dict[str, list[float]] = {"shared": [], "duplicated": []}
    for repeat in range(args.repeats):
        order = [("shared", shared), ("duplicated", duplicated)]
        for name, rows in order if repeat % 2 == 0 else order[::-1]:
            times[name].append(timed_update(policy, rows, optim))
    ratios = [s / d for s, d in zip(times["shared"], times["duplicated"])]
    shared_seconds = statistics.median(times["shared"])

    peak = matmul_peak_flops()
    flops = training_flops(policy, shared)
    shuffled = list(shared)
    random.Random(0).shuffle(shuffled)
    result = {
        "benchmark": "learner_speed", "model": description, "threads": torch.get_num_threads(),
        "trigger": args.trigger, "forests": len(forests), "shared_rows": len(shared), "duplicated_rows": len(duplicated),
        "duplication_factor_rows": round(factor_rows, 3),
        "duplication_factor_tokens": round(factor_tokens, 3),
        "shared_seconds": [round(t, 3) for t in times["shared"]],
        "duplicated_seconds": [round(t, 3) for t in times["duplicated"]],
        "time_ratio_shared_over_duplicated": round(statistics.median(ratios), 3),
        "time_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "inverse_duplication_factor_tokens": round(1 / factor_tokens, 3),
        "learner_tokens_per_s": round(shared_tokens / shared_seconds, 1),
        "effective_tokens_per_s": round(duplicated_tokens / shared_seconds, 1),
        "micro_batch_tokens": optim.micro_batch_tokens,
        "padding_fraction_bucketed": round(padding_fraction(micro_batches(shuffled, optim.micro_batch_tokens)), 4),
        "padding_fraction_unsorted": round(padding_fraction(arrival_order_chunks(shuffled, optim.micro_batch_tokens)), 4),
        "matmul_peak_gflops": round(peak / 1e9, 2),
        "achieved_gflops": round(flops / shared_seconds / 1e9, 3),
        "mfu": round(flops / shared_seconds / peak, 4),
        "flops_formula": "3 x (2*N_nonembed*L + 2*V*d*(R+1) + n_layers*2*d*L^2) per row",
    }
    print(f"update: shared {result['shared_seconds']} s, duplicated {result['duplicated_seconds']} s -> "
          f"ratio {result['time_ratio_shared_over_duplicated']} (range {result['time_ratio_range']}) vs "
          f"1/factor {result['inverse_duplication_factor_tokens']}")
    print(f"learner {result['learner_tokens_per_s']} tokens/s ({result['effective_tokens_per_s']} trajectory "
          f"tokens/s); padding {result['padding_fraction_bucketed']:.1%} bucketed vs "
          f"{result['padding_fraction_unsorted']:.1%} unsorted")
    print(f"MFU {result['mfu']:.2%}: {result['achieved_gflops']} GFLOP/s of a {result['matmul_peak_gflops']} "
          f"GFLOP/s fp32 matmul peak")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
