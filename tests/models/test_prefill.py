"""Prefill in length groups and the grown-in-place KV cache give what one padded batch gives."""

from __future__ import annotations

import warnings

import pytest
import torch

from sparkrl.models import load
from sparkrl.models.prefill import PreallocatedLayer, cache_kwargs, left_pad, length_groups, prefill


@pytest.fixture(scope="module")
def policy():
    return load("tiny", threads=1)


def test_length_groups_cover_every_prompt_once_and_bound_padding():
    lengths = [1500, 450, 460, 1000, 455, 30, 980, 470]
    groups = length_groups(lengths, padding_slack=0.1)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    for group in groups:
        real = sum(lengths[i] for i in group)
        assert len(group) * max(lengths[i] for i in group) <= 1.1 * real
    assert [1500] in [[lengths[i] for i in group] for group in groups]
    assert length_groups([7, 7, 7]) == [[0, 1, 2]]


def test_grouped_prefill_then_decode_matches_full_forward_passes(policy):
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(10, policy.vocab_size, (n,), generator=generator).tolist() for n in (300, 40, 310, 7)]
    device = policy.device
    with torch.inference_mode():
        logits, cache, mask, next_position = prefill(policy.model, prompts, policy.pad_id, device, capacity=320)
        assert len(length_groups([len(p) for p in prompts])) > 1  # the grouped path is exercised
        assert next_position.tolist() == [len(p) for p in prompts]
        nxt = torch.tensor([[11], [12], [13], [14]])
        mask = torch.cat([mask, mask.new_ones((4, 1))], dim=1)
        step = policy.model(input_ids=nxt, attention_mask=mask, position_ids=next_position[:, None],
                            use_cache=True, **cache_kwargs(policy.model, cache)).logits[:, -1]
        for row, prompt in enumerate(prompts):
            full = policy.model(input_ids=torch.tensor([prompt + [11 + row]])).logits[0]
            assert torch.allclose(logits[row], full[-2], atol=1e-4)
            assert torch.allclose(step[row], full[-1], atol=1e-4)


def test_preallocated_layer_grows_past_its_capacity_and_selects_rows():
    keys, values = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 4, 5)
    layer = PreallocatedLayer(keys, values, capacity=5)
    new_keys, new_values = torch.randn(3, 2, 3, 5), torch.randn(3, 2, 3, 5)
    out_keys, out_values = layer.update(new_keys, new_values)
    assert torch.equal(out_keys, torch.cat([keys, new_keys], dim=-2))
    assert torch.equal(out_values, torch.cat([values, new_values], dim=-2))
    layer.batch_select_indices(torch.tensor([2, 2, 0]))
    assert layer.get_seq_length() == 7
    assert torch.equal(layer.keys, torch.cat([keys, new_keys], dim=-2)[[2, 2, 0]])


def test_left_pad_right_aligns_and_numbers_positions():
    ids, mask, positions = left_pad([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert positions[1, -1].item() == 0 and positions[0].tolist() == [0, 1, 2]


def test_dropping_finished_rows_compacts_in_place_and_keeps_growing():
    keys, values = torch.randn(4, 2, 3, 5), torch.randn(4, 2, 3, 5)
    layer = PreallocatedLayer(keys, values, capacity=8)
    layer.batch_select_indices(torch.tensor([1, 3]))
    assert torch.equal(layer.keys, keys[[1, 3]]) and torch.equal(layer.values, values[[1, 3]])
    new_keys, new_values = torch.randn(2, 2, 1, 5), torch.randn(2, 2, 1, 5)
    out_keys, out_values = layer.update(new_keys, new_values)
    assert torch.equal(out_keys, torch.cat([keys[[1, 3]], new_keys], dim=-2))
    assert torch.equal(out_values, torch.cat([values[[1, 3]], new_values], dim=-2))


def test_sampling_passes_the_cache_under_the_supported_keyword(policy):
    """transformers 5.25 deprecates ``past_key_values`` (removed in 5.40): no FutureWarning."""
    prompts = [[5, 6, 7, 8], [9, 10]]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past_key_values.*")
        policy.sample(prompts, max_new_tokens=4, temperature=1.0, generator=torch.Generator().manual_seed(0))
