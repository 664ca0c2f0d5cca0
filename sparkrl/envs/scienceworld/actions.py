"""Which of ScienceWorld's valid actions an agent is shown.

ScienceWorld lists every valid action-object combination for a state: 100 to 4,500 strings, of
which 80-95% pair two objects (``move X to Y``, ``pour X in Y``, ``use X on Y``, ``dunk X in
Y``, ``connect X to Y``) over everything in view, mostly nonsense (``connect air to hallway``).
In ``"filtered"`` mode (the default) an agent is shown:

- every action on zero or one object (look, focus, pick up, open, teleport, read, ...);
- two-object actions whose first object the agent holds (it has a valid ``put down``);
- ``connect`` actions from a wire or probe terminal to another pole (anode, cathode or
  terminal), the circuit-building moves of the electricity tasks — one direction per pair;
- during an ambiguity prompt, the option numbers it offers (``"0"``, ``"1"``, ...).

That keeps ~100-450 actions, deduplicated and sorted. Filtering only shortens the hint: the
game still accepts any valid command, listed or not. ``"all"`` keeps the whole list.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Literal

from scienceworld.constants import BASEPATH

AdmissibleMode = Literal["filtered", "all"]
ADMISSIBLE_MODES: tuple[str, ...] = ("filtered", "all")

_COMPONENTS = "scienceworld.objects.electricalcomponent."


def _type_ids(*class_names: str) -> frozenset[int]:
    wanted = {_COMPONENTS + name for name in class_names}
    with open(Path(BASEPATH) / "object_type_ids.tsv", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        return frozenset(int(row[1]) for row in rows if row and row[0] in wanted)


TERMINAL_TYPE_IDS = _type_ids("Terminal")
POLE_TYPE_IDS = _type_ids("Anode", "Cathode", "Terminal")


def _shown_connection(objects: list[int], types: list[int]) -> bool:
    if len(types) != 2 or not POLE_TYPE_IDS.issuperset(types) or types[0] not in TERMINAL_TYPE_IDS:
        return False
    return types[1] not in TERMINAL_TYPE_IDS or objects[0] < objects[1]


def admissible_actions(valid_json: str, mode: AdmissibleMode = "filtered") -> list[str]:
    """The sorted, deduplicated actions shown for a state, from the simulator's valid-action JSON."""
    entries = json.loads(valid_json)["validActions"]
    if mode == "all":
        return sorted({entry["action"] for entry in entries})
    if mode != "filtered":
        raise ValueError(f"unknown admissible mode {mode!r}; expected one of {ADMISSIBLE_MODES}")
    held = {entry["obj_ids"][0] for entry in entries if entry["action"].startswith("put down ")}
    shown = set()
    for entry in entries:
        action, objects = entry["action"], entry["obj_ids"]
        if (
            len(objects) < 2
            or action.isdigit()
            or objects[0] in held
            or (action.startswith("connect ") and _shown_connection(objects, entry["type_ids"]))
        ):
            shown.add(action)
    return sorted(shown)
