"""Constrained decoding of the action span: only admissible commands, exact masked log-probs."""

from __future__ import annotations

import pytest
import torch

from sparkrl.agent.parser import parse_response
from sparkrl.models import build_tiny, load
from sparkrl.models.constrained import ActionMask, ActionTokenizer, ActionTrie, SpanTracker, TokenRule
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
    mask = ActionMask(5, (TokenRule((1, 2)), TokenRule((3,)), TokenRule((7, 8), allow=False)))
    assert mask.to_json() == [5, [[1, 2], [3], {"block": [7, 8]}]]
    assert ActionMask.from_json(mask.to_json()) == mask
    assert ActionMask.from_json(None) is None


def test_an_untrained_model_keeps_to_the_format_with_single_token_tags(tmp_path):
    """The tiny tokenizer has one token per tag, so the whole format is constrained: even a
    randomly initialised model opens with a reasoning tag and never writes another tag (or a
    special token) inside the reasoning; log-probs match the learner's recomputation."""
    policy = load(str(build_tiny(synthetic_corpus(), tmp_path / "m", seed=0)), threads=1)
    tags = policy.action_tokenizer.tags
    assert tags is not None
    prompts = [policy.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    completions = policy.sample(prompts, n=2, temperature=1.0, max_new_tokens=24, actions=[COMMANDS] * len(prompts),
                                generator=torch.Generator().manual_seed(0))
    for completion in completions:
        ids = completion.response_ids
        assert ids[0] in tags.openers and completion.action_mask.start == 0
        closer = tags.closers[ids[0]]
        reasoning = ids[1:ids.index(closer)] if closer in ids else ids[1:]
        assert reasoning and not set(reasoning) & set(tags.reserved)
    with torch.no_grad():
        scored = policy.logprobs([(c.prompt_ids, c.response_ids) for c in completions], 1.0,
                                 masks=[c.action_mask for c in completions])
    for row, completion in enumerate(completions):
        expected = torch.tensor(completion.logprobs)
        assert torch.allclose(scored.logprobs[row, :len(expected)], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_every_finished_response_is_valid_with_an_admissible_action(trained, temperature):
    prompts = [trained.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    completions = trained.sample(prompts, n=4, temperature=temperature, max_new_tokens=64,
                                 actions=[COMMANDS[:3]] * len(prompts), generator=torch.Generator().manual_seed(2))
    finished = [c for c in completions if c.finish_reason == "stop"]
    assert len(finished) >= len(completions) // 2
    for completion in finished:
        parsed = parse_response(completion.text)
        assert parsed.valid and parsed.action in COMMANDS[:3], (parsed.error, completion.text)


def test_tokenizers_with_multi_token_tags_constrain_the_action_span_only():
    class SplitTags:  # every tag spans two tokens
        all_special_ids: list[int] = []

        def decode(self, ids, skip_special_tokens=False):
            return "".join(chr(i) for i in ids)

    encode = lambda text: [ord(c) for c in text]
    tokenizer = ActionTokenizer(SplitTags(), encode)
    assert tokenizer.tags is None
    tracker = tokenizer.tracker(["go"])()
    assert isinstance(tracker, SpanTracker)
    assert tracker.next_rule(encode("<think>x</think>\n")) is None  # free before the opener
    assert tracker.next_rule(encode("<think>x</think>\n<action>")) == TokenRule((ord("g"),))


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
