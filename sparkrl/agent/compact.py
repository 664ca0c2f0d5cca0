"""The compact prompt style: the same information as the paper's prompt in far fewer tokens.

A tiny model with a short context pays for every prompt token twice: at rollout time and again
when the learner rescores the rows (93% of the learner's tokens were prompt tokens with the
paper style). The compact style keeps everything a step needs (goal, the history window, the
current observation, the admissible actions) and drops the prose around it:

- the system message is one line naming the three blocks;
- the user message is ``goal:`` / per past step, a ``- observation`` line and a ``> action``
  line / ``now:`` observation / ``actions:`` lines; a ``-= ... =-`` banner line opening an
  observation (TextWorld's welcome) carries no information and is dropped;
- admissible actions that differ only in a trailing instance number are grouped on one line
  (``go to cabinet 1|2|3``), which ``expand_actions`` reverses exactly.

``parse_compact_user_message`` recovers every piece from the text, which is what the round-trip
test checks: nothing the paper prompt shows is lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

COMPACT_SYSTEM_PROMPT = (
    "Reply <think>next step</think> when things go as planned or <explore>places to try</explore> "
    "when unsure, then <action>one listed action</action>."
)

_NUMBER_SEPARATOR = "|"
_GROUPABLE = re.compile(r"^(.*\S) (\d+)$")
_GROUPED = re.compile(r"^(.*\S) (\d+(?:\|\d+)+)$")
_GOAL, _SEEN, _DID, _NOW, _ACTIONS, _NO_ACTIONS = "goal: ", "- ", "> ", "now: ", "actions:", "actions: none listed; write one command"


_BANNER = re.compile(r"^\s*-=.*?=-\s*")


def _one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed: every field of the compact prompt is one line."""
    return " ".join(text.split())


def _observation_line(text: str) -> str:
    return _one_line(_BANNER.sub("", text, count=1))


def group_actions(actions: Sequence[str]) -> list[str]:
    """One line per group of actions that differ only in their trailing number, in the order
    of each group's first action; ``expand_actions`` gives back ``actions``' items.

    An action that already looks like a grouped line (its last word holds ``|``-joined numbers)
    would be ambiguous, so it raises ValueError.
    """
    groups: dict[str, list[str]] = {}
    for raw in actions:
        action = _one_line(raw)
        if _GROUPED.match(action):
            raise ValueError(f"action {action!r} cannot be shown in the compact style")
        match = _GROUPABLE.match(action)
        key, number = (match.group(1), match.group(2)) if match else (action, None)
        numbers = groups.setdefault(key if number is not None else "\0" + action, [])
        if number is not None:
            numbers.append(number)
    lines = []
    for key, numbers in groups.items():
        if key.startswith("\0"):
            lines.append(key[1:])
        else:
            lines.append(f"{key} {_NUMBER_SEPARATOR.join(numbers)}")
    return lines


def expand_actions(lines: Sequence[str]) -> list[str]:
    """The actions the grouped ``lines`` stand for (the inverse of ``group_actions``)."""
    actions = []
    for line in lines:
        match = _GROUPED.match(line)
        if match:
            actions.extend(f"{match.group(1)} {n}" for n in match.group(2).split(_NUMBER_SEPARATOR))
        else:
            actions.append(line)
    return actions


def build_compact_user_message(
    goal: str,
    observation: str,
    admissible_actions: Sequence[str],
    past: Sequence[tuple[str, str]],
    steps_taken: int,
) -> str:
    """The compact user turn; ``past`` holds the window's (observation, action) pairs, oldest
    first, and ``steps_taken`` counts every step so far (the window may hold fewer)."""
    lines = [_GOAL + _one_line(goal)]
    if steps_taken > len(past):
        lines.append(f"({steps_taken - len(past)} earlier steps)")
    for seen, action in past:
        lines.extend((_SEEN + _observation_line(seen), _DID + _one_line(action)))
    lines.append(_NOW + _observation_line(observation))
    if admissible_actions:
        lines.append(_ACTIONS)
        lines.extend(group_actions(admissible_actions))
    else:
        lines.append(_NO_ACTIONS)
    return "\n".join(lines)


@dataclass(frozen=True)
class CompactPrompt:
    """What ``parse_compact_user_message`` reads back from a compact user turn (texts with their
    whitespace collapsed and any opening banner dropped)."""

    goal: str
    observation: str
    admissible_actions: tuple[str, ...]
    past: tuple[tuple[str, str], ...]
    """(observation, action) pairs of the history window, oldest first."""
    steps_taken: int


def parse_compact_user_message(text: str) -> CompactPrompt:
    """Read a compact user turn back into its parts; ValueError if ``text`` is not one."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith(_GOAL):
        raise ValueError("a compact prompt starts with 'goal: '")
    goal = lines[0][len(_GOAL):]
    index, earlier = 1, 0
    if index < len(lines) and re.fullmatch(r"\(\d+ earlier steps\)", lines[index]):
        earlier = int(lines[index][1:].split()[0])
        index += 1
    past = []
    while index < len(lines) and lines[index].startswith(_SEEN):
        if index + 1 >= len(lines) or not lines[index + 1].startswith(_DID):
            raise ValueError(f"history observation without its '> action' line: {lines[index]!r}")
        past.append((lines[index][len(_SEEN):], lines[index + 1][len(_DID):]))
        index += 2
    if index >= len(lines) or not lines[index].startswith(_NOW):
        raise ValueError("a compact prompt has a 'now: ' line after the history")
    observation = lines[index][len(_NOW):]
    rest = lines[index + 1:]
    if rest == [_NO_ACTIONS]:
        actions: list[str] = []
    elif rest and rest[0] == _ACTIONS:
        actions = expand_actions(rest[1:])
    else:
        raise ValueError("a compact prompt ends with the 'actions:' lines")
    return CompactPrompt(goal, observation, tuple(actions), tuple(past), earlier + len(past))
