"""Constrained decoding of the ``<action>`` span: only admissible commands can be produced.

Once a response's decoded text ends with the action opener (``<action>``), every later token is
restricted to the continuations of a token trie built over the step's admissible commands,
each tokenised as ``command + "</action>"``: the policy can then only write one admissible
command followed by the closer. Before the opener (the reasoning block) sampling is free.

Faithful to PPO: the recorded behaviour log-prob of a constrained token is its log-prob under
the *masked* distribution (logits outside the allowed set at -inf, then the usual temperature
softmax), and the learner recomputes exactly that quantity from the ``ActionMask`` stored with
the step, so the importance ratio and the KL to the reference compare like with like.

Off by default for pretrained LMs (the paper's protocol is free text); the tiny default turns it
on (``rollout.constrain_actions``), because a 0.5M-parameter model cannot spell 30 commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

ACTION_OPEN = "<action>"
ACTION_CLOSE = "</action>"


@dataclass(frozen=True)
class ActionMask:
    """Which tokens were allowed at the constrained positions of one response.

    ``allowed[k]`` lists the token ids allowed for response token ``start + k``; positions
    before ``start`` (and after the listed ones) were unconstrained.
    """

    start: int
    allowed: tuple[tuple[int, ...], ...]

    def to_json(self) -> list:
        """``[start, [[ids], ...]]``, the form stored in tree files."""
        return [self.start, [list(ids) for ids in self.allowed]]

    @classmethod
    def from_json(cls, data: Sequence | None) -> ActionMask | None:
        """Inverse of ``to_json``; ``None`` stays ``None``."""
        if data is None:
            return None
        start, allowed = data
        return cls(int(start), tuple(tuple(int(i) for i in ids) for ids in allowed))


class ActionTrie:
    """A token trie over allowed token sequences (each one admissible command plus the closer)."""

    def __init__(self, sequences: Sequence[Sequence[int]]) -> None:
        self._root: dict[int, dict] = {}
        for sequence in sequences:
            node = self._root
            for token in sequence:
                node = node.setdefault(int(token), {})

    def __bool__(self) -> bool:
        return bool(self._root)

    def allowed(self, prefix: Sequence[int]) -> tuple[int, ...]:
        """Tokens that may follow ``prefix`` (tokens already written inside the span), sorted;
        empty when ``prefix`` left the trie or completed a sequence."""
        node = self._root
        for token in prefix:
            node = node.get(token)
            if node is None:
                return ()
        return tuple(sorted(node))


class ActionTokenizer:
    """Turns admissible-command lists into tries, caching each command's token ids."""

    def __init__(self, encode: Callable[[str], list[int]]) -> None:
        self._encode = encode
        self._cache: dict[str, tuple[int, ...]] = {}

    def ids(self, command: str) -> tuple[int, ...]:
        """Token ids of ``command`` followed by the action closer."""
        ids = self._cache.get(command)
        if ids is None:
            ids = self._cache[command] = tuple(self._encode(" ".join(command.split()) + ACTION_CLOSE))
        return ids

    def trie(self, commands: Sequence[str]) -> ActionTrie:
        """The trie of ``commands`` (blank ones ignored)."""
        return ActionTrie([self.ids(c) for c in commands if c.strip()])


class SpanTracker:
    """Follows one response as it grows: finds the opener, then serves the allowed tokens."""

    def __init__(self, trie: ActionTrie, opened: Callable[[Sequence[int]], bool]) -> None:
        self.trie = trie
        self._opened = opened
        self.start: int | None = None
        self.allowed: list[tuple[int, ...]] = []

    def next_allowed(self, response_ids: Sequence[int]) -> tuple[int, ...] | None:
        """Allowed ids for the next token of ``response_ids``, or ``None`` when it is free.

        Once the opener is seen, a step inside the span returns the trie's continuations; the
        span ends (free again) when the trie has none (the command and its closer are done).
        """
        if self.start is None:
            if not self.trie or not self._opened(response_ids):
                return None
            self.start = len(response_ids)
        offset = len(response_ids) - self.start
        if offset < len(self.allowed):  # already served (same position asked again)
            return self.allowed[offset]
        if offset > len(self.allowed):
            return None  # the span ended earlier
        allowed = self.trie.allowed(response_ids[self.start:])
        if not allowed:
            return None
        self.allowed.append(allowed)
        return allowed

    def mask(self) -> ActionMask | None:
        """The record of what was allowed, for the learner; ``None`` if nothing was constrained."""
        if self.start is None or not self.allowed:
            return None
        return ActionMask(self.start, tuple(self.allowed))


def mask_logits(logits: torch.Tensor, allowed: Sequence[tuple[int, ...] | None]) -> torch.Tensor:
    """``logits`` [B, V] with every token outside ``allowed[b]`` at -inf (rows with ``None``
    untouched)."""
    rows = [b for b, ids in enumerate(allowed) if ids is not None]
    if not rows:
        return logits
    keep = torch.zeros((len(rows), logits.shape[-1]), dtype=torch.bool, device=logits.device)
    for k, b in enumerate(rows):
        keep[k, list(allowed[b])] = True
    masked = logits.clone()
    index = torch.tensor(rows, device=logits.device)
    masked[index] = logits[index].masked_fill(~keep, float("-inf"))
    return masked


def disallowed_mask(
    masks: Sequence[ActionMask | None], lengths: Sequence[int], width: int, vocab: int, device: torch.device
) -> torch.Tensor | None:
    """Bool [B, width, V], True where a token was NOT allowed, for left-aligned response
    positions (row ``b``'s response token ``j`` at column ``j``); ``None`` when no row has a
    mask. ``lengths`` are the response lengths (positions past them are left False)."""
    if all(m is None for m in masks):
        return None
    blocked = torch.zeros((len(masks), width, vocab), dtype=torch.bool, device=device)
    for b, mask in enumerate(masks):
        if mask is None:
            continue
        for k, ids in enumerate(mask.allowed):
            column = mask.start + k
            if column >= lengths[b]:
                break
            blocked[b, column] = True
            blocked[b, column, list(ids)] = False
    return blocked
