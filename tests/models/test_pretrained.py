"""Real pretrained LMs from the GGUF files shipped in PyPI packages (slow: the first run
converts each GGUF to a cached safetensors folder)."""

from __future__ import annotations

import importlib.util
import time

import pytest
import torch

from sparkrl.models import GGUF_MODELS, load

pytestmark = pytest.mark.slow


def require(alias: str) -> None:
    for package, _ in GGUF_MODELS[alias].chunks:
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"`{GGUF_MODELS[alias].install}` to run this test")


@pytest.fixture(scope="module")
def smollm2():
    require("smollm2-135m")
    return load("smollm2-135m", threads=1)


def test_smollm2_answers_through_its_chat_template(smollm2):
    question = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    completions = smollm2.sample([question], n=2, temperature=0.2, max_new_tokens=30, generator=torch.Generator().manual_seed(0))
    for completion in completions:
        assert "Paris" in completion.text
        assert completion.finish_reason == "stop"


def test_smollm2_reloads_from_the_cache_quickly(smollm2):
    started = time.perf_counter()
    load("smollm2-135m", threads=1)
    assert time.perf_counter() - started < 5.0


def test_smollm2_stops_at_an_action_tag_split_over_tokens(smollm2):
    assert len(smollm2.encode_text("</action>")) > 1
    prompt = [
        {"role": "system", "content": "Answer with <action>...</action> only."},
        {"role": "user", "content": "Admissible actions: go north, go south. Which action?"},
    ]
    prompt_ids = smollm2.encode(prompt) + smollm2.encode_text("<action>go north</action")
    completion = smollm2.sample([prompt_ids], temperature=0.0, max_new_tokens=5)[0]
    assert completion.text.startswith(">")
    assert completion.finish_reason == "stop"
    scored = smollm2.logprobs([(completion.prompt_ids, completion.response_ids)])
    assert torch.allclose(scored.logprobs[0, : len(completion.logprobs)], torch.tensor(completion.logprobs), atol=1e-4, rtol=0)


def test_smollm2_sampled_logprobs_match_the_learner(smollm2):
    prompts = [
        smollm2.encode([{"role": "user", "content": "Name a fruit."}]),
        smollm2.encode([{"role": "user", "content": "You are in a kitchen with a fridge and a table. What do you do?"}]),
    ]
    completions = smollm2.sample(prompts, n=2, max_new_tokens=12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scored = smollm2.logprobs([(c.prompt_ids, c.response_ids) for c in completions])
    for row, completion in enumerate(completions):
        expected = torch.tensor(completion.logprobs)
        assert torch.allclose(scored.logprobs[row, : len(expected)], expected, atol=1e-4, rtol=0)


def test_gemma3_base_model_uses_the_plain_template():
    require("gemma3-270m")
    gemma = load("gemma3-270m", threads=1)
    assert gemma.vocab_size == 262_144
    text = gemma.decode(gemma.encode([{"role": "user", "content": "Hi"}]), skip_special_tokens=False)
    assert text == "<bos>User:\nHi\n\nAssistant:\n"
    prompt = gemma.encode_text("<bos>The capital of France is")
    completion = gemma.sample([prompt], temperature=0.0, max_new_tokens=8)[0]
    assert "Paris" in completion.text or "capital" in completion.text
    with torch.no_grad():
        scored = gemma.logprobs([(completion.prompt_ids, completion.response_ids)])
    assert torch.allclose(scored.logprobs[0, : len(completion.logprobs)], torch.tensor(completion.logprobs), atol=1e-4, rtol=0)
