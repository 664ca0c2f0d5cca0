"""The ScienceWorld expert: the simulator's gold action path, with search steps marked.

The actions are the gold path ScienceWorld generates for the game (they replay to score 100).
``is_search`` adapts the household expert's idea — a step that looks for something the agent
has not seen — to ScienceWorld, judged only from the observations the expert has been shown:

1. Only exploring verbs can be searches: ``teleport to``, ``go to``, ``open``, ``look around``,
   ``look in``. Acting on things (focus, pick up, move, pour, use, connect, activate, read,
   wait, look at, examine, ...) never is.
2. The step's *target* is the first object of the next acting step in the plan, stripped of
   where it sits (``"substance in metal pot"`` -> ``"substance"``). The step is a search when
   that target has not been seen yet: some word of it appears in no observation so far.
   What a ``read`` shows is knowledge, not sight: a recipe naming sodium chloride does not
   tell where it is, so text read does not count as seen.
3. Moving (``go to``/``teleport to``/``open door to``) towards a place the task description
   names ("... located around the living room") is directed, not a search — including the
   moves through other rooms on the way, up to the next step that is not a move.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sparkrl.envs.base import ExpertStep, Observation

EXPLORING_VERBS: tuple[str, ...] = ("teleport to ", "go to ", "open ", "look around", "look in ")
ACTING_VERBS: tuple[str, ...] = (
    "focus on ", "pick up ", "put down ", "drop ", "move ", "pour ", "dunk ", "mix ", "use ",
    "connect ", "disconnect ", "activate ", "deactivate ", "read ", "eat ", "flush ",
    "look at ", "examine ",
)
_PLACES = ("teleport to ", "go to ", "open door to ")
_QUALIFIER = re.compile(r" (?:to|on|in|into) ")
_WORD = re.compile(r"[a-z0-9]+")


def _verb(action: str, verbs: Sequence[str]) -> str | None:
    return next((verb for verb in verbs if action == verb.strip() or action.startswith(verb)), None)


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def target_of(action: str) -> str | None:
    """The first object an acting step works on, without its location; None for other steps."""
    verb = _verb(action, ACTING_VERBS)
    if verb is None:
        return None
    return _QUALIFIER.split(action[len(verb):], maxsplit=1)[0].strip() or None


def destination_of(action: str) -> str | None:
    """The place a ``go to``/``teleport to``/``open door to`` step heads for."""
    verb = _verb(action, _PLACES)
    return action[len(verb):].strip() if verb else None


class GoldExpert:
    """Replays a gold action path; feed ``act`` every observation, starting with the reset's."""

    def __init__(self, actions: Sequence[str]) -> None:
        self.actions: tuple[str, ...] = tuple(actions)
        self._next = 0
        self._seen_words: set[str] = set()
        self._goal_text = ""

    def _next_target(self) -> str | None:
        for action in self.actions[self._next + 1:]:
            target = target_of(action)
            if target is not None:
                return target
        return None

    def _heads_for_named_place(self) -> bool:
        for action in self.actions[self._next:]:
            destination = destination_of(action.lower())
            if destination is None:
                return False
            if f" {_words(destination)} " in self._goal_text:
                return True
        return False

    def _is_search(self, action: str) -> bool:
        if _verb(action, EXPLORING_VERBS) is None:
            return False
        if destination_of(action) is not None and self._heads_for_named_place():
            return False
        target = self._next_target()
        return target is not None and not set(_WORD.findall(target.lower())) <= self._seen_words

    def act(self, observation: Observation) -> ExpertStep:
        if self._next >= len(self.actions):
            raise RuntimeError(f"the gold path ({len(self.actions)} actions) is exhausted")
        self._goal_text = f" {_words(observation.goal)} "
        previous = self.actions[self._next - 1] if self._next else ""
        if not previous.startswith("read "):
            self._seen_words.update(_WORD.findall(observation.text.lower()))
        action = self.actions[self._next]
        step = ExpertStep(action, is_search=self._is_search(action.lower()))
        self._next += 1
        return step
