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
  (``go to cabinet 1|2|3``), which ``expand_actions`` reverses exactly;
- a long list (more than ``VERB_GROUPING_MIN_LINES`` lines after that, e.g. ScienceWorld's
  100-500 actions) is grouped by verb instead, under an ``actions by verb:`` header: one line
  ``verb phrase: object, object, ...`` per verb phrase (objects differing only in their number
  grouped as above: ``flower pot 1|2|5``), and verb phrases that take exactly the same objects
  share a line (``focus on|look at|mix: air, orange, painting`` stands for the nine products).
  ``expand_actions(lines, by_verb=True)`` reverses it exactly.

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
_ACTIONS_BY_VERB = "actions by verb:"
_OBJECTS_SEPARATOR = ": "
_OBJECT_SEPARATOR = ", "
_SHARED, _ALL, _ALL_BUT = "objects: ", "*", " but "
_SHARED_MIN = 8
"""The longest object list (at least this long) is shown once, as the first ``objects:`` line;
a line whose objects are all in it shows ``*`` (all of them) or ``* but x, y`` if shorter."""

VERB_GROUPING_MIN_LINES = 48
"""Lists longer than this (after number grouping) are grouped by verb; household's lists stay
under it (at most 23 lines), ScienceWorld's are mostly far over it."""


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


def _can_group_by_verb(actions: Sequence[str]) -> bool:
    return all(
        action and _OBJECTS_SEPARATOR not in action and _NUMBER_SEPARATOR not in action
        and _OBJECT_SEPARATOR.strip() not in action and not action.endswith(":")
        and _ALL not in action and not action.startswith(_SHARED.strip())
        for action in actions
    )


_LINKS = frozenset({"at", "in", "into", "on", "to", "from", "up", "down", "with", "for"})
"""Words a multi-word verb phrase may end with."""
_SPLIT_GAIN = 1.1
"""Below a verb phrase's first word, a node's actions are split into lines below it only when
that is this many times shorter."""


def _objects_size(head: str, objects: Sequence[str]) -> int:
    """Characters of the line ``head: objects`` (objects number-grouped)."""
    return len(head) + len(_OBJECTS_SEPARATOR) + sum(
        len(name) + len(_OBJECT_SEPARATOR) for name in group_actions(objects))


def _verb_groups(actions: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(verb phrase, objects) per line, or (action, []) for an action shown as it is.

    The actions form a word trie; each node's actions are shown either as one line (the
    node's words, then what follows them in each action) or node by node below it, the line
    unless splitting is clearly shorter (``_SPLIT_GAIN``). A line's verb phrase is one word or
    ends with a linking word (``look at``, ``move orange to``, ``connect red wire terminal 1
    to``), so ``look at: ...`` and ``look in: ...`` get a line each rather than ``look: at air,
    in kitchen, ...``. The first word is always split on (a verb phrase is never empty).
    """

    def size(lines: list[tuple[str, list[str]]]) -> int:
        return sum(_objects_size(head, objects) if objects else len(head) + 1 for head, objects in lines)

    def best(members: list[list[str]], depth: int) -> list[tuple[str, list[str]]]:
        if len(members) == 1:
            return [(" ".join(members[0]), [])]
        exact = [(" ".join(words), []) for words in members if len(words) == depth]
        longer = [words for words in members if len(words) > depth]
        children: dict[str, list[list[str]]] = {}
        for words in longer:
            children.setdefault(words[depth], []).append(words)
        if not exact and len(children) == 1:
            return best(longer, depth + 1)
        split = exact + [line for child in children.values() for line in best(child, depth + 1)]
        if depth == 0 or len(longer) < 2 or (depth > 1 and longer[0][depth - 1] not in _LINKS):
            return split
        whole = exact + [(" ".join(longer[0][:depth]), [" ".join(words[depth:]) for words in longer])]
        return whole if size(whole) <= (_SPLIT_GAIN if depth > 1 else 1.0) * size(split) else split

    return best([action.split(" ") for action in actions], 0)


def group_actions_by_verb(actions: Sequence[str]) -> list[str]:
    """The ``actions by verb:`` lines for ``actions`` (see the module docstring);
    ``expand_actions(lines, by_verb=True)`` gives back ``actions``' items.

    ValueError when an action holds ``": "`` or ``|`` or ends with ``:`` (it would be
    ambiguous); ``group_actions`` then keeps the plain rendering.
    """
    actions = [_one_line(action) for action in actions]
    if not _can_group_by_verb(actions):
        raise ValueError("these actions cannot be grouped by verb")
    merged: dict[tuple[str, ...], list[str]] = {}
    order: list[str | tuple[str, ...]] = []
    for head, objects in _verb_groups(actions):
        if not objects:
            order.append(head)
            continue
        key = tuple(objects)
        if key not in merged:
            merged[key] = []
            order.append(key)
        merged[key].append(head)
    shared = max(merged, key=len, default=())
    shared_names = set(shared)
    lines = []
    for entry in order:
        if isinstance(entry, str):
            lines.append(entry)
            continue
        listed = _OBJECT_SEPARATOR.join(group_actions(entry))
        if len(shared) >= _SHARED_MIN and shared_names.issuperset(entry):
            inside = set(entry)
            missing = _OBJECT_SEPARATOR.join(group_actions([name for name in shared if name not in inside]))
            reference = _ALL + (_ALL_BUT + missing if missing else "")
            if len(reference) < len(listed):
                listed = reference
        lines.append(f"{_NUMBER_SEPARATOR.join(merged[entry])}{_OBJECTS_SEPARATOR}{listed}")
    if any(line.endswith(_OBJECTS_SEPARATOR + _ALL) or _OBJECTS_SEPARATOR + _ALL + _ALL_BUT in line
           for line in lines):
        lines.insert(0, _SHARED + _OBJECT_SEPARATOR.join(group_actions(shared)))
    return lines


def uses_verb_grouping(actions: Sequence[str]) -> bool:
    """Whether the compact prompt shows ``actions`` grouped by verb."""
    return _can_group_by_verb([_one_line(action) for action in actions]) and len(
        group_actions(actions)) > VERB_GROUPING_MIN_LINES


def expand_actions(lines: Sequence[str], by_verb: bool = False) -> list[str]:
    """The actions the grouped ``lines`` stand for (the inverse of ``group_actions``, or of
    ``group_actions_by_verb`` with ``by_verb``)."""
    actions = []
    if by_verb:
        shared: list[str] = []
        if lines and lines[0].startswith(_SHARED):
            shared = expand_actions(lines[0][len(_SHARED):].split(_OBJECT_SEPARATOR))
            lines = lines[1:]
        for line in lines:
            heads, sep, objects = line.partition(_OBJECTS_SEPARATOR)
            if not sep:
                actions.append(line)
                continue
            if objects == _ALL or objects.startswith(_ALL + _ALL_BUT):
                left_out = set(expand_actions(objects[len(_ALL + _ALL_BUT):].split(_OBJECT_SEPARATOR)))
                names = [name for name in shared if name not in left_out]
            else:
                names = expand_actions(objects.split(_OBJECT_SEPARATOR))
            actions.extend(f"{head} {name}" for head in heads.split(_NUMBER_SEPARATOR) for name in names)
        return actions
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
    if admissible_actions and uses_verb_grouping(admissible_actions):
        lines.append(_ACTIONS_BY_VERB)
        lines.extend(group_actions_by_verb(admissible_actions))
    elif admissible_actions:
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
    elif rest and rest[0] == _ACTIONS_BY_VERB:
        actions = expand_actions(rest[1:], by_verb=True)
    else:
        raise ValueError("a compact prompt ends with the 'actions:' lines")
    return CompactPrompt(goal, observation, tuple(actions), tuple(past), earlier + len(past))
