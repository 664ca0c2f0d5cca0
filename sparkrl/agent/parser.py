"""Parse a policy response into reasoning mode, reasoning text and action, and judge validity.

A response is valid (spark-method.md section 2) iff, after tags are matched:
- every block is closed and no format tag (``<think>``, ``<explore>``, ``<action>`` or a
  closing one) appears inside a block;
- there is exactly one ``<action>`` block and exactly one reasoning block, ``<think>`` or
  ``<explore>`` (never both);
- the reasoning block closes before the action block opens;
- both blocks hold non-whitespace text;
- only whitespace lies outside the two blocks (leading, trailing and between).

- (the release's rule, on by default) neither block holds a Chinese character (a CJK unified
  ideograph, U+4E00..U+9FFF): the official action projection rejects them, because Qwen models
  drift into Chinese.

The whitespace rule is ours: the paper only requires the blocks. We allow whitespace alone because
text outside the blocks is free for the model (no reward reads it) and would otherwise grow
unpunished, costing tokens and context; the -0.1 invalid-step penalty is the signal that
keeps the format tight. Callers decode responses with special tokens skipped, so an
end-of-turn marker does not count as outside text.

Tags match exactly and case-sensitively (``<Think>`` or ``< think>`` is plain text).
The parse is linear in the input: one regex of literal alternatives (nothing to backtrack
into) finds the tags, and every later pass walks the tag list or the text once.

Whether or not the response is valid, the first complete action block (an ``<action>`` whose
next action tag is ``</action>``) is returned with its whitespace collapsed, because the env
still receives it; ``explore`` (the branch trigger) is true when any ``<explore>`` is later
closed by ``</explore>``, the full-pair test of the method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from sparkrl.agent.prompt import ACTION_TAG, ALL_TAGS, EXPLORE_TAG, REASONING_TAGS

INVALID_STEP_PENALTY = 0.1
"""Subtracted from the score of a step whose response is invalid (spark-method.md section 4)."""

Mode = Literal["think", "explore", "none"]

_TAG_PATTERN = re.compile(r"<(/?)(" + "|".join(ALL_TAGS) + r")>")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_SNIPPET_CHARS = 40


@dataclass(frozen=True)
class ParsedResponse:
    """What a response says and whether it follows the format."""

    mode: Mode
    """Kind of the first complete reasoning block; ``"none"`` when there is none."""
    reasoning: str
    """Stripped text of that reasoning block (empty when there is none)."""
    action: str | None
    """First complete action block, whitespace collapsed; ``None`` if absent or blank."""
    valid: bool
    error: str | None
    """Why the response is invalid; ``None`` exactly when it is valid."""
    explore: bool
    """The branch trigger: a full ``<explore>...</explore>`` pair is present."""


@dataclass(frozen=True)
class _Tag:
    name: str
    closing: bool
    start: int
    end: int

    def __str__(self) -> str:
        return f"</{self.name}>" if self.closing else f"<{self.name}>"


@dataclass(frozen=True)
class _Block:
    opening: _Tag
    closing: _Tag

    @property
    def name(self) -> str:
        return self.opening.name

    def content(self, text: str) -> str:
        return text[self.opening.end : self.closing.start]


def parse_response(text: str, reject_chinese: bool = True) -> ParsedResponse:
    """Parse one response; never raises (a non-string gives an invalid, empty parse).
    ``reject_chinese=False`` drops the release's no-Chinese-characters rule."""
    if not isinstance(text, str):
        error = f"response is not a string (got {type(text).__name__})"
        return ParsedResponse("none", "", None, False, error, False)
    tags = [
        _Tag(match.group(2), bool(match.group(1)), match.start(), match.end())
        for match in _TAG_PATTERN.finditer(text)
    ]
    first = _first_blocks(tags)
    action_block = first[ACTION_TAG]
    action = " ".join(action_block.content(text).split()) if action_block else ""
    reasoning_blocks = [first[name] for name in REASONING_TAGS if first[name] is not None]
    reasoning_block = min(reasoning_blocks, key=lambda b: b.opening.start, default=None)
    error = _validity_error(text, tags, reject_chinese)
    return ParsedResponse(
        mode=cast(Mode, reasoning_block.name if reasoning_block else "none"),
        reasoning=reasoning_block.content(text).strip() if reasoning_block else "",
        action=action or None,
        valid=error is None,
        error=error,
        explore=first[EXPLORE_TAG] is not None,
    )


def _first_blocks(tags: list[_Tag]) -> dict[str, _Block | None]:
    """Per tag name, the first opening tag whose next same-name tag closes it."""
    first: dict[str, _Block | None] = dict.fromkeys(ALL_TAGS)
    pending: dict[str, _Tag | None] = dict.fromkeys(ALL_TAGS)
    for tag in tags:
        if first[tag.name] is not None:
            continue
        if not tag.closing:
            pending[tag.name] = tag
        elif (opening := pending[tag.name]) is not None:
            first[tag.name] = _Block(opening, tag)
    return first


def _validity_error(text: str, tags: list[_Tag], reject_chinese: bool) -> str | None:
    """Why the response breaks the format, checking the rules in order; ``None`` if valid."""
    blocks, error = _top_level_blocks(tags)
    if error is not None:
        return error
    actions = [block for block in blocks if block.name == ACTION_TAG]
    reasonings = [block for block in blocks if block.name in REASONING_TAGS]
    if not actions:
        return f"no <{ACTION_TAG}> block"
    if len(actions) > 1:
        return f"{len(actions)} <{ACTION_TAG}> blocks; exactly one is allowed"
    if not reasonings:
        return f"no reasoning block (<{REASONING_TAGS[0]}> or <{REASONING_TAGS[1]}>)"
    if len(reasonings) > 1:
        names = ", ".join(f"<{block.name}>" for block in reasonings)
        return f"{len(reasonings)} reasoning blocks ({names}); exactly one is allowed"
    reasoning, action = reasonings[0], actions[0]
    if action.opening.start < reasoning.opening.start:
        return f"the <{ACTION_TAG}> block comes before the <{reasoning.name}> block"
    if not reasoning.content(text).strip():
        return f"empty <{reasoning.name}> block"
    if not action.content(text).strip():
        return f"empty <{ACTION_TAG}> block"
    outside = _first_outside_text(text, blocks)
    if outside:
        return f"text outside the blocks: {outside[:_SNIPPET_CHARS]!r}"
    if reject_chinese:
        for block in (reasoning, action):
            if (match := _CHINESE.search(block.content(text))) is not None:
                return f"Chinese character {match.group()!r} in the <{block.name}> block"
    return None


def _top_level_blocks(tags: list[_Tag]) -> tuple[list[_Block], str | None]:
    """Pair tags into non-nested blocks, or say where the nesting breaks."""
    blocks: list[_Block] = []
    opening: _Tag | None = None
    for tag in tags:
        if opening is None:
            if tag.closing:
                return blocks, f"{tag} without a matching <{tag.name}>"
            opening = tag
        elif tag.closing and tag.name == opening.name:
            blocks.append(_Block(opening, tag))
            opening = None
        else:
            return blocks, f"{tag} inside the <{opening.name}> block"
    if opening is not None:
        return blocks, f"<{opening.name}> is never closed"
    return blocks, None


def _first_outside_text(text: str, blocks: list[_Block]) -> str:
    """The first non-whitespace text between, before or after the blocks, stripped."""
    cursor = 0
    for block in blocks:
        gap = text[cursor : block.opening.start].strip()
        if gap:
            return gap
        cursor = block.closing.end
    return text[cursor:].strip()
