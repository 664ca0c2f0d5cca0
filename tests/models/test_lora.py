"""LoRA through peft on the tiny model: adapters train, the base is the reference, round trips."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("peft")

from sparkrl.models import load
from sparkrl.models.lora import (
    AdapterDisabledReference,
    apply_lora,
    is_lora,
    load_adapter_weights,
    merged_weights,
)
from sparkrl.train.config import LORA_TARGETS

ROW = ([5, 17, 23, 42, 8, 99], [31, 7, 64, 12])


def fresh_policy():
    torch.manual_seed(0)
    return load("tiny", threads=1)


def train_adapters(policy, steps=8):
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad], lr=5e-2)
    losses = []
    for _ in range(steps):
        logprobs, _, mask = policy.logprobs([ROW])
        loss = -(logprobs * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_lora_trains_only_adapters_and_reference_is_the_base():
    base = fresh_policy()
    with torch.no_grad():
        base_logprobs = base.logprobs([ROW]).logprobs.clone()
    policy = apply_lora(base, r=4, alpha=8.0, target_modules=LORA_TARGETS)
    assert is_lora(policy.model)
    trainable = [name for name, p in policy.model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)

    losses = train_adapters(policy)
    assert losses[-1] < losses[0] - 0.1

    reference = AdapterDisabledReference(policy)
    assert reference.model is policy.model  # no second copy of the weights
    with torch.no_grad():
        ref_logprobs = reference.logprobs([ROW]).logprobs
        trained_logprobs = policy.logprobs([ROW]).logprobs
    torch.testing.assert_close(ref_logprobs, base_logprobs, atol=1e-6, rtol=0)
    assert not torch.allclose(trained_logprobs, base_logprobs, atol=1e-3)
    # rollouts sample from the adapted model through the same Policy API
    (completion,) = policy.sample([ROW[0]], max_new_tokens=4, generator=torch.Generator().manual_seed(0))
    assert 1 <= len(completion.response_ids) <= 4


def test_merged_weights_reproduce_the_adapted_model_under_plain_names():
    policy = apply_lora(fresh_policy(), r=4, alpha=8.0, target_modules=LORA_TARGETS)
    train_adapters(policy, steps=3)
    plain = fresh_policy()
    weights = merged_weights(policy.model)
    assert set(weights) == set(plain.model.state_dict())
    plain.model.load_state_dict(weights)
    with torch.no_grad():
        torch.testing.assert_close(plain.logprobs([ROW]).logprobs, policy.logprobs([ROW]).logprobs,
                                   atol=1e-5, rtol=0)


def test_adapters_save_and_load_round_trip(tmp_path):
    policy = apply_lora(fresh_policy(), r=4, alpha=8.0, target_modules=LORA_TARGETS)
    train_adapters(policy, steps=3)
    policy.model.save_pretrained(tmp_path / "model")
    assert (tmp_path / "model" / "adapter_model.safetensors").is_file()
    assert not list((tmp_path / "model").glob("model*.safetensors"))  # adapters only

    restored = apply_lora(fresh_policy(), r=4, alpha=8.0, target_modules=LORA_TARGETS)
    load_adapter_weights(restored, tmp_path / "model")
    with torch.no_grad():
        torch.testing.assert_close(restored.logprobs([ROW]).logprobs, policy.logprobs([ROW]).logprobs)

    other_rank = apply_lora(fresh_policy(), r=2, alpha=8.0, target_modules=LORA_TARGETS)
    with pytest.raises(ValueError, match="rank 4"):
        load_adapter_weights(other_rank, tmp_path / "model")
    with pytest.raises(FileNotFoundError, match="no LoRA adapters"):
        load_adapter_weights(restored, tmp_path)


def test_unknown_target_modules_are_named():
    with pytest.raises(ValueError, match="c_attn"):
        apply_lora(fresh_policy(), r=4, alpha=8.0, target_modules=("c_attn",))
