"""Procedural generation of one household game from its task id.

A task id names a layout and an instance, e.g. ``pick_heat_then_place_in_recep-kitchen-s12-40``:
task type, room kind, layout (pool ``s`` = layouts the training split draws from, ``u`` = layouts
kept for L1) and instance number. The layout (which receptacles the room has, and its fixtures)
is seeded by the room and layout alone, so every task on ``kitchen-s12`` shares the same room;
the instance (target, goal receptacle, where every object lies) is seeded by the whole id plus an
attempt counter, which lets the caller deterministically reject a draw and take the next one.

The room size (``catalog.ROOM_SIZES``) is the third input: ``"full"`` rooms are generated exactly
as they always were; ``"small"`` rooms use their own seeds (``household-small-layout:...``,
``household-small-instance:...``), capped receptacle counts and fewer distractors, so a game is
a function of (task id, attempt, size).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from sparkrl.envs.household.catalog import (
    CAN_CONTAIN,
    DISTRACTOR_DRAWS,
    FIXTURES,
    GOAL_TEMPLATES,
    LAMP_ROOMS,
    LAMP_SURFACES,
    MAX_RECEPTACLES,
    MIN_RECEPTACLES,
    PADDING_RECEPTACLES,
    PLACES,
    ROOM_RECEPTACLES,
    SMALL_COUNT_CAPS,
    SMALL_DEFAULT_CAP,
    SMALL_MAX_RECEPTACLES,
    SMALL_MIN_RECEPTACLES,
    TASK_SPECS,
    TREATMENTS,
    check_room_size,
)

LAYOUT_POOLS: tuple[str, ...] = ("s", "u")
LAMP = "desklamp"

_TASK_ID = re.compile(r"^(?P<type>[a-z_]+)-(?P<room>[a-z]+)-(?P<pool>[su])(?P<layout>\d+)-(?P<instance>\d+)$")


@dataclass(frozen=True)
class TaskKey:
    """The parts of a household task id."""

    task_type: str
    room: str
    pool: str
    layout: int
    instance: int

    @property
    def layout_id(self) -> str:
        return f"{self.room}-{self.pool}{self.layout}"

    @property
    def task_id(self) -> str:
        return f"{self.task_type}-{self.layout_id}-{self.instance}"

    @classmethod
    def parse(cls, task_id: str) -> TaskKey:
        """Split ``task_id``; raise ValueError when it is not a household id."""
        match = _TASK_ID.match(task_id)
        if match is None or match["type"] not in TASK_SPECS or match["room"] not in ROOM_RECEPTACLES:
            raise ValueError(f"not a household task id: {task_id!r}")
        return cls(match["type"], match["room"], match["pool"], int(match["layout"]), int(match["instance"]))


@dataclass(frozen=True)
class World:
    """One generated game: static names and the initial placement. Receptacles are in listing
    order (type ascending, number descending, as ALFWorld lists them); ``object_locations[i]`` is
    the index of the receptacle object ``i`` starts in."""

    task_id: str
    task_type: str
    room: str
    goal: str
    target_type: str
    goal_receptacle_type: str
    receptacles: tuple[str, ...]
    objects: tuple[str, ...]
    object_locations: tuple[int, ...]


def kind_of(name: str) -> str:
    """``"cabinet 12"`` -> ``"cabinet"``."""
    return name.rsplit(" ", 1)[0]


def listing_key(name: str) -> tuple[str, int]:
    """Sort key giving ALFWorld's list order: type ascending, then number descending."""
    kind, number = name.rsplit(" ", 1)
    return kind, -int(number)


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[name] for name in names])[0]


def _receptacle_counts(room: str, rng: random.Random) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, (probability, fewest, most) in ROOM_RECEPTACLES[room].items():
        if rng.random() < probability:
            counts[kind] = rng.randint(fewest, most)
    if room in LAMP_ROOMS and not any(kind in counts for kind in LAMP_SURFACES):
        counts[rng.choice(LAMP_SURFACES)] = 1
    padding = PADDING_RECEPTACLES[room]
    turn = 0
    while sum(counts.values()) < MIN_RECEPTACLES:
        kind = padding[turn % len(padding)]
        counts[kind] = counts.get(kind, 0) + 1
        turn += 1
    while sum(counts.values()) > MAX_RECEPTACLES:
        kind = max(padding, key=lambda k: counts.get(k, 0))
        counts[kind] -= 1
    return {kind: count for kind, count in counts.items() if count > 0}


def _small_receptacle_counts(room: str, rng: random.Random) -> dict[str, int]:
    """A small room's counts: ALFWorld's types and odds, capped instance counts, 6..12 in all."""
    table = ROOM_RECEPTACLES[room]
    counts: dict[str, int] = {}
    for kind, (probability, _, most) in table.items():
        if rng.random() < probability:
            counts[kind] = rng.randint(1, min(most, SMALL_COUNT_CAPS.get(kind, SMALL_DEFAULT_CAP)))
    if room in LAMP_ROOMS and not any(kind in counts for kind in LAMP_SURFACES):
        counts[rng.choice(LAMP_SURFACES)] = 1
    padding = PADDING_RECEPTACLES[room]
    turn = 0
    while sum(counts.values()) < SMALL_MIN_RECEPTACLES:
        kind = padding[turn % len(padding)]
        counts[kind] = counts.get(kind, 0) + 1
        turn += 1
    while sum(counts.values()) > SMALL_MAX_RECEPTACLES:
        # Fewer instances of the most numerous type first (padding types win ties) ...
        many = [kind for kind in sorted(counts) if counts[kind] > 1]
        if many:
            kind = max(many, key=lambda k: (counts[k], k in padding))
            counts[kind] -= 1
            continue
        # ... then drop an optional type, rarest first, never the last lamp surface.
        lamp_surfaces = [kind for kind in counts if kind in LAMP_SURFACES]
        optional = [
            kind for kind in sorted(counts)
            if table.get(kind, (1.0, 0, 0))[0] < 1.0
            and not (room in LAMP_ROOMS and lamp_surfaces == [kind])
        ]
        del counts[min(optional, key=lambda k: table[k][0])]
    return counts


def _layout(room: str, layout_id: str, size: str = "full") -> tuple[list[str], list[tuple[str, int]]]:
    """Receptacle names (listing order) and fixtures as (type, receptacle index) for a layout."""
    if size == "full":
        rng = random.Random(f"household-layout:{layout_id}")
        counts = _receptacle_counts(room, rng)
    else:
        rng = random.Random(f"household-{size}-layout:{layout_id}")
        counts = _small_receptacle_counts(room, rng)
    receptacles = sorted(
        (f"{kind} {number}" for kind, count in counts.items() for number in range(1, count + 1)),
        key=listing_key,
    )
    fixtures: list[tuple[str, int]] = []
    if room in LAMP_ROOMS:
        fixtures.append((LAMP, _place(rng, LAMP, receptacles, excluded_kind=None)))
    for fixture in sorted(FIXTURES - {LAMP}):
        rooms, _ = PLACES[fixture]
        if room in rooms and rng.random() < 0.5:
            spot = _place(rng, fixture, receptacles, excluded_kind=None)
            if spot >= 0:
                fixtures.append((fixture, spot))
    return receptacles, fixtures


def _place(
    rng: random.Random,
    obj_type: str,
    receptacles: Sequence[str],
    excluded_kind: str | None,
    hide: bool = False,
) -> int:
    """A receptacle index for ``obj_type``: a type drawn by the placement table, then an instance
    uniformly; -1 when the room has no receptacle that fits. ``hide`` flattens the table (square
    root of the weights) so that a task's target is often not where one looks first."""
    _, places = PLACES[obj_type]
    by_kind: dict[str, list[int]] = {}
    for index, name in enumerate(receptacles):
        kind = kind_of(name)
        if kind in places and kind != excluded_kind:
            by_kind.setdefault(kind, []).append(index)
    if not by_kind:
        return -1
    kind = _weighted(rng, {k: places[k] ** 0.5 if hide else places[k] for k in sorted(by_kind)})
    return rng.choice(by_kind[kind])


def room_palette(room: str) -> list[str]:
    """Object types (not fixtures) that may appear in ``room``, sorted."""
    return sorted(obj for obj, (rooms, _) in PLACES.items() if room in rooms and obj not in FIXTURES)


def _choose_goal(key: TaskKey, rng: random.Random, kinds: set[str]) -> tuple[str, str]:
    """(target object type, goal receptacle type) for the task, among what the room allows."""
    _, objects, goal_receptacles = TASK_SPECS[key.task_type]
    palette = set(room_palette(key.room))
    appliance = TREATMENTS.get(key.task_type, (None, None))[1]
    if appliance is not None and appliance not in kinds:
        raise ValueError(f"{key.task_id}: a {key.room} layout without a {appliance} cannot host it")
    if key.task_type == "look_at_obj_in_light" and key.room not in LAMP_ROOMS:
        raise ValueError(f"{key.task_id}: a {key.room} has no desk lamp")
    options: dict[tuple[str, str], float] = {}
    for obj, obj_weight in objects.items():
        if obj not in palette:
            continue
        start_kinds = set(PLACES[obj][1]) & kinds
        for recep, recep_weight in goal_receptacles.items():
            fits = recep == LAMP or (recep in kinds and obj in CAN_CONTAIN[recep])
            if fits and start_kinds - {recep}:
                options[(obj, recep)] = obj_weight * recep_weight
    if not options:
        raise ValueError(f"{key.task_id}: a {key.room} cannot host {key.task_type}")
    pairs = sorted(options)
    return pairs[rng.choices(range(len(pairs)), weights=[options[p] for p in pairs])[0]]


def generate_world(task_id: str, attempt: int = 0, size: str = "full") -> World:
    """The game named by ``task_id`` in a room of ``size`` (one of ``ROOM_SIZES``); ``attempt``
    selects the next draw of the same instance when the caller rejects one. Raises ValueError for
    a malformed id, an unknown size or a room that cannot host the task type."""
    check_room_size(size)
    key = TaskKey.parse(task_id)
    receptacles, fixtures = _layout(key.room, key.layout_id, size)
    kinds = {kind_of(name) for name in receptacles}
    prefix = "household" if size == "full" else f"household-{size}"
    rng = random.Random(f"{prefix}-instance:{task_id}#{attempt}")
    target, goal_kind = _choose_goal(key, rng, kinds)

    placed: list[tuple[str, int]] = list(fixtures)
    if key.task_type == "pick_two_obj_and_place":
        targets = rng.randint(2, 3)
    else:
        targets = rng.choice((1, 1, 1, 2, 3))
    for _ in range(targets):
        placed.append((target, _place(rng, target, receptacles, excluded_kind=goal_kind, hide=True)))
    others = [obj for obj in room_palette(key.room) if obj != target]
    fewest, most = DISTRACTOR_DRAWS[size]
    for _ in range(rng.randint(fewest, most)):
        obj = rng.choice(others)
        spot = _place(rng, obj, receptacles, excluded_kind=None)
        if spot >= 0 and sum(1 for o, _ in placed if o == obj) < 3:
            placed.append((obj, spot))

    # Numbers within a type are shuffled so that "apple 1" says nothing about where it lies.
    rng.shuffle(placed)
    seen: dict[str, int] = {}
    objects, locations = [], []
    for obj, spot in placed:
        seen[obj] = seen.get(obj, 0) + 1
        objects.append(f"{obj} {seen[obj]}")
        locations.append(spot)
    goal = rng.choice(GOAL_TEMPLATES[key.task_type]).format(o=target, r=goal_kind)
    return World(
        task_id=task_id,
        task_type=key.task_type,
        room=key.room,
        goal=goal,
        target_type=target,
        goal_receptacle_type=goal_kind,
        receptacles=tuple(receptacles),
        objects=tuple(objects),
        object_locations=tuple(locations),
    )
