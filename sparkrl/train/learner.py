"""The policy update: turn forests into training rows and take PPO-style steps on them.

A step shared by m leaves is ONE row with its per-copy advantages summed by sign and weight m
(see ``sparkrl.algos.losses``): the loss and gradient equal those of the m duplicated rows,
at 1/m of the compute. Rows are grouped by length into micro-batches so padding stays small;
the token mean is taken over the whole minibatch, so micro-batching never changes the maths.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from sparkrl.algos.advantages import AdvantageConfig, compute_advantages
from sparkrl.algos.losses import LossConfig, aggregate_copies, policy_loss
from sparkrl.models.constrained import ActionMask
from sparkrl.rollout.tree import TaskForest


class ScoringPolicy(Protocol):
    """The part of ``sparkrl.models.Policy`` the learner needs."""

    model: torch.nn.Module

    def logprobs(
        self, rows: Sequence[tuple[list[int], list[int]]], temperature: float = 1.0,
        masks: Sequence[ActionMask | None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...


@dataclass
class TrainRow:
    """One distinct step to train on."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: list[float]
    adv_pos: float
    adv_neg: float
    multiplicity: int
    ref_logprobs: list[float] | None = None
    action_mask: ActionMask | None = None
    """The constrained-decoding mask the step was sampled under (re-applied when scoring)."""

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


def build_rows(
    forests: Sequence[TaskForest], estimator: str, config: AdvantageConfig, share_steps: bool = True
) -> list[TrainRow]:
    """Rows of every forest with their advantages; empty responses are skipped.

    With ``share_steps`` a step shared by m leaves is one row of multiplicity m; without it, m
    rows of multiplicity 1 (the naive duplicated-rows computation, for tests and benchmarks).
    """
    rows = []
    for forest in forests:
        step_rows, advantages = compute_advantages(forest, estimator, config)
        for row, per_copy in zip(step_rows, advantages):
            node = forest.nodes[row.node_id]
            if not node.response_ids:
                continue
            copies = [per_copy] if share_steps else [per_copy[i:i + 1] for i in range(len(per_copy))]
            mask = ActionMask.from_json(node.action_mask)
            for pos, neg, mult in zip(*aggregate_copies(copies)):
                rows.append(TrainRow(node.prompt_ids, node.response_ids, node.logprobs,
                                     float(pos), float(neg), int(mult), action_mask=mask))
    return rows


def micro_batches(rows: Sequence[TrainRow], max_tokens: int) -> list[list[TrainRow]]:
    """Length-sorted chunks whose padded size (rows × longest) stays under ``max_tokens``."""
    chunks: list[list[TrainRow]] = []
    current: list[TrainRow] = []
    for row in sorted(rows, key=lambda r: r.length):
        if current and (len(current) + 1) * row.length > max_tokens:
            chunks.append(current)
            current = []
        current.append(row)
    if current:
        chunks.append(current)
    return chunks


def _score(policy: ScoringPolicy, chunk: Sequence[TrainRow], temperature: float):
    """``policy.logprobs`` of the chunk's rows, under their constrained-decoding masks when any
    row has one (masks are only passed then, so scorers without mask support still work)."""
    pairs = [(r.prompt_ids, r.response_ids) for r in chunk]
    masks = [row.action_mask for row in chunk]
    if any(m is not None for m in masks):
        return policy.logprobs(pairs, temperature, masks=masks)
    return policy.logprobs(pairs, temperature)


def _pad(values: Sequence[list[float]], width: int, device: torch.device) -> torch.Tensor:
    return torch.tensor([v + [0.0] * (width - len(v)) for v in values], dtype=torch.float32, device=device)


@torch.no_grad()
def attach_reference_logprobs(
    reference: ScoringPolicy, rows: Sequence[TrainRow], temperature: float, max_tokens: int
) -> None:
    """Fill ``row.ref_logprobs`` from the frozen reference policy."""
    for chunk in micro_batches(rows, max_tokens):
        logprobs, _, mask = _score(reference, chunk, temperature)
        for row, values, row_mask in zip(chunk, logprobs, mask):
            row.ref_logprobs = values[row_mask.bool()].tolist()


def accumulate_gradients(
    policy: ScoringPolicy,
    minibatch: Sequence[TrainRow],
    loss_config: LossConfig,
    *,
    temperature: float,
    micro_batch_tokens: int,
) -> dict[str, float] | None:
    """Backpropagate the loss of ``minibatch`` (token mean over all its token copies) into the
    parameters' ``.grad``, one length-bucketed micro-batch at a time; return the minibatch's
    metrics, or ``None`` as soon as a micro-batch's loss is not finite."""
    token_count = float(sum(len(r.response_ids) * r.multiplicity for r in minibatch))
    metrics: dict[str, float] = {}
    for chunk in micro_batches(minibatch, micro_batch_tokens):
        logprobs, entropy, mask = _score(policy, chunk, temperature)
        width = logprobs.shape[1]
        device = logprobs.device  # the learner's (a GPU when there is one); rows live on the CPU
        pos, neg, mult = (torch.tensor([getattr(r, k) for r in chunk], dtype=torch.float32, device=device)
                          for k in ("adv_pos", "adv_neg", "multiplicity"))
        ref = _pad([r.ref_logprobs for r in chunk], width, device) if chunk[0].ref_logprobs is not None else None
        loss, chunk_metrics = policy_loss(
            logprobs, _pad([r.old_logprobs for r in chunk], width, device), ref, entropy, mask,
            pos, neg, mult, loss_config, token_count=token_count,
        )
        if not torch.isfinite(loss):
            return None
        loss.backward()
        # Each chunk's metrics are its share of the minibatch's token means: they add up.
        for key, value in chunk_metrics.items():
            metrics[key] = metrics.get(key, 0.0) + value
        metrics["loss"] = metrics.get("loss", 0.0) + float(loss.detach())
    return metrics


def update_policy(
    policy: ScoringPolicy,
    optimizer: torch.optim.Optimizer,
    rows: Sequence[TrainRow],
    loss_config: LossConfig,
    *,
    temperature: float,
    epochs: int,
    minibatches: int,
    grad_clip: float,
    micro_batch_tokens: int,
    rng: random.Random,
) -> dict[str, float]:
    """PPO-style epochs over ``rows``; returns averaged loss metrics and the last grad norm.

    A minibatch whose loss or gradient is not finite is skipped (counted in ``skipped_steps``).
    """
    totals: dict[str, float] = {}
    steps = skipped = 0
    grad_norm = 0.0
    policy.model.train()
    for _ in range(epochs):
        order = list(rows)
        rng.shuffle(order)
        size = math.ceil(len(order) / minibatches) if order else 0
        for start in range(0, len(order), max(size, 1)):
            minibatch = order[start:start + size]
            optimizer.zero_grad(set_to_none=True)
            batch_metrics = accumulate_gradients(policy, minibatch, loss_config, temperature=temperature,
                                                 micro_batch_tokens=micro_batch_tokens)
            norm = torch.nn.utils.clip_grad_norm_(policy.model.parameters(), grad_clip or float("inf"))
            if batch_metrics is None or not torch.isfinite(norm):
                optimizer.zero_grad(set_to_none=True)
                skipped += 1
                continue
            optimizer.step()
            steps += 1
            grad_norm = float(norm)
            for key, value in batch_metrics.items():
                totals[key] = totals.get(key, 0.0) + value
    result = {key: value / max(steps, 1) for key, value in totals.items()}
    result.update(grad_norm=grad_norm, optimizer_steps=steps, skipped_steps=skipped, rows=len(rows),
                  row_copies=sum(r.multiplicity for r in rows))
    return result
