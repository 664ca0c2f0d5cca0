"""Prefill for the decode loop: prompts forwarded once, in length groups, into a KV cache that
grows in place.

Why length groups: one left-padded batch of prompts of 400 to 1,500 tokens (household prompts
with their history window) spends its matmuls on B × longest tokens and its attention on
B × longest² positions, 2-4× the real work. Prompts are therefore forwarded in groups of
similar length and the groups' caches left-padded to the longest prompt afterwards (zero keys
and values at masked positions, which never receive attention).

Why a grown-in-place cache: Hugging Face's ``DynamicLayer`` concatenates every new token onto
its whole cache, copying B × context keys and values per layer and step (a fifth of the decode
time of the tiny model at 1,500-token contexts). ``PreallocatedLayer`` reserves the room for
the whole response at prefill and writes each token into it.

Models with sliding-window or other special cache layers keep Hugging Face's own cache and a
single padded prefill.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

PREFILL_PADDING_SLACK = 0.1
"""Padding a prefill group may add, as a fraction of its real tokens."""


@functools.lru_cache(maxsize=None)
def _cache_keyword(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def cache_kwargs(model: torch.nn.Module, cache: Cache | None) -> dict[str, Cache | None]:
    """The forward keyword that passes a KV cache: ``cache`` from transformers 5.25 on (where
    ``past_key_values`` is deprecated, to be removed in 5.40), ``past_key_values`` before.
    Looked up once per model class: it is called at every decode step."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps forward
    return {_cache_keyword(type(base)): cache}


def output_cache(output: object) -> Cache:
    """A forward output's KV cache, under the name this transformers version gives it."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values  # type: ignore[attr-defined]


def left_pad(
    sequences: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad to a [B, L] batch; return (input_ids, attention_mask, position_ids)."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        input_ids[i, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        attention_mask[i, width - len(seq) :] = 1
    position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
    return input_ids.to(device), attention_mask.to(device), position_ids.to(device)


def length_groups(lengths: Sequence[int], padding_slack: float = PREFILL_PADDING_SLACK) -> list[list[int]]:
    """Indices of ``lengths`` in groups of similar length, longest first: a group grows while
    its padded size (members × longest) stays within ``1 + padding_slack`` of its real size."""
    groups: list[list[int]] = []
    real = 0
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if groups and (len(groups[-1]) + 1) * lengths[groups[-1][0]] <= (1 + padding_slack) * (real + lengths[index]):
            groups[-1].append(index)
            real += lengths[index]
        else:
            groups.append([index])
            real = lengths[index]
    return groups


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys and values live in buffers sized for the whole generation:
    ``update`` writes the new tokens in place instead of concatenating onto the cache.
    ``keys`` / ``values`` are views of the filled part, so every reader of ``DynamicLayer``
    (mask sizes, sequence length) works unchanged."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        super().__init__()
        self.lazy_initialization(keys, values)
        length = keys.shape[-2]
        capacity = max(capacity, length)
        self._key_buffer = keys.new_zeros((*keys.shape[:-2], capacity, keys.shape[-1]))
        self._value_buffer = values.new_zeros((*values.shape[:-2], capacity, values.shape[-1]))
        self._key_buffer[..., :length, :] = keys
        self._value_buffer[..., :length, :] = values
        self._length = length
        self._refresh_views()

    def _refresh_views(self) -> None:
        self.keys = self._key_buffer[..., : self._length, :]
        self.values = self._value_buffer[..., : self._length, :]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``key_states`` / ``value_states`` [B, H, T, D]; return the filled cache views."""
        end = self._length + key_states.shape[-2]
        if end > self._key_buffer.shape[-2]:
            # Past the reserved room (a caller decoding longer than announced): grow by doubling.
            extra = max(end, 2 * self._key_buffer.shape[-2]) - self._key_buffer.shape[-2]
            self._key_buffer = torch.nn.functional.pad(self._key_buffer, (0, 0, 0, extra))
            self._value_buffer = torch.nn.functional.pad(self._value_buffer, (0, 0, 0, extra))
        self._key_buffer[..., self._length : end, :] = key_states
        self._value_buffer[..., self._length : end, :] = value_states
        self._length = end
        self._refresh_views()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep (and reorder or repeat) the batch rows ``indices``.

        Dropping finished rows (increasing indices) moves the kept rows forward inside the
        buffers: a fresh B × context copy costs mostly page faults on this CPU (7× the in-place
        move at 64 rows of 1,500 tokens)."""
        keep = indices.tolist()
        if all(earlier < later for earlier, later in zip(keep, keep[1:])):
            for new, old in enumerate(keep):
                if new != old:
                    self._key_buffer[new].copy_(self._key_buffer[old])
                    self._value_buffer[new].copy_(self._value_buffer[old])
            self._key_buffer = self._key_buffer[: len(keep)]
            self._value_buffer = self._value_buffer[: len(keep)]
        else:
            self._key_buffer = self._key_buffer[indices, ...]
            self._value_buffer = self._value_buffer[indices, ...]
        self._refresh_views()


def _full_attention_only(model: torch.nn.Module) -> bool:
    """Whether every layer of ``model``'s cache is a plain growing key/value store."""
    cache = DynamicCache(config=model.config)
    return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


def prefill(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device,
    capacity: int = 0,
) -> tuple[torch.Tensor, Cache, torch.Tensor, torch.Tensor]:
    """Forward ``prompts`` once; return (last-position logits [P, V], their KV cache
    left-padded to the longest prompt with room for ``capacity`` positions in all,
    attention mask [P, W], next position ids [P])."""
    if not _full_attention_only(model):
        input_ids, attention_mask, position_ids = left_pad(prompts, pad_id, device)
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], output_cache(out), attention_mask, position_ids[:, -1] + 1

    width = max(len(p) for p in prompts)
    groups = length_groups([len(p) for p in prompts])
    logits: list[torch.Tensor] = []
    layer_keys: list[list[torch.Tensor]] = []
    layer_values: list[list[torch.Tensor]] = []
    for group in groups:
        input_ids, attention_mask, position_ids = left_pad([prompts[i] for i in group], pad_id, device)
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    use_cache=True, logits_to_keep=1)
        logits.append(out.logits[:, -1])
        missing = width - input_ids.shape[1]
        for index, layer in enumerate(output_cache(out).layers):
            if index == len(layer_keys):
                layer_keys.append([])
                layer_values.append([])
            layer_keys[index].append(torch.nn.functional.pad(layer.keys, (0, 0, missing, 0)))
            layer_values[index].append(torch.nn.functional.pad(layer.values, (0, 0, missing, 0)))

    order = torch.tensor([i for group in groups for i in group], device=device)
    restore = torch.empty_like(order)
    restore[order] = torch.arange(len(order), device=device)
    cache = Cache(layers=[
        PreallocatedLayer(torch.cat(keys)[restore], torch.cat(values)[restore], capacity)
        for keys, values in zip(layer_keys, layer_values)
    ])
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    attention_mask = (torch.arange(width, device=device)[None, :] >= (width - lengths)[:, None]).long()
    return torch.cat(logits)[restore], cache, attention_mask, lengths
