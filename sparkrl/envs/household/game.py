"""Game state and action semantics, worded as ALFWorld 0.4.2 words them.

The grammar and feedback mirror ALFWorld's TextWorld games (alfred.twl2 and alfred.pddl, checked by
playing the real valid_seen games with textworld 1.7.0): ``go to R``, ``open R``, ``close R``,
``take O from R``, ``move O to R``, ``heat/clean/cool O with R``, ``use O``, ``examine R|O``,
``look``, ``inventory``, ``help``. Admissible commands are those ALFWorld lists, sorted as strings.
Two leniencies, neither admissible-listed: commands are case- and whitespace-normalised (ALFWorld
is case-sensitive), and ``put O in R`` / ``put O on R`` / ``put O in/on R`` / ``put O into R``
are accepted as synonyms of ALFWorld's ``move O to R``. Everything else answers "Nothing happens.".

Deliberate ALFWorld quirks kept: the article is always "a" ("a apple 1"); "look" in the middle of
the room sees nothing; "use" on a desk lamp always answers "You turn on the …"; heat/cool/clean
work on a closed appliance; only a held object can be examined.
"""

from __future__ import annotations

import re

from sparkrl.envs.base import UNKNOWN_ACTION_TEXT
from sparkrl.envs.household.catalog import CAN_CONTAIN, CLEANABLE, COOLABLE, FIXTURES, HEATABLE, OPENABLE
from sparkrl.envs.household.world import LAMP, World, kind_of, listing_key

INTRO_BANNER = "-= Welcome to TextWorld, ALFRED! =-"

HELP_TEXT = """Available commands:
  look:                             look around your current location
  inventory:                        check your current inventory
  go to (receptacle):               move to a receptacle
  open (receptacle):                open a receptacle
  close (receptacle):               close a receptacle
  take (object) from (receptacle):  take an object from a receptacle
  move (object) to (receptacle):  place an object in or on a receptacle
  examine (something):              examine a receptacle or an object
  use (object):                     use an object
  heat (object) with (receptacle):  heat an object using a receptacle
  clean (object) with (receptacle): clean an object using a receptacle
  cool (object) with (receptacle):  cool an object using a receptacle
  slice (object) with (object):     slice an object using a sharp object"""

CLEAN, HOT, COOL, TOGGLED = 1, 2, 4, 8
NOWHERE = -1
HELD = -2

# verb -> (appliance type, objects it applies to, flag set, flag cleared)
_TREATMENTS = {
    "clean": ("sinkbasin", CLEANABLE, CLEAN, 0),
    "heat": ("microwave", HEATABLE, HOT, COOL),
    "cool": ("fridge", COOLABLE, COOL, HOT),
}

_COMMAND = re.compile(
    r"^(?:(?P<simple>look|inventory|help)"
    r"|(?P<verb1>go to|open|close|examine|use) (?P<arg>.+)"
    r"|take (?P<take>.+) from (?P<take_from>.+)"
    r"|(?:move (?P<move>.+) to|put (?P<put>.+) (?:in|on|into|in/on)) (?P<move_to>.+)"
    r"|(?P<verb3>heat|clean|cool) (?P<treat>.+) with (?P<treat_with>.+))$"
)


def normalize_command(command: str) -> str:
    """Lower-case, collapse whitespace, drop one trailing period."""
    text = " ".join(command.lower().split())
    return text[:-1].rstrip() if text.endswith(".") else text


def format_list(names: list[str]) -> str:
    """TextWorld's list: "a x 1", "a x 1, and a y 1", "a x, a y, and a z"; "nothing" if empty."""
    items = [f"a {name}" for name in names]
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


class Rules:
    """Everything about a game that never changes while it is played, precomputed once."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.receptacles = world.receptacles
        self.objects = world.objects
        self.receptacle_kinds = tuple(kind_of(name) for name in world.receptacles)
        self.object_kinds = tuple(kind_of(name) for name in world.objects)
        self.receptacle_index = {name: i for i, name in enumerate(world.receptacles)}
        self.object_index = {name: i for i, name in enumerate(world.objects)}
        self.openable = tuple(kind in OPENABLE for kind in self.receptacle_kinds)
        self.pickupable = tuple(kind not in FIXTURES for kind in self.object_kinds)
        self.object_order = sorted(range(len(world.objects)), key=lambda i: listing_key(world.objects[i]))
        self.go_actions = tuple(f"go to {name}" for name in world.receptacles)
        self.targets = tuple(i for i, kind in enumerate(self.object_kinds) if kind == world.target_type)
        self.goal_receptacles = frozenset(
            i for i, kind in enumerate(self.receptacle_kinds) if kind == world.goal_receptacle_type
        )
        self.lamps = tuple(i for i, kind in enumerate(self.object_kinds) if kind == LAMP)
        self.required_flag = {
            "pick_clean_then_place_in_recep": CLEAN,
            "pick_heat_then_place_in_recep": HOT,
            "pick_cool_then_place_in_recep": COOL,
        }.get(world.task_type, 0)
        self.intro = (
            f"{INTRO_BANNER}\n\nYou are in the middle of a room. Looking quickly around you, you see "
            f"{format_list(list(world.receptacles))}.\n\nYour task is to: {world.goal}"
        )

    def can_hold(self, receptacle: int, obj: int) -> bool:
        """Whether object ``obj`` may be moved into ``receptacle`` (ALFWorld's canContain)."""
        return self.object_kinds[obj] in CAN_CONTAIN[self.receptacle_kinds[receptacle]]


class Game:
    """The mutable state of one episode; ``copy()`` is a cheap snapshot sharing the ``Rules``."""

    __slots__ = ("rules", "location", "held", "object_locations", "opened", "flags", "won")

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.location = NOWHERE
        self.held = NOWHERE
        self.object_locations = list(rules.world.object_locations)
        self.opened = [False] * len(rules.receptacles)
        self.flags = [0] * len(rules.objects)
        self.won = False

    def copy(self) -> Game:
        """An independent game at the same state."""
        clone = Game.__new__(Game)
        clone.rules = self.rules
        clone.location = self.location
        clone.held = self.held
        clone.object_locations = self.object_locations.copy()
        clone.opened = self.opened.copy()
        clone.flags = self.flags.copy()
        clone.won = self.won
        return clone

    # ---- what the player sees ------------------------------------------------------------
    def _contents(self, receptacle: int) -> list[str]:
        locations, names = self.object_locations, self.rules.objects
        return [names[i] for i in self.rules.object_order if locations[i] == receptacle]

    def _visible(self, receptacle: int) -> bool:
        return self.opened[receptacle] or not self.rules.openable[receptacle]

    def describe(self, receptacle: int) -> str:
        """ALFWorld's examineReceptacle feedback."""
        name = self.rules.receptacles[receptacle]
        if self.rules.openable[receptacle]:
            if not self.opened[receptacle]:
                return f"The {name} is closed."
            return f"The {name} is open. In it, you see {format_list(self._contents(receptacle))}."
        return f"On the {name}, you see {format_list(self._contents(receptacle))}."

    def admissible(self) -> list[str]:
        """The commands ALFWorld would list in this state, sorted."""
        rules, here, held = self.rules, self.location, self.held
        actions = ["help", "inventory", "look"]
        actions.extend(action for i, action in enumerate(rules.go_actions) if i != here)
        if held != NOWHERE:
            actions.append(f"examine {rules.objects[held]}")
        if here != NOWHERE:
            name = rules.receptacles[here]
            actions.append(f"examine {name}")
            if rules.openable[here]:
                actions.append(f"close {name}" if self.opened[here] else f"open {name}")
            visible = self._visible(here)
            for obj in rules.lamps:
                if self.object_locations[obj] == here:
                    actions.append(f"use {rules.objects[obj]}")
            if held == NOWHERE:
                if visible:
                    actions.extend(
                        f"take {rules.objects[obj]} from {name}"
                        for obj, spot in enumerate(self.object_locations)
                        if spot == here and rules.pickupable[obj]
                    )
            else:
                held_name = rules.objects[held]
                if visible and rules.can_hold(here, held):
                    actions.append(f"move {held_name} to {name}")
                for verb, (appliance, applies_to, _, _) in _TREATMENTS.items():
                    if rules.receptacle_kinds[here] == appliance and rules.object_kinds[held] in applies_to:
                        actions.append(f"{verb} {held_name} with {name}")
        actions.sort()
        return actions

    # ---- what the player does -------------------------------------------------------------
    def step(self, command: str) -> str:
        """Apply ``command``; return ALFWorld's feedback, or "Nothing happens." if inapplicable."""
        match = _COMMAND.match(normalize_command(command))
        if match is None:
            return UNKNOWN_ACTION_TEXT
        feedback = self._dispatch(match)
        if feedback is None:
            return UNKNOWN_ACTION_TEXT
        self.won = self.won or self._goal_reached()
        return feedback

    def _dispatch(self, match: re.Match[str]) -> str | None:
        rules = self.rules
        if match["simple"]:
            return self._simple(match["simple"])
        if match["verb1"]:
            verb, arg = match["verb1"], match["arg"]
            if verb == "examine" and arg in rules.object_index:
                return self._examine_object(rules.object_index[arg])
            if verb == "use":
                return self._use(rules.object_index.get(arg, NOWHERE))
            receptacle = rules.receptacle_index.get(arg, NOWHERE)
            if receptacle == NOWHERE:
                return None
            return {"go to": self._go, "open": self._open, "close": self._close,
                    "examine": self._examine_receptacle}[verb](receptacle)
        if match["take"]:
            return self._take(rules.object_index.get(match["take"], NOWHERE),
                              rules.receptacle_index.get(match["take_from"], NOWHERE))
        if match["move_to"]:
            return self._move(rules.object_index.get(match["move"] or match["put"], NOWHERE),
                              rules.receptacle_index.get(match["move_to"], NOWHERE))
        return self._treat(match["verb3"], rules.object_index.get(match["treat"], NOWHERE),
                           rules.receptacle_index.get(match["treat_with"], NOWHERE))

    def _simple(self, verb: str) -> str:
        if verb == "help":
            return HELP_TEXT
        if verb == "inventory":
            if self.held == NOWHERE:
                return "You are not carrying anything."
            return f"You are carrying: a {self.rules.objects[self.held]}."
        if self.location == NOWHERE:
            return "You are in the middle of a room. Looking quickly around you, you see nothing."
        return f"You are facing the {self.rules.receptacles[self.location]}. Next to it, you see nothing."

    def _go(self, receptacle: int) -> str | None:
        if receptacle == self.location:
            return None
        self.location = receptacle
        return f"You arrive at {self.rules.receptacles[receptacle]}. {self.describe(receptacle)}"

    def _open(self, receptacle: int) -> str | None:
        if receptacle != self.location or not self.rules.openable[receptacle] or self.opened[receptacle]:
            return None
        self.opened[receptacle] = True
        return f"You open the {self.rules.receptacles[receptacle]}. {self.describe(receptacle)}"

    def _close(self, receptacle: int) -> str | None:
        if receptacle != self.location or not self.rules.openable[receptacle] or not self.opened[receptacle]:
            return None
        self.opened[receptacle] = False
        return f"You close the {self.rules.receptacles[receptacle]}."

    def _examine_receptacle(self, receptacle: int) -> str | None:
        return self.describe(receptacle) if receptacle == self.location else None

    def _examine_object(self, obj: int) -> str | None:
        if obj != self.held:
            return None
        flags, name = self.flags[obj], self.rules.objects[obj]
        if flags & CLEAN and flags & HOT:
            return f"This is a hot and clean {name}."
        if flags & CLEAN and flags & COOL:
            return f"This is a cool and clean {name}."
        if flags & HOT:
            return f"This is a hot {name}."
        if flags & CLEAN:
            return f"This is a clean {name}."
        if flags & COOL:
            return f"This is a cold {name}."
        return f"There's nothing special about {name}."

    def _use(self, obj: int) -> str | None:
        if obj not in self.rules.lamps or self.location == NOWHERE:
            return None
        if self.object_locations[obj] != self.location:
            return None
        self.flags[obj] |= TOGGLED
        return f"You turn on the {self.rules.objects[obj]}."

    def _take(self, obj: int, receptacle: int) -> str | None:
        if (obj == NOWHERE or receptacle != self.location or receptacle == NOWHERE or self.held != NOWHERE
                or self.object_locations[obj] != receptacle or not self.rules.pickupable[obj]
                or not self._visible(receptacle)):
            return None
        self.object_locations[obj] = HELD
        self.held = obj
        return f"You pick up the {self.rules.objects[obj]} from the {self.rules.receptacles[receptacle]}."

    def _move(self, obj: int, receptacle: int) -> str | None:
        if (obj == NOWHERE or obj != self.held or receptacle != self.location or receptacle == NOWHERE
                or not self._visible(receptacle) or not self.rules.can_hold(receptacle, obj)):
            return None
        self.object_locations[obj] = receptacle
        self.held = NOWHERE
        return f"You move the {self.rules.objects[obj]} to the {self.rules.receptacles[receptacle]}."

    def _treat(self, verb: str, obj: int, receptacle: int) -> str | None:
        appliance, applies_to, flag_set, flag_cleared = _TREATMENTS[verb]
        rules = self.rules
        if (obj == NOWHERE or obj != self.held or receptacle != self.location or receptacle == NOWHERE
                or rules.receptacle_kinds[receptacle] != appliance
                or rules.object_kinds[obj] not in applies_to):
            return None
        self.flags[obj] = (self.flags[obj] | flag_set) & ~flag_cleared
        return f"You {verb} the {rules.objects[obj]} using the {rules.receptacles[receptacle]}."

    # ---- the goal -------------------------------------------------------------------------
    def _goal_reached(self) -> bool:
        rules, locations = self.rules, self.object_locations
        task_type = rules.world.task_type
        if task_type == "look_at_obj_in_light":
            return (self.held in rules.targets and self.location != NOWHERE
                    and any(locations[lamp] == self.location and self.flags[lamp] & TOGGLED
                            for lamp in rules.lamps))
        placed = [locations[obj] for obj in rules.targets
                  if locations[obj] in rules.goal_receptacles
                  and self.flags[obj] & rules.required_flag == rules.required_flag]
        if task_type == "pick_two_obj_and_place":
            return len(placed) != len(set(placed))
        return bool(placed)
