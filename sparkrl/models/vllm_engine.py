"""A vLLM generation engine for rollouts, with the ``encode``/``sample`` contract of ``Policy``.

Used when CUDA and the optional ``vllm`` package (``pip install 'sparkrl[vllm]'``) are both
present (``select_engine``); everywhere else the rollouts keep the HF engine (``Policy``) and
one log line says why. The learner stays a Hugging Face model; after every update
``sync_weights`` copies its weights (LoRA adapters merged in) into vLLM and clears vLLM's
prefix cache, whose keys and values were computed with the old weights.

- prefix caching is on: the prompts of one step share their long system prompt and a fork's
  children share their parent's whole prompt;
- identical prompts (fork children, ``n > 1``) become ONE request with ``n`` samples, so vLLM
  prefills them once (``build_requests``);
- a response stops at ``</action>`` (kept in the text and ids) or EOS; log-probs are vLLM's
  ``processed_logprobs`` (after temperature), the convention ``Policy.logprobs`` recomputes
  (exact with top_p = 1, the paper's setting); ``head_entropy`` is computed from the top
  ``HEAD_CANDIDATES`` candidates vLLM returns per token, as ``sparkrl.models.sampling`` does.

Verified here (CPU, no vllm): request building, the SamplingParams mapping, the conversion of
vLLM outputs to ``Completion``s, the weight mapping and the fallback message. Not verified on
hardware: ``VLLMEngine.launch`` and ``sync_weights`` against a real vLLM (see docs/scale.md).
"""

from __future__ import annotations

import importlib.util
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sparkrl.models.lora import merged_weights
from sparkrl.models.policy import Policy, Prompt
from sparkrl.models.sampling import HEAD_CANDIDATES, HEAD_TOKENS, Completion

VLLM_INSTALL = "pip install 'sparkrl[vllm]'"
DEFAULT_STOP = "</action>"


def vllm_unavailable_reason() -> str | None:
    """Why vLLM cannot generate here (``None`` when it can)."""
    if importlib.util.find_spec("vllm") is None:
        return f"the vllm package is not installed ({VLLM_INSTALL})"
    if not torch.cuda.is_available():
        return "CUDA is not available"
    return None


@dataclass(frozen=True)
class GenerationRequest:
    """One vLLM request: a distinct prompt, its sample count, and the result rows it fills."""

    prompt_ids: tuple[int, ...]
    rows: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.rows)


def build_requests(prompts: Sequence[Sequence[int]], n: int) -> list[GenerationRequest]:
    """Merge identical prompts: each distinct prompt becomes one request whose samples fill
    the prompt-major result rows ``i * n + s`` of every copy ``i`` of it."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rows_of: dict[tuple[int, ...], list[int]] = {}
    for index, prompt in enumerate(prompts):
        if not prompt:
            raise ValueError("every prompt needs at least one token")
        rows_of.setdefault(tuple(int(t) for t in prompt), []).extend(range(index * n, index * n + n))
    return [GenerationRequest(prompt, tuple(rows)) for prompt, rows in rows_of.items()]


def sampling_kwargs(n: int, temperature: float, top_p: float, max_new_tokens: int,
                    stop: Sequence[str]) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments equivalent to ``Policy.sample``'s."""
    return {
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_new_tokens,
        "stop": list(stop),
        "include_stop_str_in_output": True,
        "logprobs": HEAD_CANDIDATES,
        "skip_special_tokens": True,
    }


def _head_entropy(step_logprobs: Sequence[Mapping[int, Any]]) -> float:
    """Mean normalised entropy of the renormalised top candidates over the first tokens."""
    values = []
    for candidates in step_logprobs[:HEAD_TOKENS]:
        top = sorted((c.logprob for c in candidates.values()), reverse=True)[:HEAD_CANDIDATES]
        if len(top) < 2:
            values.append(0.0)
            continue
        log_norm = torch.logsumexp(torch.tensor(top, dtype=torch.float64), dim=0)
        probs = [math.exp(v - float(log_norm)) for v in top]
        entropy = -sum(p * math.log(p) for p in probs if p > 0)
        values.append(entropy / math.log(len(top)))
    return sum(values) / len(values) if values else 0.0


def completion_from_output(prompt_ids: Sequence[int], output: Any) -> Completion:
    """A ``Completion`` from one vLLM ``CompletionOutput`` (token ids, per-token logprob dicts,
    text, finish reason)."""
    token_ids = [int(t) for t in output.token_ids]
    steps = list(output.logprobs or [])
    if len(steps) != len(token_ids):
        raise ValueError(f"vLLM returned {len(steps)} log-prob entries for {len(token_ids)} tokens; "
                         f"request logprobs={HEAD_CANDIDATES}")
    return Completion(
        prompt_ids=list(prompt_ids),
        response_ids=token_ids,
        logprobs=[float(step[token].logprob) for step, token in zip(steps, token_ids)],
        text=output.text,
        finish_reason="stop" if output.finish_reason == "stop" else "length",
        head_entropy=_head_entropy(steps),
    )


class VLLMEngine:
    """Rollout sampling through a ``vllm.LLM``; encoding through the learner's tokenizer."""

    def __init__(self, policy: Policy, llm: Any, sampling_params: Callable[..., Any]) -> None:
        self.policy = policy
        self.llm = llm
        self._sampling_params = sampling_params

    @classmethod
    def launch(cls, policy: Policy, *, gpu_memory_utilization: float = 0.35, dtype: str = "bfloat16",
               seed: int = 0) -> VLLMEngine:
        """Start vLLM on the learner's current weights (written to a temporary HF folder)."""
        reason = vllm_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"the vLLM engine cannot start: {reason}")
        # In-process engine core: sync_weights reaches the model without pickling the weights.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        import vllm

        folder = Path(tempfile.mkdtemp(prefix="sparkrl-vllm-"))
        base = policy.model.get_base_model() if hasattr(policy.model, "get_base_model") else policy.model
        base.config.save_pretrained(folder)
        from safetensors.torch import save_file

        save_file({k: v.contiguous().cpu() for k, v in merged_weights(policy.model).items()
                   if k != "lm_head.weight" or not base.config.tie_word_embeddings},
                  str(folder / "model.safetensors"))
        policy.tokenizer.save_pretrained(folder)
        llm = vllm.LLM(model=str(folder), tokenizer=str(folder), dtype=dtype, seed=seed,
                       enable_prefix_caching=True, gpu_memory_utilization=gpu_memory_utilization,
                       logprobs_mode="processed_logprobs", max_logprobs=HEAD_CANDIDATES)
        return cls(policy, llm, vllm.SamplingParams)

    def encode(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of ``messages`` in the chat template (the learner's tokenizer)."""
        return self.policy.encode(messages)

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        stop: str | Sequence[str] | None = DEFAULT_STOP,
    ) -> list[Completion]:
        """``Policy.sample``'s contract: ``len(prompts) * n`` completions, prompt-major."""
        prompt_ids = [self.policy.encode(p) if p and isinstance(p[0], Mapping) else list(p) for p in prompts]
        stops = () if stop is None else (stop,) if isinstance(stop, str) else tuple(stop)
        requests = build_requests(prompt_ids, n)
        params = [self._sampling_params(**sampling_kwargs(r.n, temperature, top_p, max_new_tokens, stops))
                  for r in requests]
        outputs = self.llm.generate([{"prompt_token_ids": list(r.prompt_ids)} for r in requests], params,
                                    use_tqdm=False)
        results: list[Completion | None] = [None] * (len(prompt_ids) * n)
        for request, output in zip(requests, outputs):
            for row, sample in zip(request.rows, output.outputs):
                results[row] = completion_from_output(request.prompt_ids, sample)
        missing = [row for row, result in enumerate(results) if result is None]
        if missing:
            raise RuntimeError(f"vLLM returned no sample for rows {missing[:5]}")
        return results  # type: ignore[return-value]

    def sync_weights(self, model: torch.nn.Module) -> int:
        """Copy the learner's weights (adapters merged) into vLLM and drop its prefix cache;
        returns how many tensors were sent."""
        weights = merged_weights(model)
        self.llm.apply_model(lambda engine_model: engine_model.load_weights(weights.items()))
        self.llm.reset_prefix_cache()
        return len(weights)


def select_engine(policy: Policy, engine: str = "auto", say: Callable[[str], None] = print) -> Policy | VLLMEngine:
    """The rollout engine: ``"hf"`` → ``policy``; ``"vllm"`` → vLLM or a clear error;
    ``"auto"`` → vLLM when CUDA and vllm are present, else ``policy`` with one line saying why."""
    if engine not in ("auto", "hf", "vllm"):
        raise ValueError(f"engine must be auto, hf or vllm, got {engine!r}")
    if engine == "hf":
        return policy
    reason = vllm_unavailable_reason()
    if reason is None:
        say("generation engine: vLLM (prefix caching on, weights synced after every update)")
        return VLLMEngine.launch(policy)
    if engine == "vllm":
        raise RuntimeError(f"engine: vllm was asked for, but {reason}")
    say(f"generation engine: HF on {policy.device} (vLLM not used: {reason})")
    return policy
