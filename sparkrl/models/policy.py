"""``Policy``: a Hugging Face causal LM plus its tokenizer, as the rest of sparkrl sees it.

Rollouts call ``encode`` and ``sample``; the learner calls ``logprobs``. Token ids are the
currency: what was sampled is what is trained on, never a re-tokenisation of decoded text.
The log-prob convention (temperature-scaled, before top-p truncation) is explained in
``sparkrl.models.sampling``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Union

import torch

from sparkrl.models.constrained import ActionMask, ActionTokenizer, disallowed_mask
from sparkrl.models.prefill import left_pad
from sparkrl.models.sampling import (
    Completion,
    GenerationStats,
    SamplingParams,
    sample_completions,
)

Messages = Sequence[Mapping[str, str]]
Prompt = Union[Sequence[int], Messages]

FALLBACK_CHAT_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}:\n{{ message['content'] }}\n\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:\n{% endif %}"
)
"""Plain-text chat format for tokenizers that ship none (base models such as Gemma-3-270M):
the BOS token if the tokenizer has one, then ``Role:\\ncontent\\n\\n`` per message, then
``Assistant:\\n`` as the generation prompt."""


class TokenLogprobs(NamedTuple):
    """Per response token, left-aligned: row ``i``'s response token ``j`` sits at ``[i, j]``.

    ``logprobs`` and ``entropy`` are differentiable [B, T] float32 tensors, zero where
    ``mask`` (bool [B, T]) is False; T is the longest response in the batch.
    """

    logprobs: torch.Tensor
    entropy: torch.Tensor
    mask: torch.Tensor


class Policy:
    """A causal LM and its tokenizer with batched sampling and training log-probs.

    If the tokenizer has no chat template, ``FALLBACK_CHAT_TEMPLATE`` is installed on it (and
    so is saved with it by ``save``).
    """

    def __init__(self, model: torch.nn.Module, tokenizer, name: str = "") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name or getattr(model.config, "name_or_path", "") or type(model).__name__
        if not tokenizer.chat_template:
            tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = next(
            (i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0
        )
        self.vocab_size = model.get_input_embeddings().num_embeddings
        self.max_positions: int | None = getattr(model.config, "max_position_embeddings", None)
        self.stats = GenerationStats()
        """Accumulated over every ``sample`` call."""
        self.last_stats = GenerationStats()
        """Of the latest ``sample`` call."""
        self.action_tokenizer = ActionTokenizer(tokenizer, self.encode_text)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, messages: Messages) -> list[int]:
        """Token ids of ``messages`` in the chat template, ending with the generation prompt."""
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return self.encode_text(text)

    def encode_text(self, text: str) -> list[int]:
        """Token ids of raw ``text``, no special tokens added (e.g. an SFT target response)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        stop: str | Sequence[str] | None = "</action>",
        generator: torch.Generator | None = None,
        actions: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Completion]:
        """Sample ``n`` completions per prompt; ``len(prompts) * n`` results, prompt-major
        (``result[i * n + s]`` is sample ``s`` of prompt ``i``).

        A prompt is a list of token ids or a list of chat messages (``{"role", "content"}``).
        Identical prompts are prefilled once. A response ends when its decoded text contains
        a ``stop`` string or an EOS token is sampled (``"stop"``), or at ``max_new_tokens``
        or the end of the model's context (``"length"``). Deterministic given ``generator``.
        Token counts land in ``last_stats`` and ``stats``.

        ``actions[i]``, when given, are prompt ``i``'s admissible commands: its ``<action>``
        span is then decoded only to one of them (``sparkrl.models.constrained``) and the
        completion's ``action_mask`` records what was allowed, for ``logprobs(masks=...)``.
        """
        prompt_ids = [self._prompt_ids(p) for p in prompts]
        stops = () if stop is None else (stop,) if isinstance(stop, str) else tuple(stop)
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            stop=stops,
            eos_ids=self.eos_ids,
        )
        constraints = None
        if actions is not None:
            if len(actions) != len(prompt_ids):
                raise ValueError(f"{len(actions)} action lists for {len(prompt_ids)} prompts")
            constraints = [self.action_tokenizer.tracker(a) if a else None for a in actions]
        completions, stats = sample_completions(
            self.model,
            self.tokenizer,
            prompt_ids,
            params,
            pad_id=self.pad_id,
            max_positions=self.max_positions,
            generator=generator,
            constraints=constraints,
        )
        self.last_stats = stats
        self.stats.add(stats)
        return completions

    def logprobs(
        self,
        rows: Sequence[tuple[Sequence[int], Sequence[int]]],
        temperature: float = 1.0,
        masks: Sequence[ActionMask | None] | None = None,
    ) -> TokenLogprobs:
        """Log-probs and entropies of each row's response tokens given its prompt.

        ``rows`` are ``(prompt_ids, response_ids)`` pairs. With ``temperature`` T > 0 the
        distribution is ``softmax(logits / T)``, matching what ``sample`` records at the same
        temperature; T = 0 is read as 1 (as ``sample`` does for greedy decoding). ``masks[i]``
        (from a constrained ``sample``) restricts row ``i``'s action-span positions to the
        tokens that were allowed, exactly as sampling did. The result keeps the autograd
        graph. Memory grows with batch x longest response x vocabulary: micro-batch large
        batches.
        """
        if not rows:
            raise ValueError("logprobs needs at least one row")
        prompts = [self._checked_ids(p) for p, _ in rows]
        responses = [self._checked_ids(r, allow_empty=True) for _, r in rows]
        if any(not p for p in prompts):
            raise ValueError("every prompt needs at least one token")
        width = max(len(r) for r in responses)
        if width == 0:
            empty = torch.zeros((len(rows), 0), device=self.device)
            return TokenLogprobs(empty, empty.clone(), empty.bool())
        input_ids, attention_mask, position_ids = left_pad(
            [p + r for p, r in zip(prompts, responses)], self.pad_id, self.device
        )
        # Left padding right-aligns every response inside the last `width` columns, so only
        # the logits predicting those columns are computed.
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            logits_to_keep=width + 1,
        )
        logits = out.logits[:, :-1].float()
        if temperature > 0:
            logits = logits / temperature
        lengths = torch.tensor([len(r) for r in responses], device=self.device)
        columns = torch.arange(width, device=self.device)
        blocked = None
        if masks is not None:
            if len(masks) != len(rows):
                raise ValueError(f"{len(masks)} action masks for {len(rows)} rows")
            blocked = disallowed_mask(masks, [len(r) for r in responses], width, logits.shape[-1], self.device)
        if blocked is not None:
            # The masks are left-aligned; logits are right-aligned in the last `width` columns.
            shift = (columns[None, :] - (width - lengths)[:, None]).clamp(min=0)
            aligned = blocked.gather(1, shift[:, :, None].expand(-1, -1, blocked.shape[-1]))
            aligned &= (columns[None, :] >= (width - lengths)[:, None])[:, :, None]
            logits = logits.masked_fill(aligned, float("-inf"))
        log_probs = torch.log_softmax(logits, dim=-1)
        token_logprobs = log_probs.gather(-1, input_ids[:, -width:, None]).squeeze(-1)
        finite = log_probs.masked_fill(~torch.isfinite(log_probs), 0.0)
        entropy = -(log_probs.exp() * finite).sum(dim=-1)

        mask = columns[None, :] < lengths[:, None]
        source = (columns[None, :] + (width - lengths)[:, None]).clamp(max=width - 1)
        return TokenLogprobs(
            logprobs=token_logprobs.gather(1, source).masked_fill(~mask, 0.0),
            entropy=entropy.gather(1, source).masked_fill(~mask, 0.0),
            mask=mask,
        )

    def save(self, out_dir: str | Path) -> Path:
        """Write model (safetensors), config and tokenizer as a Hugging Face folder."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        return out

    def _prompt_ids(self, prompt: Prompt) -> list[int]:
        if len(prompt) > 0 and isinstance(prompt[0], Mapping):
            return self.encode(prompt)  # type: ignore[arg-type]
        return self._checked_ids(prompt)  # type: ignore[arg-type]

    def _checked_ids(self, ids: Sequence[int], allow_empty: bool = False) -> list[int]:
        checked = [int(t) for t in ids]
        if not checked and not allow_empty:
            raise ValueError("a prompt needs at least one token")
        bad = [t for t in checked if not 0 <= t < self.vocab_size]
        if bad:
            raise ValueError(f"token ids outside the vocabulary (size {self.vocab_size}): {bad[:5]}")
        return checked


def _eos_ids(model: torch.nn.Module, tokenizer) -> frozenset[int]:
    """EOS ids from the tokenizer and the model's generation config (which may list several)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    generation_config = getattr(model, "generation_config", None)
    configured = getattr(generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured is not None:
        ids.update(int(i) for i in configured)
    return frozenset(ids)
