"""The household expert: plans from what it has read, never from the game's hidden state.

It is built with no reference to the environment. Its whole knowledge is the text it is shown —
the intro (receptacle names, goal), each feedback line, the goal sentence — plus common sense
about where object types usually lie (the catalog's placement table). From those it keeps a
belief: where it stands, what it holds, what it saw in each receptacle, which receptacles are
closed, which objects it has cleaned / heated / cooled, where the desk lamp is.

Search order for an object type: unexplored receptacles ranked by the chance per step of finding
it there — P(type) / (receptacles of that type) / (2 if it must be opened, else 1) — then by type
name and number. The goal receptacle type ranks last (a task never asks to move an object where
it already is). A step is ``is_search`` when it goes to or opens a receptacle only to look inside.
"""

from __future__ import annotations

import re

from sparkrl.envs.base import ExpertStep, Observation
from sparkrl.envs.household.catalog import OPENABLE, PLACES, TREATMENTS
from sparkrl.envs.household.world import LAMP, kind_of, listing_key

_GOALS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), task_type)
    for pattern, task_type in (
        (r"^put a clean (\w+) in (\w+)\.$", "pick_clean_then_place_in_recep"),
        (r"^clean some (\w+) and put it in (\w+)\.$", "pick_clean_then_place_in_recep"),
        (r"^put a hot (\w+) in (\w+)\.$", "pick_heat_then_place_in_recep"),
        (r"^heat some (\w+) and put it in (\w+)\.$", "pick_heat_then_place_in_recep"),
        (r"^put a cool (\w+) in (\w+)\.$", "pick_cool_then_place_in_recep"),
        (r"^cool some (\w+) and put it in (\w+)\.$", "pick_cool_then_place_in_recep"),
        (r"^put two (\w+) in (\w+)\.$", "pick_two_obj_and_place"),
        (r"^find two (\w+) and put them in (\w+)\.$", "pick_two_obj_and_place"),
        (r"^look at (\w+) under the (\w+)\.$", "look_at_obj_in_light"),
        (r"^examine the (\w+) with the (\w+)\.$", "look_at_obj_in_light"),
        (r"^put a (\w+) in (\w+)\.$", "pick_and_place_simple"),
        (r"^put some (\w+) on (\w+)\.$", "pick_and_place_simple"),
    )
)

_ROOM = re.compile(r"Looking quickly around you, you see (.+?)\.\n")
_ARRIVE = re.compile(r"^You arrive at (.+?)\. (.*)$", re.S)
_OPEN = re.compile(r"^You open the (.+?)\. (.*)$", re.S)
_CLOSE = re.compile(r"^You close the (.+?)\.$")
_TAKE = re.compile(r"^You pick up the (.+?) from the (.+?)\.$")
_MOVE = re.compile(r"^You move the (.+?) to the (.+?)\.$")
_TREAT = re.compile(r"^You (clean|heat|cool) the (.+?) using the (.+?)\.$")
_OPEN_VIEW = re.compile(r"^The (.+?) is open\. In it, you see (.+)\.$")
_CLOSED_VIEW = re.compile(r"^The (.+?) is closed\.$")
_SURFACE_VIEW = re.compile(r"^On the (.+?), you see (.+)\.$")


def parse_goal(goal: str) -> tuple[str, str, str]:
    """(task type, object type, receptacle type) of an ALFWorld goal sentence."""
    sentence = goal.strip().removeprefix("Your task is to: ")
    for pattern, task_type in _GOALS:
        match = pattern.match(sentence)
        if match:
            return task_type, match[1], match[2]
    raise ValueError(f"unrecognised household goal: {goal!r}")


def parse_list(text: str) -> list[str]:
    """Inverse of TextWorld's list wording: "a x 1, a y 2, and a z 1" -> names; "nothing" -> []."""
    if text == "nothing":
        return []
    items = text.replace(", and ", ", ").split(", ")
    return [item.removeprefix("a ").removeprefix("an ") for item in items]


def _number(name: str) -> int:
    return int(name.rsplit(" ", 1)[1])


class HouseholdExpert:
    """A stateful expert for one episode; feed it every observation, starting with the reset's."""

    def __init__(self) -> None:
        self.task_type = ""
        self.target = ""
        self.goal_kind = ""
        self.receptacles: list[str] = []
        self.contents: dict[str, set[str]] = {}
        self.closed: set[str] = set()
        self.location: str | None = None
        self.held: str | None = None
        self.treated: set[str] = set()
        self.lamp_at: str | None = None
        self.destination: str | None = None

    # ---- belief update --------------------------------------------------------------------
    def _observe_view(self, text: str) -> None:
        for pattern in (_OPEN_VIEW, _SURFACE_VIEW):
            match = pattern.match(text)
            if match:
                self._saw(match[1], parse_list(match[2]))
                self.closed.discard(match[1])
                return
        match = _CLOSED_VIEW.match(text)
        if match:
            self.closed.add(match[1])

    def _saw(self, receptacle: str, objects: list[str]) -> None:
        self.contents[receptacle] = set(objects)
        if any(kind_of(obj) == LAMP for obj in objects):
            self.lamp_at = receptacle

    def _observe(self, observation: Observation) -> None:
        text = observation.text.strip()
        if not self.task_type:
            self.task_type, self.target, self.goal_kind = parse_goal(observation.goal)
            room = _ROOM.search(observation.text)
            names = parse_list(room[1]) if room else [
                action.removeprefix("go to ") for action in observation.admissible_actions
                if action.startswith("go to ")
            ]
            self.receptacles = sorted(names, key=listing_key)
            return
        if match := _ARRIVE.match(text):
            self.location = match[1]
            self._observe_view(match[2])
        elif match := _OPEN.match(text):
            self._observe_view(match[2])
        elif match := _CLOSE.match(text):
            self.closed.add(match[1])
        elif match := _TAKE.match(text):
            self.held = match[1]
            self.contents.get(match[2], set()).discard(match[1])
        elif match := _MOVE.match(text):
            self.held = None
            self.contents.setdefault(match[2], set()).add(match[1])
        elif match := _TREAT.match(text):
            self.treated.add(f"{match[1]}:{match[2]}")
        else:
            self._observe_view(text)

    # ---- planning -------------------------------------------------------------------------
    def act(self, observation: Observation) -> ExpertStep:
        """The next action, given the observation the previous action produced."""
        self._observe(observation)
        if self.task_type == "look_at_obj_in_light":
            return self._look_under_lamp()
        if self.held is not None and kind_of(self.held) == self.target:
            return self._finish_with_held()
        return self._fetch(self.target)

    def _go(self, receptacle: str, is_search: bool = False) -> ExpertStep:
        return ExpertStep(f"go to {receptacle}", is_search)

    def _look_under_lamp(self) -> ExpertStep:
        if self.held is None:
            return self._fetch(self.target)
        if self.lamp_at is None:
            return self._search(LAMP)
        if self.location != self.lamp_at:
            return self._go(self.lamp_at)
        lamp = next(obj for obj in sorted(self.contents[self.lamp_at]) if kind_of(obj) == LAMP)
        return ExpertStep(f"use {lamp}", False)

    def _finish_with_held(self) -> ExpertStep:
        held = self.held
        assert held is not None
        treatment = TREATMENTS.get(self.task_type)
        if treatment is not None and f"{treatment[0]}:{held}" not in self.treated:
            verb, appliance_kind = treatment
            appliance = next(r for r in self.receptacles if kind_of(r) == appliance_kind)
            if self.location != appliance:
                return self._go(appliance)
            return ExpertStep(f"{verb} {held} with {appliance}", False)
        destination = self._destination()
        if self.location != destination:
            return self._go(destination)
        if destination in self.closed:
            return ExpertStep(f"open {destination}", False)
        return ExpertStep(f"move {held} to {destination}", False)

    def _destination(self) -> str:
        """The goal receptacle to use: once chosen it stays (pick-two needs both in one)."""
        if self.destination is None:
            candidates = [r for r in self.receptacles if kind_of(r) == self.goal_kind]
            here = [r for r in candidates if r == self.location]
            seen_open = [r for r in candidates if r in self.contents and r not in self.closed]
            self.destination = (here or seen_open or sorted(candidates, key=_number))[0]
        return self.destination

    def _fetch(self, obj_type: str) -> ExpertStep:
        """Go to a known object of ``obj_type`` and take it, or search for one."""
        spots = [
            receptacle for receptacle in self.receptacles
            if receptacle != self.destination
            and any(kind_of(obj) == obj_type for obj in self.contents.get(receptacle, ()))
        ]
        if not spots:
            return self._search(obj_type)
        spot = self.location if self.location in spots else spots[0]
        if self.location != spot:
            return self._go(spot)
        if spot in self.closed:
            return ExpertStep(f"open {spot}", False)
        obj = min(o for o in self.contents[spot] if kind_of(o) == obj_type)
        return ExpertStep(f"take {obj} from {spot}", False)

    def _search(self, obj_type: str) -> ExpertStep:
        unexplored = [r for r in self.receptacles if r not in self.contents]
        if self.location in unexplored and self.location in self.closed:
            return ExpertStep(f"open {self.location}", True)
        if not unexplored:
            return ExpertStep("look", True)
        return self._go(min(unexplored, key=lambda r: self._search_rank(r, obj_type)), is_search=True)

    def _search_rank(self, receptacle: str, obj_type: str) -> tuple[float, str, int]:
        """Smaller is better: minus the chance per step of finding ``obj_type`` there."""
        kind = kind_of(receptacle)
        chance = 0 if kind == self.goal_kind else PLACES[obj_type][1].get(kind, 0)
        same_kind = sum(1 for r in self.receptacles if kind_of(r) == kind)
        cost = 2 if kind in OPENABLE else 1
        return -chance / same_kind / cost, kind, _number(receptacle)
