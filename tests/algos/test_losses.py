import math

import numpy as np
import torch

from sparkrl.algos.losses import LossConfig, aggregate_copies, low_variance_kl, policy_loss

CONFIG = LossConfig(clip_eps=0.2, dual_clip=3.0, kl_coef=0.01, entropy_coef=0.001)


def direct_token_objective(r, a, eps=0.2, c=3.0):
    clipped = min(max(r, 1 - eps), 1 + eps)
    value = min(r * a, clipped * a)
    return max(value, c * a) if a < 0 else value


def test_loss_matches_a_direct_per_token_formula():
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(3, 4, generator=g) * 0.5 - 1
    old = logp + torch.randn(3, 4, generator=g) * 0.6
    ref = logp + torch.randn(3, 4, generator=g) * 0.3
    ent = torch.rand(3, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float32)
    adv = [1.5, -2.0, 0.7]
    pos, neg, mult = aggregate_copies([np.array([a]) for a in adv])
    loss, metrics = policy_loss(logp, old, ref, ent, mask, pos, neg, mult, CONFIG)

    total, objective, kl, entropy = 0, 0.0, 0.0, 0.0
    for b in range(3):
        for t in range(4):
            if mask[b, t]:
                r = math.exp(logp[b, t] - old[b, t])
                objective += direct_token_objective(r, adv[b])
                d = float(ref[b, t] - logp[b, t])
                kl += math.exp(d) - d - 1
                entropy += float(ent[b, t])
                total += 1
    expected = -objective / total + 0.01 * kl / total - 0.001 * entropy / total
    assert abs(float(loss) - expected) < 1e-5
    assert 0.0 <= metrics["clip_fraction"] <= 1.0


def test_shared_rows_equal_duplicated_rows_in_loss_and_gradient():
    g = torch.Generator().manual_seed(1)
    base = torch.randn(2, 5, generator=g)
    old = base.detach() + torch.randn(2, 5, generator=g) * 0.4
    ref = base.detach() + torch.randn(2, 5, generator=g) * 0.2
    ent = torch.rand(2, 5, generator=g)
    mask = torch.ones(2, 5)
    copies = [np.array([1.2, -0.4, 2.0]), np.array([-1.0])]  # row 0 shared by three leaves

    shared = base.clone().requires_grad_(True)
    pos, neg, mult = aggregate_copies(copies)
    loss_shared, _ = policy_loss(shared, old, ref, ent, mask, pos, neg, mult, CONFIG)
    loss_shared.backward()

    dup = base.clone().requires_grad_(True)
    index = torch.tensor([0, 0, 0, 1])
    flat = [np.array([a]) for row in copies for a in row]
    pos_d, neg_d, mult_d = aggregate_copies(flat)
    loss_dup, _ = policy_loss(dup[index], old[index], ref[index], ent[index], mask[index],
                              pos_d, neg_d, mult_d, CONFIG)
    loss_dup.backward()
    assert torch.allclose(loss_shared, loss_dup, rtol=1e-5, atol=1e-7)
    assert torch.allclose(shared.grad, dup.grad, rtol=1e-5, atol=1e-7)


def test_k3_kl_is_zero_at_equality_and_positive_otherwise():
    x = torch.tensor([[-1.0, -2.0]])
    assert torch.allclose(low_variance_kl(x, x), torch.zeros_like(x))
    assert (low_variance_kl(x, x + 0.3) > 0).all()


def test_dual_clip_bounds_negative_advantage_loss():
    logp = torch.tensor([[2.0]])  # ratio e^2 ≈ 7.4 > c
    old = torch.zeros(1, 1)
    pos, neg, mult = aggregate_copies([np.array([-1.0])])
    loss, metrics = policy_loss(logp, old, None, torch.zeros(1, 1), torch.ones(1, 1), pos, neg, mult,
                                LossConfig(kl_coef=0.0, entropy_coef=0.0))
    assert abs(float(loss) - 3.0) < 1e-6 and metrics["clip_fraction"] == 1.0
