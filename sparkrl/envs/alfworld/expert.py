"""The ALFWorld expert: the game's own walkthrough, each step marked search or not.

Every game file carries a walkthrough that wins it. The expert replays it and labels a step
``is_search`` by what the agent could know at that point, judged from the observations alone:

- The walkthrough's *targets* are the objects it picks up (``take X from R``) and the objects
  it uses (``use desklamp N``). A step's pending target is the next target ahead of it,
  unless a delivery (``move``, ``put``, ``clean``, ``heat``, ``cool``: something done with the
  held object) comes first — then the step is on its way to deliver, and nothing is pending.
- A ``go to`` or ``open`` step is a search while its pending target has not yet appeared in
  any observation: the agent is looking for it (walking to the object's receptacle before the
  object was ever seen is exploration, the walkthrough's hindsight aside). The same holds for
  the second object of a pick-two task and for the desklamp of an examine-in-light task.
- Every other step is not a search: taking, cleaning, heating, cooling, moving or using a seen
  object; going to or opening a receptacle to deliver the held object (the sink, microwave,
  fridge and destination are all listed in the first observation); going back to an object
  already seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sparkrl.envs.base import ExpertStep, Observation

_SEARCH_VERBS = ("go to ", "open ")
_DELIVERY_VERBS = ("move ", "put ", "clean ", "heat ", "cool ")
_TARGET = re.compile(r"^(?:take (?P<taken>.+?) from .+|use (?P<used>.+))$")


def pending_targets(walkthrough: Sequence[str]) -> list[str | None]:
    """For each step, the object the agent is heading for: the next one taken or used at or after
    it, or ``None`` when a delivery of the held object comes first (or nothing is left to get)."""
    pending: list[str | None] = [None] * len(walkthrough)
    upcoming: str | None = None
    for index in range(len(walkthrough) - 1, -1, -1):
        action = walkthrough[index]
        match = _TARGET.match(action)
        if match:
            upcoming = match["taken"] or match["used"]
        elif action.startswith(_DELIVERY_VERBS):
            upcoming = None
        pending[index] = upcoming
    return pending


def mentions(texts: Sequence[str], entity: str) -> bool:
    """Whether ``entity`` ("cd 2") appears as a whole name in any of ``texts`` (not "cd 21")."""
    pattern = re.compile(rf"(?<!\w){re.escape(entity)}(?!\w)")
    return any(pattern.search(text.lower()) for text in texts)


class WalkthroughExpert:
    """Replays a walkthrough from ``position``; ``observations`` are the texts seen so far."""

    def __init__(
        self, walkthrough: Sequence[str], position: int = 0, observations: Sequence[str] = ()
    ) -> None:
        self.walkthrough = list(walkthrough)
        self.position = position
        self._pending = pending_targets(self.walkthrough)
        self._seen: list[str] = list(observations)

    def act(self, observation: Observation) -> ExpertStep:
        """The next walkthrough action, judged a search or not from what was observed."""
        if self.position >= len(self.walkthrough):
            raise RuntimeError("the walkthrough is exhausted; the game should already be won")
        self._seen.append(observation.text)
        action = self.walkthrough[self.position]
        target = self._pending[self.position]
        self.position += 1
        searching = (
            action.startswith(_SEARCH_VERBS) and target is not None and not mentions(self._seen, target)
        )
        return ExpertStep(action=action, is_search=searching)
