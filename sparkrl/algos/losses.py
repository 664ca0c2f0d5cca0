"""The policy loss of spark-method.md §4 as pure tensor functions.

Per token t of a step with ratio ``r = exp(logπ − logπ_old)`` and advantage A:

- PPO clip (Schulman et al. 2017): ``A·min(r, clip(r, 1−ε, 1+ε))`` for A ≥ 0;
- dual clip (Ye et al. 2020) for A < 0: ``max(min(r·A, clip(r)·A), c·A) = A·min(max(r, clip(r)), c)``;
- low-variance KL to the frozen reference (Schulman's k3):
  ``k3 = exp(logπ_ref − logπ) − (logπ_ref − logπ) − 1``;
- entropy bonus.

``loss = −mean_tok(objective) + β·mean_tok(k3) − η·mean_tok(entropy)`` with token-mean
aggregation over every token copy of the minibatch.

Shared rows: for a fixed r the objective is linear in A on each sign, so a step shared by m
leaves with per-copy advantages a_1..a_m contributes
``A⁺·min(r, clip r) + A⁻·min(max(r, clip r), c)`` with ``A⁺ = Σ max(a_i, 0)`` and
``A⁻ = Σ min(a_i, 0)``, and counts m times in the token mean — exactly the duplicated-rows
loss and gradient, computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sparkrl.config import option, validate


@dataclass(frozen=True)
class LossConfig:
    """Coefficients of the loss (defaults: spark-method.md §4)."""

    clip_eps: float = option(0.2, "ε: PPO ratio clip range", low=0.0, high=1.0)
    dual_clip: float = option(3.0, "c: dual-clip bound on the ratio for negative advantages", low=1.0)
    kl_coef: float = option(0.01, "β: weight of the low-variance KL to the reference (0 = off)", low=0.0)
    entropy_coef: float = option(0.001, "η: weight of the entropy bonus", low=0.0)

    def __post_init__(self) -> None:
        validate(self)


def aggregate_copies(per_copy: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A⁺, A⁻, multiplicity) per row from per-copy advantages."""
    pos = torch.tensor([float(np.clip(a, 0, None).sum()) for a in per_copy], dtype=torch.float32)
    neg = torch.tensor([float(np.clip(a, None, 0).sum()) for a in per_copy], dtype=torch.float32)
    mult = torch.tensor([float(len(a)) for a in per_copy], dtype=torch.float32)
    return pos, neg, mult


def clipped_objective(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    adv_pos: torch.Tensor,
    adv_neg: torch.Tensor,
    clip_eps: float,
    dual_clip: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token surrogate objective [B, T] and a 0/1 map of where a clip bound is active."""
    ratio = torch.exp(logprobs - old_logprobs)
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    gain_pos = torch.minimum(ratio, clipped)
    gain_neg = torch.maximum(ratio, clipped).clamp(max=dual_clip)
    objective = adv_pos[:, None] * gain_pos + adv_neg[:, None] * gain_neg
    active = ((adv_pos[:, None] > 0) & (ratio > 1.0 + clip_eps)) | (
        (adv_neg[:, None] < 0) & ((ratio < 1.0 - clip_eps) | (ratio > dual_clip))
    )
    return objective, active.float()


def low_variance_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """k3 estimator of KL(π‖π_ref) per token, clamped to [−10, 10] like verl for stability."""
    log_ratio = (ref_logprobs - logprobs).clamp(-20.0, 20.0)
    return (torch.exp(log_ratio) - log_ratio - 1.0).clamp(-10.0, 10.0)


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    entropy: torch.Tensor,
    mask: torch.Tensor,
    adv_pos: torch.Tensor,
    adv_neg: torch.Tensor,
    multiplicity: torch.Tensor,
    config: LossConfig,
    token_count: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a (micro)batch of rows [B, T] and its metrics.

    ``token_count`` is the number of token copies of the whole minibatch (Σ mask·multiplicity);
    pass it when the minibatch is split into micro-batches so the token mean stays exact.
    """
    mask = mask.float()
    weights = mask * multiplicity[:, None]
    total = float(weights.sum()) if token_count is None else token_count
    total = max(total, 1.0)
    objective, active = clipped_objective(
        logprobs, old_logprobs, adv_pos, adv_neg, config.clip_eps, config.dual_clip
    )
    pg_loss = -(objective * mask).sum() / total
    entropy_mean = (entropy * weights).sum() / total
    loss = pg_loss - config.entropy_coef * entropy_mean
    metrics = {
        "pg_loss": float(pg_loss.detach()),
        "entropy": float(entropy_mean.detach()),
        "clip_fraction": float((active * weights).sum() / total),
    }
    if ref_logprobs is not None and config.kl_coef > 0:
        kl_mean = (low_variance_kl(logprobs, ref_logprobs) * weights).sum() / total
        loss = loss + config.kl_coef * kl_mean
        metrics["kl"] = float(kl_mean.detach())
    return loss, metrics
