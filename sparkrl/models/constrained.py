"""Constrained decoding of a response: only admissible commands can be produced.

Two levels, chosen by the tokenizer:

- **Action span** (any tokenizer): once a response's decoded text ends with the action opener
  (``<action>``), every later token is restricted to the continuations of a token trie built
  over the step's admissible commands, each tokenised as ``command + "</action>"``: the policy
  can then only write one admissible command followed by the closer. The reasoning is free.
- **Whole format** (tokenizers where each of the six tags is one token, as the tiny model's):
  the first token is ``<think>`` or ``<explore>`` (which one is still the policy's choice); the
  reasoning may use any token but a tag or a special token, and is closed by its own closer;
  then the trie over ``"\n<action>" + command + "</action>"``. Every response is then valid by
  construction: a 2-layer model otherwise closes ``<think>`` with ``</explore>`` or skips the
  closer in a few percent of its steps.

Faithful to PPO: the recorded behaviour log-prob of a constrained token is its log-prob under
the *masked* distribution (logits outside the allowed set at -inf, then the usual temperature
softmax), and the learner recomputes exactly that quantity from the ``ActionMask`` stored with
the step, so the importance ratio and the KL to the reference compare like with like.

Off by default for pretrained LMs (the paper's protocol is free text); the tiny default turns it
on (``rollout.constrain_actions``), because a 0.5M-parameter model cannot spell 30 commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

ACTION_OPEN = "<action>"
ACTION_CLOSE = "</action>"


class TokenRule(NamedTuple):
    """What one constrained position allowed: exactly ``ids`` (``allow``), or all but ``ids``."""

    ids: tuple[int, ...]
    allow: bool = True


@dataclass(frozen=True)
class ActionMask:
    """Which tokens were allowed at the constrained positions of one response.

    ``rules[k]`` is the rule of response token ``start + k``; positions before ``start`` (and
    after the listed ones) were unconstrained.
    """

    start: int
    rules: tuple[TokenRule, ...]

    def to_json(self) -> list:
        """``[start, [rule, ...]]``, the form stored in tree files; an allow rule is its id
        list, a block rule ``{"block": ids}``."""
        return [self.start, [list(r.ids) if r.allow else {"block": list(r.ids)} for r in self.rules]]

    @classmethod
    def from_json(cls, data: Sequence | None) -> ActionMask | None:
        """Inverse of ``to_json``; ``None`` stays ``None``."""
        if data is None:
            return None
        start, rules = data
        return cls(int(start), tuple(
            TokenRule(tuple(int(i) for i in r["block"]), allow=False) if isinstance(r, dict)
            else TokenRule(tuple(int(i) for i in r)) for r in rules))


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


class SpanTracker:
    """Follows one response as it grows: finds the action opener, then serves the trie."""

    def __init__(self, trie: ActionTrie, opened: Callable[[Sequence[int]], bool]) -> None:
        self.trie = trie
        self._opened = opened
        self.start: int | None = None
        self.rules: list[TokenRule] = []

    def next_rule(self, response_ids: Sequence[int]) -> TokenRule | None:
        """The rule for the next token of ``response_ids``, or ``None`` when it is free.

        Once the opener is seen, a step inside the span returns the trie's continuations; the
        span ends (free again) when the trie has none (the command and its closer are done).
        """
        if self.start is None:
            if not self.trie or not self._opened(response_ids):
                return None
            self.start = len(response_ids)
        offset = len(response_ids) - self.start
        if offset < len(self.rules):  # already served (same position asked again)
            return self.rules[offset]
        if offset > len(self.rules):
            return None  # the span ended earlier
        allowed = self.trie.allowed(response_ids[self.start:])
        if not allowed:
            return None
        self.rules.append(TokenRule(allowed))
        return self.rules[-1]

    def mask(self) -> ActionMask | None:
        """The record of what was allowed, for the learner; ``None`` if nothing was constrained."""
        if self.start is None or not self.rules:
            return None
        return ActionMask(self.start, tuple(self.rules))


@dataclass(frozen=True)
class TagIds:
    """The single-token ids of the format's tags, and the ids a reasoning block may not use."""

    openers: tuple[int, int]
    """``<think>``, ``<explore>``."""
    closers: Mapping[int, int]
    """Opener id -> its closer id."""
    reserved: tuple[int, ...]
    """Every tag and special token: none may appear inside the reasoning."""


class FormatTracker:
    """Follows one response through the whole format (see the module docstring)."""

    def __init__(self, trie: ActionTrie, tags: TagIds) -> None:
        self.trie = trie
        self.tags = tags
        self.rules: list[TokenRule] = []
        self._done = False

    def next_rule(self, response_ids: Sequence[int]) -> TokenRule | None:
        position = len(response_ids)
        if position < len(self.rules):
            return self.rules[position]
        if self._done or position > len(self.rules):
            return None
        rule = self._rule(response_ids)
        if rule is None:
            self._done = True
            return None
        self.rules.append(rule)
        return rule

    def _rule(self, response_ids: Sequence[int]) -> TokenRule | None:
        if not response_ids:
            return TokenRule(tuple(sorted(self.tags.openers)))
        closer = self.tags.closers[response_ids[0]]
        if closer not in response_ids[1:]:
            if len(response_ids) == 1:  # the reasoning must not be empty
                return TokenRule(self.tags.reserved, allow=False)
            return TokenRule(tuple(i for i in self.tags.reserved if i != closer), allow=False)
        after = response_ids[response_ids.index(closer, 1) + 1:]
        allowed = self.trie.allowed(after)
        return TokenRule(allowed) if allowed else None

    def mask(self) -> ActionMask | None:
        return ActionMask(0, tuple(self.rules)) if self.rules else None


Tracker = SpanTracker | FormatTracker


class ActionTokenizer:
    """Turns admissible-command lists into constraint trackers, caching token ids."""

    def __init__(self, tokenizer: Any, encode: Callable[[str], list[int]]) -> None:
        self._encode = encode
        self._cache: dict[str, tuple[int, ...]] = {}
        self._opened = _EndsWith(tokenizer, ACTION_OPEN)
        self.tags = _single_token_tags(tokenizer, encode)
        """Set when every tag is one token: the whole format is then constrained."""
        self._action_prefix = tuple(encode("\n" + ACTION_OPEN)) if self.tags else ()

    def ids(self, command: str) -> tuple[int, ...]:
        """Token ids of ``command`` followed by the action closer."""
        ids = self._cache.get(command)
        if ids is None:
            ids = self._cache[command] = tuple(self._encode(" ".join(command.split()) + ACTION_CLOSE))
        return ids

    def trie(self, commands: Sequence[str]) -> ActionTrie:
        """The trie of ``commands`` (blank ones ignored), after the action prefix when the
        whole format is constrained."""
        return ActionTrie([self._action_prefix + self.ids(c) for c in commands if c.strip()])

    def tracker(self, commands: Sequence[str]) -> Callable[[], Tracker] | None:
        """A factory of fresh trackers for one prompt's samples; ``None`` without commands."""
        trie = self.trie(commands)
        if not trie:
            return None
        if self.tags is not None:
            tags = self.tags
            return lambda: FormatTracker(trie, tags)
        return lambda: SpanTracker(trie, self._opened)


class _EndsWith:
    """Whether a growing response's decoded tail ends with ``text`` (decodes the tail only)."""

    def __init__(self, tokenizer: Any, text: str) -> None:
        self._tokenizer, self._text = tokenizer, text
        self._window = len(text) + 4  # a token decodes to >= 1 char except byte fragments

    def __call__(self, response_ids: Sequence[int]) -> bool:
        if not response_ids:
            return False
        return self._tokenizer.decode(response_ids[-self._window:], skip_special_tokens=False).endswith(self._text)


def _single_token_tags(tokenizer: Any, encode: Callable[[str], list[int]]) -> TagIds | None:
    ids = {}
    for tag in ("<think>", "</think>", "<explore>", "</explore>", ACTION_OPEN, ACTION_CLOSE):
        encoded = encode(tag)
        if len(encoded) != 1:
            return None
        ids[tag] = encoded[0]
    special = {int(i) for i in getattr(tokenizer, "all_special_ids", [])}
    return TagIds(
        openers=(ids["<think>"], ids["<explore>"]),
        closers={ids["<think>"]: ids["</think>"], ids["<explore>"]: ids["</explore>"]},
        reserved=tuple(sorted(set(ids.values()) | special)),
    )


def mask_logits(logits: torch.Tensor, rules: Sequence[TokenRule | None]) -> torch.Tensor:
    """``logits`` [B, V] with every token a row's rule excludes at -inf (rows with ``None``
    untouched)."""
    rows = [b for b, rule in enumerate(rules) if rule is not None]
    if not rows:
        return logits
    blocked = torch.zeros((len(rows), logits.shape[-1]), dtype=torch.bool, device=logits.device)
    for k, b in enumerate(rows):
        _block(blocked[k], rules[b])
    masked = logits.clone()
    index = torch.tensor(rows, device=logits.device)
    masked[index] = logits[index].masked_fill(blocked, float("-inf"))
    return masked


def _block(row: torch.Tensor, rule: TokenRule) -> None:
    """Set ``row`` (bool [V]) True at the tokens ``rule`` excludes."""
    if rule.allow:
        row[:] = True
        row[list(rule.ids)] = False
    elif rule.ids:
        row[list(rule.ids)] = True


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
        for k, rule in enumerate(mask.rules):
            column = mask.start + k
            if column >= lengths[b]:
                break
            _block(blocked[b, column], rule)
    return blocked
