"""The vLLM engine's CPU-testable parts: requests, SamplingParams mapping, output conversion,
weight sync calls, and the HF fallback when vllm or CUDA is missing."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from sparkrl.models import load
from sparkrl.models import vllm_engine
from sparkrl.models.sampling import HEAD_CANDIDATES
from sparkrl.models.vllm_engine import (
    VLLMEngine,
    build_requests,
    completion_from_output,
    sampling_kwargs,
    select_engine,
)


@pytest.fixture(scope="module")
def policy():
    return load("tiny", threads=1)


def test_identical_prompts_become_one_request_filling_prompt_major_rows():
    requests = build_requests([[1, 2], [3], [1, 2]], n=2)
    assert [(r.prompt_ids, r.rows, r.n) for r in requests] == [((1, 2), (0, 1, 4, 5), 4), ((3,), (2, 3), 2)]
    with pytest.raises(ValueError, match="at least one token"):
        build_requests([[]], n=1)


def test_sampling_kwargs_match_policy_sample():
    kwargs = sampling_kwargs(4, 0.7, 1.0, 64, ["</action>"])
    assert kwargs == {"n": 4, "temperature": 0.7, "top_p": 1.0, "max_tokens": 64, "stop": ["</action>"],
                      "include_stop_str_in_output": True, "logprobs": HEAD_CANDIDATES,
                      "skip_special_tokens": True}


def vllm_sample(token_ids, finish_reason="stop", spread=2):
    steps = [{t: SimpleNamespace(logprob=-0.5), **{1000 + k: SimpleNamespace(logprob=-3.0 - k)
                                                   for k in range(spread)}} for t in token_ids]
    return SimpleNamespace(token_ids=token_ids, logprobs=steps, text="<think>x</think><action>look</action>",
                           finish_reason=finish_reason)


def test_completion_from_output_keeps_ids_logprobs_and_head_entropy():
    completion = completion_from_output([1, 2], vllm_sample([7, 8, 9]))
    assert completion.response_ids == [7, 8, 9] and completion.logprobs == [-0.5] * 3
    assert completion.finish_reason == "stop" and completion.prompt_ids == [1, 2]
    assert 0.0 < completion.head_entropy < 1.0
    single = completion_from_output([1], vllm_sample([7], "length", spread=0))
    assert single.finish_reason == "length" and single.head_entropy == 0.0
    uniform = completion_from_output([1], SimpleNamespace(
        token_ids=[0], text="", finish_reason="stop",
        logprobs=[{k: SimpleNamespace(logprob=-math.log(4)) for k in range(4)}]))
    assert uniform.head_entropy == pytest.approx(1.0)


class RecordingLLM:
    """Stands in for vllm.LLM: answers generate() with scripted samples, records weight syncs."""

    def __init__(self):
        self.loaded, self.cache_resets, self.requests = None, 0, None

    def generate(self, prompts, params, use_tqdm):
        self.requests = list(zip(prompts, params))
        return [SimpleNamespace(outputs=[vllm_sample([10 + i]) for i in range(p["n"])]) for p in params]

    def apply_model(self, function):
        model = SimpleNamespace(load_weights=lambda weights: setattr(self, "loaded", dict(weights)))
        return [function(model)]

    def reset_prefix_cache(self):
        self.cache_resets += 1


def test_engine_samples_through_requests_and_syncs_weights(policy):
    llm = RecordingLLM()
    engine = VLLMEngine(policy, llm, sampling_params=dict)
    results = engine.sample([[5, 6], [5, 6], [9]], n=2, temperature=1.0, max_new_tokens=8)
    assert len(results) == 6 and [r.prompt_ids for r in results] == [[5, 6]] * 4 + [[9]] * 2
    assert [(p["prompt_token_ids"], params["n"]) for p, params in llm.requests] == [([5, 6], 4), ([9], 2)]
    assert engine.encode([{"role": "user", "content": "hi"}]) == policy.encode([{"role": "user", "content": "hi"}])

    sent = engine.sync_weights(policy.model)
    assert sent == len(policy.model.state_dict()) and llm.cache_resets == 1
    assert set(llm.loaded) == set(policy.model.state_dict())
    torch.testing.assert_close(llm.loaded["model.embed_tokens.weight"],
                               policy.model.state_dict()["model.embed_tokens.weight"])


def test_select_engine_falls_back_to_hf_with_one_line(policy, monkeypatch):
    monkeypatch.setattr(vllm_engine.importlib.util, "find_spec", lambda name: None)
    lines = []
    assert select_engine(policy, "auto", lines.append) is policy
    assert len(lines) == 1 and "HF" in lines[0] and "sparkrl[vllm]" in lines[0]
    assert select_engine(policy, "hf", lines.append) is policy and len(lines) == 1
    with pytest.raises(RuntimeError, match="engine: vllm was asked for"):
        select_engine(policy, "vllm", lines.append)
    with pytest.raises(RuntimeError, match="cannot start"):
        VLLMEngine.launch(policy)


def test_cuda_absence_is_named_when_vllm_is_importable(policy, monkeypatch):
    monkeypatch.setattr(vllm_engine.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    lines = []
    assert select_engine(policy, "auto", lines.append) is policy
    assert "CUDA is not available" in lines[0]
