"""Policy sampling and log-probs on the tiny model built from a small synthetic corpus."""

from __future__ import annotations

import pytest
import torch

from sparkrl.models import Policy, build_tiny, load
from sparkrl.models.sampling import StopMatcher

ROOMS = ["kitchen", "hallway", "bedroom", "garden", "bathroom", "office"]
OBJECTS = ["apple", "key", "lamp", "book", "mug", "towel"]
TARGET = "<think>The apple is here.</think><action>take apple</action>"


def synthetic_corpus() -> list[str]:
    texts = []
    for i, room in enumerate(ROOMS):
        for j, obj in enumerate(OBJECTS):
            goal_room = ROOMS[(i + j) % len(ROOMS)]
            texts.append(f"You are in the {room}. You see a {obj}. Put the {obj} in the {goal_room}.")
            texts.append(f"<think>The {obj} goes to the {goal_room}.</think><action>take {obj}</action>")
            texts.append(f"<explore>Where is the {obj}? Maybe the {room}.</explore><action>go to {room}</action>")
    return texts


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Reply with one action."}, {"role": "user", "content": text}]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return build_tiny(synthetic_corpus(), tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="module")
def policy(tiny_folder) -> Policy:
    return load(str(tiny_folder), threads=1)


@pytest.fixture(scope="module")
def trained_policy(tiny_folder) -> Policy:
    """The tiny model after a few gradient steps on ``TARGET``, through ``Policy.logprobs``:
    it then ends its responses with ``</action>``."""
    trained = load(str(tiny_folder), threads=1)
    prompts = [trained.encode(messages(f"You are in the {room}.")) for room in ROOMS]
    target = trained.encode_text(TARGET)
    optimizer = torch.optim.Adam(trained.model.parameters(), lr=3e-3)
    for _ in range(40):
        scored = trained.logprobs([(p, target) for p in prompts])
        loss = -(scored.logprobs.sum() / scored.mask.sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trained.model.eval()
    return trained


def prompt_ids(policy: Policy) -> list[list[int]]:
    short = policy.encode(messages("Go."))
    long = policy.encode(messages("You are in the garden. You see a lamp and a towel. Put the lamp in the office."))
    return [short, long, short]


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_sampled_logprobs_match_a_separate_forward_pass(policy, temperature):
    prompts = prompt_ids(policy)
    assert len(prompts[0]) != len(prompts[1])  # the batch is padded and prompt 0 is shared
    completions = policy.sample(
        prompts, n=3, temperature=temperature, max_new_tokens=12, stop=None,
        generator=torch.Generator().manual_seed(1),
    )
    with torch.no_grad():
        scored = policy.logprobs([(c.prompt_ids, c.response_ids) for c in completions], temperature)
    lengths = [len(c.response_ids) for c in completions]
    assert scored.mask.sum(dim=1).tolist() == lengths
    for row, completion in enumerate(completions):
        assert len(completion.logprobs) == lengths[row]
        expected = torch.tensor(completion.logprobs)
        assert torch.allclose(scored.logprobs[row, : lengths[row]], expected, atol=1e-4, rtol=0)
    assert torch.all(scored.logprobs[~scored.mask] == 0)
    assert torch.all(scored.entropy[scored.mask] > 0)


def test_completions_are_prompt_major_and_shared_prompts_prefilled_once(policy):
    prompts = prompt_ids(policy)
    completions = policy.sample(prompts, n=2, max_new_tokens=4, generator=torch.Generator().manual_seed(0))
    assert len(completions) == 6
    for index, completion in enumerate(completions):
        assert completion.prompt_ids == prompts[index // 2]
    stats = policy.last_stats
    assert (stats.rows, stats.distinct_prompts) == (6, 2)
    assert stats.prefill_tokens == len(prompts[0]) + len(prompts[1])
    assert stats.prompt_tokens == 2 * sum(len(p) for p in prompts)
    assert stats.generated_tokens == sum(len(c.response_ids) for c in completions)
    assert all(0.0 <= c.head_entropy <= 1.0 for c in completions)


def test_sampling_is_deterministic_given_a_generator(policy):
    prompts = prompt_ids(policy)

    def run(seed: int) -> list[list[int]]:
        completions = policy.sample(prompts, n=2, max_new_tokens=10, generator=torch.Generator().manual_seed(seed))
        return [c.response_ids for c in completions]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_message_prompts_equal_their_encoded_ids(policy):
    chat = messages("Go.")
    by_messages = policy.sample([chat], max_new_tokens=6, generator=torch.Generator().manual_seed(5))
    by_ids = policy.sample([policy.encode(chat)], max_new_tokens=6, generator=torch.Generator().manual_seed(5))
    assert by_messages == by_ids


def test_a_tiny_top_p_keeps_only_the_most_likely_token(policy):
    prompts = prompt_ids(policy)
    nucleus = policy.sample(prompts, top_p=1e-6, max_new_tokens=8, stop=None, generator=torch.Generator().manual_seed(0))
    greedy = policy.sample(prompts, temperature=0.0, max_new_tokens=8, stop=None)
    assert [c.response_ids for c in nucleus] == [c.response_ids for c in greedy]


def test_length_limits_end_responses(policy):
    prompt = prompt_ids(policy)[0]
    for completion in policy.sample([prompt], n=4, max_new_tokens=5, stop=None, generator=torch.Generator().manual_seed(0)):
        if completion.finish_reason == "length":
            assert len(completion.response_ids) == 5
        else:
            assert completion.response_ids[-1] in policy.eos_ids
    context_end = Policy(policy.model, policy.tokenizer)
    context_end.max_positions = len(prompt) + 3
    completion = context_end.sample([prompt], temperature=0.0, max_new_tokens=50, stop=None)[0]
    assert (completion.finish_reason, len(completion.response_ids)) == ("length", 3)


def test_training_through_logprobs_raises_the_target_likelihood(policy, trained_policy):
    prompt = trained_policy.encode(messages("You are in the kitchen."))
    target = trained_policy.encode_text(TARGET)
    with torch.no_grad():
        before = policy.logprobs([(prompt, target)]).logprobs.sum()
        after = trained_policy.logprobs([(prompt, target)]).logprobs.sum()
    assert after > before + 10


def test_sampling_stops_at_the_action_tag(trained_policy):
    prompt = trained_policy.encode(messages("You are in the office."))
    completions = trained_policy.sample([prompt], n=4, max_new_tokens=40, generator=torch.Generator().manual_seed(0))
    for completion in completions:
        assert completion.finish_reason == "stop"
        assert completion.text.endswith("</action>")
        assert trained_policy.decode(completion.response_ids) == completion.text


def test_a_stop_string_spanning_tokens_ends_the_response_at_the_token_completing_it(trained_policy):
    prompt = trained_policy.encode(messages("You are in the office."))
    completion = trained_policy.sample([prompt], temperature=0.0, max_new_tokens=40, stop="ke ap")[0]
    assert completion.finish_reason == "stop"
    assert "ke ap" in completion.text
    assert "ke ap" not in trained_policy.decode(completion.response_ids[:-1])
    assert len(trained_policy.encode_text("ke ap")) > 1


def test_finished_rows_stop_being_decoded(policy):
    short, long, _ = prompt_ids(policy)
    capped = Policy(policy.model, policy.tokenizer)
    capped.max_positions = len(long) + 3  # the long prompt's rows run out of context first
    completions = capped.sample([long, short], n=2, temperature=0.0, max_new_tokens=12, stop=None)
    lengths = [len(c.response_ids) for c in completions]
    assert lengths[:2] == [3, 3] and min(lengths[2:]) > 3
    # Each row is fed to the model once per token after its first, and never after it finishes.
    assert capped.last_stats.decode_row_steps == sum(n - 1 for n in lengths)


def test_stop_matcher_finds_a_stop_split_over_tokens(policy):
    matcher = StopMatcher(policy.tokenizer, ["</action>"])
    whole = policy.encode_text("take apple</action>")
    split = policy.encode_text("take apple</") + policy.encode_text("action>")
    assert matcher.matches(whole) and matcher.matches(split)
    assert not matcher.matches(policy.encode_text("take apple</act"))


def test_encode_uses_the_chat_template(policy):
    text = policy.decode(policy.encode(messages("Go.")), skip_special_tokens=False)
    assert text == "<|im_start|>system\nReply with one action.<|im_end|>\n<|im_start|>user\nGo.<|im_end|>\n<|im_start|>assistant\n"


def test_a_tokenizer_without_chat_template_gets_the_plain_one(tiny_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    tokenizer.chat_template = None
    plain = Policy(load(str(tiny_folder), threads=1).model, tokenizer)
    text = plain.decode(plain.encode(messages("Go.")), skip_special_tokens=False)
    assert text == "System:\nReply with one action.\n\nUser:\nGo.\n\nAssistant:\n"


def test_logprobs_of_rows_with_empty_responses(policy):
    prompt = prompt_ids(policy)[0]
    scored = policy.logprobs([(prompt, []), (prompt, policy.encode_text("take key"))])
    assert scored.mask.sum(dim=1).tolist() == [0, len(policy.encode_text("take key"))]
    assert policy.logprobs([(prompt, [])]).logprobs.shape == (1, 0)


def test_bad_input_raises_clear_errors(policy):
    with pytest.raises(ValueError, match="at least one token"):
        policy.sample([[]])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        policy.sample([[policy.vocab_size + 7]])
    with pytest.raises(ValueError, match="n must be"):
        policy.sample([prompt_ids(policy)[0]], n=0)
    assert policy.sample([]) == []
