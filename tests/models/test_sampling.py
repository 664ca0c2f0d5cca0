"""Token choice: the sampled distribution and the recorded log-probs."""

from __future__ import annotations

import pytest
import torch

from sparkrl.models.sampling import SamplingParams, choose_tokens, top_candidate_entropy

LOGITS = torch.tensor([2.0, 0.5, -1.0, 1.0, -30.0])


def frequencies(tokens: torch.Tensor) -> torch.Tensor:
    return torch.bincount(tokens, minlength=LOGITS.numel()).double() / tokens.numel()


def test_tokens_follow_the_tempered_distribution_and_report_its_logprobs():
    rows = LOGITS.repeat(40_000, 1)
    tokens, logprobs = choose_tokens(rows, 0.7, 1.0, torch.Generator().manual_seed(0))
    expected = torch.softmax(LOGITS / 0.7, dim=-1).double()
    assert torch.allclose(frequencies(tokens), expected, atol=0.01)
    assert torch.allclose(logprobs, torch.log_softmax(LOGITS / 0.7, dim=-1)[tokens])


def test_top_p_samples_only_the_nucleus_but_reports_untruncated_logprobs():
    rows = LOGITS.repeat(20_000, 1)
    probs = torch.softmax(LOGITS, dim=-1)
    top_p = float(probs[0] + probs[3]) - 1e-3  # the nucleus is tokens 0 and 3
    tokens, logprobs = choose_tokens(rows, 1.0, top_p, torch.Generator().manual_seed(0))
    assert set(tokens.tolist()) == {0, 3}
    share = frequencies(tokens)[0] / (frequencies(tokens)[0] + frequencies(tokens)[3])
    assert abs(share - float(probs[0] / (probs[0] + probs[3]))) < 0.015
    assert torch.allclose(logprobs, torch.log_softmax(LOGITS, dim=-1)[tokens])


def test_greedy_takes_the_argmax_with_untempered_logprobs():
    tokens, logprobs = choose_tokens(LOGITS[None], 0.0, 1.0, None)
    assert tokens.tolist() == [0]
    assert torch.allclose(logprobs, torch.log_softmax(LOGITS, dim=-1)[:1])


@pytest.mark.parametrize(
    "bad", [{"n": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"max_new_tokens": 0}, {"stop": ("",)}]
)
def test_sampling_params_reject_nonsense(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)


def test_top_candidate_entropy_is_normalised():
    uniform = torch.zeros(1, 50)
    peaked = torch.tensor([[30.0] + [0.0] * 49])
    assert torch.allclose(top_candidate_entropy(uniform, 1.0), torch.ones(1))
    assert top_candidate_entropy(peaked, 1.0).item() < 1e-6
    # Tempering flattens the candidates: a higher temperature means a higher entropy.
    assert top_candidate_entropy(LOGITS[None], 2.0) > top_candidate_entropy(LOGITS[None], 0.5)
