"""What a household room can hold: receptacles per room kind, objects and where they usually lie,
which receptacle may hold which object, and the ALFWorld task vocabulary.

The numbers are distilled from the 3,553 ALFWorld training games (json_2.1.1/train): how often an
object type starts in each receptacle type (percent, rounded, rare entries dropped), how many
receptacles of each type a room has, and how often each object / receptacle type is a task's
target. ``CAN_CONTAIN`` is ALFWorld's ``canContain`` relation restricted to the objects used here.
The same placement table is the generator's sampling distribution and the expert's common-sense
prior ("apples are on countertops or in fridges"), which is knowledge an agent may have, not
hidden state.

Room sizes (``ROOM_SIZES``; the difficulty knob of ``HouseholdEnv(size=...)``):

- ``"full"`` (the default): ALFWorld's numbers above — 15..40 receptacles, 10..20 distractor
  draws (objects other than the target; a draw is dropped when no receptacle fits or its type
  already has 3 copies).
- ``"small"``: the same room kinds, receptacle types, presence probabilities, placement table and
  wording, but every type has 1..``SMALL_COUNT_CAPS`` instances (cabinet and drawer 1..3, every
  other type 1..2 — so stoveburner 1..2, shelf 1..2, countertop 1..2) and a room holds
  6..12 receptacles (``SMALL_MIN_RECEPTACLES``..``SMALL_MAX_RECEPTACLES``): short rooms are
  padded with ``PADDING_RECEPTACLES``; long ones lose instances of their most numerous type
  first, then whole optional types (probability < 1, rarest first; a lamp room keeps one lamp
  surface). Types present with probability 1 are never dropped, so every appliance a task type
  needs is still there (sinkbasin, microwave, fridge in kitchens; sinkbasin in bathrooms; a desk
  lamp surface in living rooms and bedrooms). Kitchens, which have ten such types, end up with
  10..12 receptacles; the other rooms span 6..12. Distractor draws: 4..8.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

ROOM_KINDS: tuple[str, ...] = ("kitchen", "livingroom", "bedroom", "bathroom")

MIN_RECEPTACLES = 15
MAX_RECEPTACLES = 40

ROOM_SIZES: tuple[str, ...] = ("full", "small")
"""Room sizes a household env can generate; ``"full"`` is the default (see the module docstring)."""

SMALL_MIN_RECEPTACLES = 6
SMALL_MAX_RECEPTACLES = 12
SMALL_COUNT_CAPS: Mapping[str, int] = MappingProxyType({"cabinet": 3, "drawer": 3})
"""Most instances of a receptacle type in a small room; types not listed have at most 2."""
SMALL_DEFAULT_CAP = 2

RECEPTACLE_RANGE: Mapping[str, tuple[int, int]] = MappingProxyType({
    "full": (MIN_RECEPTACLES, MAX_RECEPTACLES),
    "small": (SMALL_MIN_RECEPTACLES, SMALL_MAX_RECEPTACLES),
})
"""Room size -> (fewest, most) receptacles a room has."""

DISTRACTOR_DRAWS: Mapping[str, tuple[int, int]] = MappingProxyType({"full": (10, 20), "small": (4, 8)})
"""Room size -> (fewest, most) draws of non-target objects placed in a room."""


def check_room_size(size: str) -> str:
    """``size`` if it is one of ``ROOM_SIZES``; ValueError naming the allowed values otherwise."""
    if size not in ROOM_SIZES:
        raise ValueError(f"unknown household room size {size!r}; expected one of {ROOM_SIZES}")
    return size

OPENABLE: frozenset[str] = frozenset({"cabinet", "drawer", "fridge", "microwave", "safe"})
"""Receptacle types with a door or a drawer front; they start closed."""

# Receptacle type -> (probability the room has it, fewest, most). Multi-count types are padded or
# trimmed afterwards so every room has MIN_RECEPTACLES..MAX_RECEPTACLES receptacles.
ROOM_RECEPTACLES: Mapping[str, Mapping[str, tuple[float, int, int]]] = MappingProxyType({
    "kitchen": {
        "cabinet": (1.0, 4, 16), "coffeemachine": (1.0, 1, 1), "countertop": (1.0, 1, 3),
        "diningtable": (0.6, 1, 2), "drawer": (1.0, 1, 9), "fridge": (1.0, 1, 1),
        "garbagecan": (1.0, 1, 1), "microwave": (1.0, 1, 1), "safe": (0.05, 1, 1),
        "shelf": (0.2, 3, 3), "sidetable": (0.1, 1, 1), "sinkbasin": (1.0, 1, 1),
        "stoveburner": (1.0, 4, 4), "toaster": (1.0, 1, 1),
    },
    "livingroom": {
        "armchair": (0.9, 1, 2), "cabinet": (0.2, 1, 4), "coffeetable": (0.85, 1, 2),
        "diningtable": (0.5, 1, 1), "drawer": (0.8, 2, 8), "dresser": (0.4, 1, 1),
        "garbagecan": (1.0, 1, 1), "ottoman": (0.15, 1, 1), "safe": (0.05, 1, 1),
        "shelf": (0.4, 2, 8), "sidetable": (1.0, 1, 3), "sofa": (1.0, 1, 2),
        "tvstand": (0.35, 1, 1),
    },
    "bedroom": {
        "armchair": (0.2, 1, 2), "bed": (1.0, 1, 2), "cabinet": (0.15, 2, 4),
        "desk": (0.7, 1, 1), "diningtable": (0.1, 1, 1), "drawer": (1.0, 2, 12),
        "dresser": (0.5, 1, 1), "garbagecan": (1.0, 1, 1), "laundryhamper": (0.3, 1, 1),
        "safe": (0.15, 1, 1), "shelf": (0.7, 1, 8), "sidetable": (0.7, 1, 2),
    },
    "bathroom": {
        "bathtubbasin": (0.7, 1, 1), "cabinet": (0.45, 2, 6), "cart": (0.1, 1, 1),
        "countertop": (0.9, 1, 1), "drawer": (0.6, 2, 8), "dresser": (0.1, 1, 1),
        "garbagecan": (1.0, 1, 1), "handtowelholder": (1.0, 1, 2), "shelf": (0.3, 1, 4),
        "sidetable": (0.1, 1, 1), "sinkbasin": (1.0, 1, 2), "toilet": (1.0, 1, 1),
        "toiletpaperhanger": (1.0, 1, 1), "towelholder": (1.0, 1, 2),
    },
})

PADDING_RECEPTACLES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "kitchen": ("cabinet", "drawer"),
    "livingroom": ("drawer", "shelf", "sidetable"),
    "bedroom": ("drawer", "shelf"),
    "bathroom": ("drawer", "cabinet", "shelf"),
})
"""Types added (round-robin) to a room short of MIN_RECEPTACLES, and trimmed from one above MAX."""

LAMP_SURFACES: tuple[str, ...] = ("sidetable", "desk", "dresser")
"""A desk lamp stands on one of these; rooms with a lamp get one of them if they lack all."""

LAMP_ROOMS: frozenset[str] = frozenset({"livingroom", "bedroom"})

# Object type -> (rooms it appears in, {receptacle type: percent of starts}).
PLACES: Mapping[str, tuple[tuple[str, ...], Mapping[str, int]]] = MappingProxyType({
    "alarmclock": (("bedroom",), {
        "desk": 34, "shelf": 21, "sidetable": 19, "dresser": 17, "diningtable": 7,
    }),
    "apple": (("kitchen",), {
        "countertop": 25, "fridge": 24, "diningtable": 15, "microwave": 13, "garbagecan": 12,
        "sinkbasin": 9,
    }),
    "book": (("bedroom", "livingroom"), {
        "bed": 37, "desk": 14, "drawer": 10, "dresser": 6, "diningtable": 5, "cabinet": 4,
        "sidetable": 4, "coffeetable": 3, "armchair": 3, "shelf": 3,
    }),
    "bowl": (("kitchen", "bedroom"), {
        "cabinet": 30, "countertop": 18, "fridge": 17, "diningtable": 15, "desk": 6, "shelf": 5,
        "sinkbasin": 3, "microwave": 2,
    }),
    "box": (("livingroom", "bedroom"), {
        "diningtable": 23, "sofa": 22, "coffeetable": 21, "shelf": 8, "sidetable": 7, "desk": 6,
        "cabinet": 4, "dresser": 3, "armchair": 3,
    }),
    "bread": (("kitchen",), {"countertop": 55, "diningtable": 31, "fridge": 12}),
    "butterknife": (("kitchen",), {
        "countertop": 59, "diningtable": 27, "drawer": 8, "sinkbasin": 5,
    }),
    "candle": (("bathroom", "livingroom"), {
        "countertop": 28, "toilet": 28, "drawer": 12, "cabinet": 12, "shelf": 6, "sidetable": 6,
        "coffeetable": 2,
    }),
    "cd": (("bedroom",), {
        "drawer": 28, "desk": 20, "dresser": 14, "sidetable": 13, "garbagecan": 8, "shelf": 7,
        "diningtable": 6,
    }),
    "cellphone": (("bedroom", "livingroom", "kitchen"), {
        "bed": 21, "drawer": 21, "desk": 13, "dresser": 9, "sidetable": 9, "countertop": 7,
        "diningtable": 6, "shelf": 6, "armchair": 3, "sofa": 3,
    }),
    "cloth": (("bathroom",), {
        "bathtubbasin": 30, "cabinet": 20, "countertop": 17, "drawer": 15, "sinkbasin": 8,
        "shelf": 4, "toilet": 3, "laundryhamper": 3,
    }),
    "creditcard": (("bedroom", "livingroom", "kitchen"), {
        "drawer": 24, "shelf": 13, "sidetable": 12, "desk": 9, "dresser": 9, "sofa": 7,
        "armchair": 6, "countertop": 5, "coffeetable": 5, "diningtable": 5,
    }),
    "cup": (("kitchen",), {
        "cabinet": 23, "countertop": 21, "fridge": 21, "diningtable": 15, "sinkbasin": 9,
        "microwave": 7,
    }),
    "dishsponge": (("kitchen", "bathroom"), {
        "countertop": 25, "cabinet": 22, "drawer": 21, "diningtable": 12, "sinkbasin": 8,
        "garbagecan": 5, "shelf": 3, "bathtubbasin": 2,
    }),
    "egg": (("kitchen",), {
        "fridge": 25, "countertop": 24, "sinkbasin": 13, "garbagecan": 13, "microwave": 12,
        "diningtable": 12,
    }),
    "fork": (("kitchen",), {"countertop": 44, "diningtable": 24, "drawer": 22, "sinkbasin": 9}),
    "glassbottle": (("kitchen",), {
        "cabinet": 31, "countertop": 27, "diningtable": 14, "sinkbasin": 9, "fridge": 9,
        "garbagecan": 7, "shelf": 4,
    }),
    "handtowel": (("bathroom",), {"handtowelholder": 96, "countertop": 4}),
    "kettle": (("kitchen",), {
        "stoveburner": 41, "countertop": 25, "cabinet": 24, "diningtable": 7,
    }),
    "keychain": (("bedroom", "livingroom"), {
        "drawer": 23, "sidetable": 16, "shelf": 12, "desk": 12, "dresser": 11, "coffeetable": 7,
        "diningtable": 5, "armchair": 5, "sofa": 4, "safe": 3,
    }),
    "knife": (("kitchen",), {"countertop": 48, "diningtable": 25, "drawer": 21, "sinkbasin": 5}),
    "ladle": (("kitchen",), {
        "countertop": 41, "cabinet": 25, "drawer": 17, "diningtable": 14, "sinkbasin": 2,
    }),
    "laptop": (("bedroom", "livingroom"), {
        "bed": 47, "desk": 12, "sofa": 10, "diningtable": 9, "coffeetable": 9, "dresser": 5,
        "sidetable": 3, "armchair": 2,
    }),
    "lettuce": (("kitchen",), {"countertop": 41, "diningtable": 28, "fridge": 23, "sinkbasin": 5}),
    "mug": (("kitchen", "bedroom"), {
        "countertop": 24, "coffeemachine": 15, "cabinet": 14, "fridge": 12, "diningtable": 10,
        "microwave": 6, "desk": 5, "sinkbasin": 5, "shelf": 4, "sidetable": 3,
    }),
    "newspaper": (("livingroom",), {
        "sofa": 20, "coffeetable": 18, "diningtable": 17, "sidetable": 14, "shelf": 11,
        "dresser": 8, "armchair": 7, "drawer": 3,
    }),
    "pan": (("kitchen",), {
        "stoveburner": 52, "countertop": 33, "cabinet": 7, "diningtable": 4, "fridge": 4,
    }),
    "pen": (("bedroom", "livingroom", "kitchen"), {
        "desk": 22, "drawer": 17, "dresser": 14, "sidetable": 13, "shelf": 13, "diningtable": 9,
        "countertop": 5, "coffeetable": 3, "garbagecan": 2,
    }),
    "pencil": (("bedroom", "livingroom", "kitchen"), {
        "drawer": 20, "desk": 19, "sidetable": 17, "shelf": 14, "dresser": 10, "diningtable": 8,
        "garbagecan": 6, "countertop": 4, "coffeetable": 2,
    }),
    "peppershaker": (("kitchen",), {
        "cabinet": 33, "countertop": 30, "diningtable": 16, "drawer": 15, "shelf": 3,
        "sidetable": 2,
    }),
    "pillow": (("bedroom", "livingroom"), {"bed": 69, "sofa": 24, "armchair": 6}),
    "plate": (("kitchen", "livingroom"), {
        "cabinet": 36, "countertop": 28, "diningtable": 19, "fridge": 8, "shelf": 3, "sinkbasin": 2,
        "coffeetable": 2,
    }),
    "pot": (("kitchen",), {
        "stoveburner": 73, "countertop": 14, "fridge": 4, "diningtable": 4, "cabinet": 3,
    }),
    "potato": (("kitchen",), {
        "countertop": 28, "fridge": 26, "diningtable": 17, "sinkbasin": 11, "microwave": 10,
        "garbagecan": 6,
    }),
    "remotecontrol": (("livingroom", "bedroom"), {
        "coffeetable": 20, "sofa": 16, "sidetable": 13, "diningtable": 10, "drawer": 8,
        "armchair": 8, "dresser": 7, "tvstand": 7, "desk": 5, "shelf": 3,
    }),
    "saltshaker": (("kitchen",), {
        "countertop": 32, "cabinet": 32, "diningtable": 18, "drawer": 14, "shelf": 3,
        "sidetable": 2,
    }),
    "soapbar": (("bathroom",), {
        "countertop": 20, "toilet": 16, "sinkbasin": 15, "cabinet": 12, "bathtubbasin": 12,
        "drawer": 11, "garbagecan": 7, "shelf": 4,
    }),
    "soapbottle": (("kitchen", "bathroom"), {
        "countertop": 32, "cabinet": 28, "diningtable": 15, "garbagecan": 10, "toilet": 6,
        "shelf": 5, "drawer": 2,
    }),
    "spatula": (("kitchen",), {"countertop": 45, "diningtable": 25, "drawer": 21, "sinkbasin": 9}),
    "spoon": (("kitchen",), {"countertop": 38, "drawer": 28, "diningtable": 22, "sinkbasin": 11}),
    "spraybottle": (("bathroom",), {
        "countertop": 32, "toilet": 23, "cabinet": 18, "garbagecan": 10, "shelf": 6, "cart": 3,
        "drawer": 3, "sidetable": 2,
    }),
    "statue": (("livingroom", "kitchen", "bedroom"), {
        "shelf": 29, "coffeetable": 16, "countertop": 14, "diningtable": 14, "sidetable": 12,
        "dresser": 7, "tvstand": 5, "desk": 3,
    }),
    "tissuebox": (("livingroom", "bathroom", "bedroom"), {
        "shelf": 18, "coffeetable": 15, "drawer": 14, "countertop": 13, "diningtable": 11,
        "sidetable": 11, "desk": 8, "toilet": 5, "tvstand": 3,
    }),
    "toiletpaper": (("bathroom",), {
        "toilet": 23, "countertop": 23, "toiletpaperhanger": 12, "drawer": 11, "cabinet": 11,
        "garbagecan": 9, "shelf": 5,
    }),
    "tomato": (("kitchen",), {
        "fridge": 33, "countertop": 30, "diningtable": 20, "garbagecan": 9, "sinkbasin": 7,
    }),
    "towel": (("bathroom",), {"towelholder": 97}),
    "vase": (("livingroom", "kitchen", "bedroom"), {
        "shelf": 34, "countertop": 15, "cabinet": 15, "coffeetable": 9, "diningtable": 8,
        "dresser": 7, "sidetable": 6, "tvstand": 3,
    }),
    "watch": (("livingroom", "bedroom"), {
        "drawer": 23, "coffeetable": 21, "sidetable": 16, "diningtable": 12, "dresser": 11,
        "tvstand": 8, "shelf": 7, "desk": 3,
    }),
    "wateringcan": (("livingroom",), {"coffeetable": 53, "shelf": 38, "sidetable": 9}),
    "winebottle": (("kitchen",), {
        "countertop": 37, "cabinet": 25, "diningtable": 24, "garbagecan": 9, "shelf": 3,
    }),
    # Fixtures: listed in receptacles but never taken.
    "desklamp": (("livingroom", "bedroom"), {"sidetable": 40, "desk": 29, "dresser": 21}),
    "houseplant": (("kitchen", "livingroom", "bedroom"), {
        "countertop": 43, "sidetable": 16, "diningtable": 14, "shelf": 7, "coffeetable": 7,
        "desk": 5, "dresser": 4,
    }),
    "television": (("livingroom",), {"tvstand": 50, "dresser": 40, "coffeetable": 10}),
})

FIXTURES: frozenset[str] = frozenset({"desklamp", "houseplant", "television"})
"""Object types that cannot be picked up."""

CLEANABLE: frozenset[str] = frozenset(
    "apple bowl butterknife cloth cup dishsponge egg fork kettle knife ladle lettuce mug pan plate "
    "pot potato soapbar spatula spoon tomato".split()
)
HEATABLE: frozenset[str] = frozenset("apple bread cup egg mug plate potato tomato".split())
COOLABLE: frozenset[str] = frozenset(
    "apple bowl bread cup egg lettuce mug pan plate pot potato tomato winebottle".split()
)

# ALFWorld's canContain (receptacle type -> object types it accepts), before the union with PLACES.
_ALFWORLD_CAN_CONTAIN: dict[str, str] = {
    "armchair": "book box cellphone cloth creditcard keychain laptop newspaper pillow remotecontrol",
    "bathtubbasin": "cloth dishsponge handtowel soapbar",
    "bed": "book cellphone laptop pillow",
    "cabinet": "book bowl box candle cd cloth cup dishsponge glassbottle handtowel kettle ladle mug "
               "newspaper pan peppershaker plate pot saltshaker soapbar soapbottle spraybottle "
               "tissuebox toiletpaper vase wateringcan winebottle",
    "cart": "candle cloth dishsponge handtowel soapbar soapbottle spraybottle tissuebox toiletpaper",
    "coffeemachine": "mug",
    "coffeetable": "book bowl box candle cellphone creditcard keychain laptop newspaper pen pencil "
                   "plate remotecontrol statue tissuebox vase watch wateringcan",
    "countertop": "alarmclock apple book bowl bread butterknife candle cd cellphone cloth creditcard "
                  "cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop "
                  "lettuce mug pan pen pencil peppershaker plate pot potato remotecontrol saltshaker "
                  "soapbar soapbottle spatula spoon spraybottle statue tissuebox toiletpaper tomato "
                  "vase winebottle",
    "desk": "alarmclock book bowl box cd cellphone cloth creditcard keychain laptop mug pen pencil "
            "remotecontrol statue tissuebox vase watch wateringcan",
    "diningtable": "alarmclock apple book bowl box bread butterknife candle cd cellphone cloth "
                   "creditcard cup dishsponge egg fork glassbottle kettle keychain knife ladle laptop "
                   "lettuce mug newspaper pan pen pencil peppershaker plate pot potato remotecontrol "
                   "saltshaker soapbottle spatula spoon spraybottle statue tissuebox tomato vase "
                   "watch wateringcan winebottle",
    "drawer": "book butterknife candle cd cellphone cloth creditcard dishsponge fork handtowel "
              "keychain knife ladle newspaper pen pencil peppershaker remotecontrol saltshaker "
              "soapbar soapbottle spatula spoon spraybottle tissuebox toiletpaper watch wateringcan",
    "dresser": "alarmclock book bowl box candle cd cellphone cloth creditcard keychain laptop mug "
               "newspaper pen pencil plate remotecontrol spraybottle statue tissuebox toiletpaper "
               "vase watch wateringcan",
    "fridge": "apple bowl bread cup egg glassbottle lettuce mug pan plate pot potato tomato "
              "winebottle",
    "garbagecan": "apple bread cd cloth dishsponge egg handtowel lettuce newspaper pen pencil "
                  "potato soapbar soapbottle spraybottle tissuebox toiletpaper tomato winebottle",
    "handtowelholder": "handtowel",
    "laundryhamper": "cloth",
    "microwave": "apple bowl bread cup egg glassbottle mug plate potato tomato",
    "ottoman": "book box cellphone creditcard keychain laptop newspaper pillow remotecontrol",
    "safe": "cd cellphone creditcard keychain statue vase",
    "shelf": "alarmclock book bowl box candle cd cellphone cloth creditcard cup dishsponge "
             "glassbottle handtowel kettle keychain mug newspaper pen pencil peppershaker plate pot "
             "remotecontrol saltshaker soapbar soapbottle spraybottle statue tissuebox toiletpaper "
             "vase watch wateringcan winebottle",
    "sidetable": "alarmclock apple book bowl box bread butterknife candle cd cellphone cloth "
                 "creditcard cup dishsponge egg fork handtowel kettle keychain knife laptop lettuce "
                 "mug newspaper pan pen pencil peppershaker plate pot potato remotecontrol saltshaker "
                 "soapbar soapbottle spatula spoon spraybottle statue tissuebox toiletpaper tomato "
                 "vase watch wateringcan winebottle",
    "sinkbasin": "apple bowl butterknife cloth cup dishsponge egg fork glassbottle handtowel kettle "
                 "knife ladle lettuce mug pan plate pot potato soapbar spatula spoon tomato",
    "sofa": "book box cellphone creditcard keychain laptop newspaper pillow remotecontrol",
    "stoveburner": "kettle pan pot",
    "toaster": "",
    "toilet": "candle cloth dishsponge handtowel soapbar soapbottle spraybottle tissuebox "
              "toiletpaper",
    "toiletpaperhanger": "toiletpaper",
    "towelholder": "towel",
    "tvstand": "tissuebox",
}


def _can_contain() -> Mapping[str, frozenset[str]]:
    table = {recep: set(objects.split()) for recep, objects in _ALFWORLD_CAN_CONTAIN.items()}
    for obj, (_, places) in PLACES.items():
        if obj not in FIXTURES:
            for recep in places:
                table[recep].add(obj)
    return MappingProxyType({recep: frozenset(objects) for recep, objects in table.items()})


CAN_CONTAIN: Mapping[str, frozenset[str]] = _can_contain()
"""Receptacle type -> object types that may be moved into it."""

TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
SEEN_TASK_TYPES: tuple[str, ...] = TASK_TYPES[:4]
UNSEEN_TASK_TYPES: tuple[str, ...] = TASK_TYPES[4:]
"""ALFWorld L2 (spark-method.md section 6): train on the first four, test on cool and pick-two."""

# Task type -> (room kind weights, target object weights, goal receptacle weights); weights are
# ALFWorld's task counts. Candidates a room cannot host are filtered out at generation time.
TASK_SPECS: Mapping[str, tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]] = MappingProxyType({
    "pick_and_place_simple": (
        {"bedroom": 237, "livingroom": 210, "kitchen": 120, "bathroom": 264},
        {"toiletpaper": 57, "keychain": 52, "cellphone": 51, "soapbottle": 51, "spraybottle": 50,
         "candle": 49, "book": 47, "creditcard": 33, "remotecontrol": 33, "cd": 30, "handtowel": 29,
         "pencil": 24, "alarmclock": 22, "statue": 22, "laptop": 21, "pen": 20, "box": 19,
         "newspaper": 17, "pillow": 17, "tissuebox": 16, "peppershaker": 12, "watch": 12,
         "cloth": 10, "vase": 10, "dishsponge": 9, "glassbottle": 9, "kettle": 9, "tomato": 8,
         "butterknife": 6, "soapbar": 6, "bowl": 5, "pan": 5, "winebottle": 5, "egg": 4},
        {"toilet": 89, "armchair": 71, "desk": 57, "sidetable": 57, "sofa": 53, "garbagecan": 53,
         "shelf": 52, "dresser": 45, "coffeetable": 43, "toiletpaperhanger": 42, "drawer": 39,
         "countertop": 35, "cabinet": 33, "diningtable": 27, "ottoman": 20, "bed": 19, "safe": 18,
         "microwave": 15, "cart": 12, "fridge": 7, "stoveburner": 3},
    ),
    "look_at_obj_in_light": (
        {"bedroom": 257, "livingroom": 51},
        {"pillow": 47, "alarmclock": 41, "cd": 33, "book": 30, "pencil": 23, "laptop": 20, "pen": 18,
         "bowl": 17, "newspaper": 14, "statue": 11, "tissuebox": 10, "box": 9, "cellphone": 9,
         "watch": 6, "creditcard": 5, "keychain": 4, "mug": 4, "vase": 4, "plate": 3},
        {"desklamp": 1},
    ),
    "pick_clean_then_place_in_recep": (
        {"kitchen": 501, "bathroom": 149},
        {"soapbar": 84, "cloth": 47, "kettle": 47, "ladle": 38, "knife": 33, "mug": 32,
         "lettuce": 31, "spatula": 29, "pan": 28, "bowl": 26, "butterknife": 26, "spoon": 26,
         "tomato": 26, "apple": 25, "potato": 25, "dishsponge": 23, "egg": 23, "fork": 23,
         "plate": 22, "cup": 20, "pot": 16},
        {"diningtable": 99, "countertop": 96, "drawer": 82, "cabinet": 58, "microwave": 50,
         "fridge": 40, "sidetable": 40, "shelf": 40, "stoveburner": 37, "toilet": 32,
         "coffeemachine": 32, "garbagecan": 31, "cart": 11},
    ),
    "pick_heat_then_place_in_recep": (
        {"kitchen": 1},
        {"mug": 102, "cup": 71, "egg": 70, "potato": 60, "tomato": 53, "apple": 52, "plate": 39,
         "bread": 12},
        {"fridge": 105, "cabinet": 71, "countertop": 66, "garbagecan": 55, "coffeemachine": 55,
         "sidetable": 44, "diningtable": 43, "shelf": 20},
    ),
    "pick_cool_then_place_in_recep": (
        {"kitchen": 1},
        {"mug": 74, "pot": 57, "bowl": 49, "pan": 46, "apple": 44, "potato": 44, "bread": 40,
         "cup": 40, "lettuce": 37, "tomato": 34, "egg": 25, "plate": 25, "winebottle": 18},
        {"microwave": 97, "diningtable": 93, "countertop": 89, "cabinet": 64, "coffeemachine": 47,
         "garbagecan": 46, "shelf": 45, "stoveburner": 39, "sidetable": 13},
    ),
    "pick_two_obj_and_place": (
        {"bedroom": 240, "kitchen": 124, "livingroom": 216, "bathroom": 233},
        {"spraybottle": 58, "cellphone": 53, "creditcard": 52, "soapbottle": 44, "remotecontrol": 43,
         "toiletpaper": 43, "book": 37, "newspaper": 36, "candle": 35, "keychain": 34, "pen": 28,
         "pencil": 28, "cd": 26, "tissuebox": 26, "saltshaker": 25, "peppershaker": 22,
         "alarmclock": 21, "handtowel": 16, "soapbar": 16, "cup": 14, "vase": 14, "watch": 13,
         "laptop": 11, "lettuce": 11, "statue": 10, "bowl": 9, "dishsponge": 7, "pillow": 7,
         "cloth": 6, "kettle": 6, "spatula": 6, "winebottle": 6, "mug": 5, "plate": 5, "spoon": 5},
        {"drawer": 112, "armchair": 68, "cabinet": 67, "toilet": 59, "desk": 55, "shelf": 52,
         "garbagecan": 52, "coffeetable": 50, "dresser": 48, "sofa": 47, "sidetable": 42,
         "countertop": 37, "bed": 31, "diningtable": 29, "fridge": 19, "cart": 16, "microwave": 11,
         "ottoman": 11, "safe": 7},
    ),
})

# Task type -> the two goal phrasings ALFWorld 0.4.2 uses ({o}: object type, {r}: receptacle type).
GOAL_TEMPLATES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "pick_and_place_simple": ("put a {o} in {r}.", "put some {o} on {r}."),
    "look_at_obj_in_light": ("look at {o} under the {r}.", "examine the {o} with the {r}."),
    "pick_clean_then_place_in_recep": ("put a clean {o} in {r}.", "clean some {o} and put it in {r}."),
    "pick_heat_then_place_in_recep": ("put a hot {o} in {r}.", "heat some {o} and put it in {r}."),
    "pick_cool_then_place_in_recep": ("put a cool {o} in {r}.", "cool some {o} and put it in {r}."),
    "pick_two_obj_and_place": ("put two {o} in {r}.", "find two {o} and put them in {r}."),
})

TREATMENTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "pick_clean_then_place_in_recep": ("clean", "sinkbasin"),
    "pick_heat_then_place_in_recep": ("heat", "microwave"),
    "pick_cool_then_place_in_recep": ("cool", "fridge"),
})
"""Task type -> (verb, appliance receptacle type) for the tasks that change an object's state."""
