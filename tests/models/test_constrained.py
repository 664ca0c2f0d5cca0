"""Constrained decoding of the action span: only admissible commands, exact masked log-probs."""

from __future__ import annotations

import pytest
import torch

from sparkrl.agent.parser import parse_response
from sparkrl.models import build_tiny, load
from sparkrl.models.constrained import ActionMask, ActionTrie
from tests.models.test_policy import ROOMS, TARGET, messages, synthetic_corpus

COMMANDS = ["go to kitchen", "go to garden", "take key", "open lamp", "take apple"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny model after a few steps on ``TARGET``: it writes ``<action>`` and then (free)
    `take apple`, so constraining it to other commands is a real test."""
    policy = load(str(build_tiny(synthetic_corpus(), tmp_path_factory.mktemp("tiny") / "m", seed=0)), threads=1)
    prompts = [policy.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    target = policy.encode_text(TARGET)
    optimizer = torch.optim.Adam(policy.model.parameters(), lr=3e-3)
    for _ in range(40):
        scored = policy.logprobs([(p, target) for p in prompts])
        loss = -(scored.logprobs.sum() / scored.mask.sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.model.eval()
    return policy


def test_trie_serves_continuations_and_ends_after_a_full_sequence():
    trie = ActionTrie([[1, 2, 9], [1, 3, 9], [4, 9]])
    assert trie.allowed([]) == (1, 4)
    assert trie.allowed([1]) == (2, 3)
    assert trie.allowed([1, 3]) == (9,)
    assert trie.allowed([1, 3, 9]) == ()
    assert trie.allowed([7]) == ()
    assert not ActionTrie([])


def test_mask_json_round_trip():
    mask = ActionMask(5, ((1, 2), (3,)))
    assert ActionMask.from_json(mask.to_json()) == mask
    assert ActionMask.from_json(None) is None


@pytest.mark.parametrize("temperature", [1.0, 0.4])
def test_only_admissible_commands_can_be_produced(trained, temperature):
    allowed = ["go to kitchen", "open lamp", "go to garden"]  # the model's own favourite is excluded
    prompts = [trained.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    completions = trained.sample(prompts, n=4, temperature=temperature, max_new_tokens=48,
                                 actions=[allowed] * len(prompts), generator=torch.Generator().manual_seed(0))
    spans = [c for c in completions if c.action_mask is not None]
    assert len(spans) >= len(completions) // 2  # the trained model does open the action block
    for completion in spans:
        parsed = parse_response(completion.text)
        assert parsed.action in allowed, completion.text
        assert completion.finish_reason == "stop"


def test_free_sampling_of_the_same_model_writes_its_favourite(trained):
    prompts = [trained.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    completions = trained.sample(prompts, n=2, temperature=0.4, max_new_tokens=48,
                                 generator=torch.Generator().manual_seed(0))
    assert all(c.action_mask is None for c in completions)
    assert any(parse_response(c.text).action == "take apple" for c in completions)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_sampled_logprobs_equal_the_learners_masked_recomputation(trained, temperature):
    prompts = [trained.encode(messages(f"You are in the {room}.")) for room in ROOMS[:4]]
    # Different lists per prompt, one of them free: masks must align row by row.
    actions = [COMMANDS, COMMANDS[:2], None, ["take apple", "take key"]]
    completions = trained.sample(prompts, n=3, temperature=temperature, max_new_tokens=48,
                                 actions=actions, generator=torch.Generator().manual_seed(3))
    masks = [c.action_mask for c in completions]
    assert any(m is not None for m in masks) and any(m is None for m in masks)
    with torch.no_grad():
        scored = trained.logprobs([(c.prompt_ids, c.response_ids) for c in completions], temperature, masks=masks)
        free = trained.logprobs([(c.prompt_ids, c.response_ids) for c in completions], temperature)
    for row, completion in enumerate(completions):
        length = len(completion.response_ids)
        expected = torch.tensor(completion.logprobs)
        assert torch.allclose(scored.logprobs[row, :length], expected, atol=1e-5, rtol=0)
        if completion.action_mask is not None and temperature > 0:
            # The mask matters: the free distribution gives the span's tokens less mass.
            start = completion.action_mask.start
            assert (free.logprobs[row, start:length] <= scored.logprobs[row, start:length] + 1e-6).all()
        assert torch.isfinite(scored.entropy[row, :length]).all()


def test_masked_logprobs_carry_gradients_only_to_allowed_tokens(trained):
    prompt = trained.encode(messages("You are in the kitchen."))
    [completion] = trained.sample([prompt], temperature=1.0, max_new_tokens=48, actions=[COMMANDS],
                                  generator=torch.Generator().manual_seed(1))
    assert completion.action_mask is not None
    trained.model.zero_grad()
    scored = trained.logprobs([(completion.prompt_ids, completion.response_ids)], 1.0,
                              masks=[completion.action_mask])
    loss = -scored.logprobs.sum() - scored.entropy.sum()
    loss.backward()
    grads = [p.grad for p in trained.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    trained.model.zero_grad()
