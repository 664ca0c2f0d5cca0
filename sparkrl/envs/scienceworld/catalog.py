"""ScienceWorld's task list and sparkrl's four splits over it.

A task id is ``"<task name>/<variation>"``. The 30 ScienceWorld task types come in 10 topics
(the ``N-M`` ids of ``scienceworld/tasks.json``); every topic has one type that asks to carry a
skill over to something new (an unknown substance, a plant instead of an animal, a tertiary
instead of a secondary colour, ...). Those ten types are held out as **L2**, as in the RLVMR
release whose split the Spark paper evaluates on (their 549 L2 test games are exactly the test
variations of these ten types).

- ``train``: seen types, the simulator's train variations minus the L0 hold-out;
- ``L0``: seen types, every ``L0_STRIDE``-th train variation (positions 0, 5, 10, ... of the
  sorted list, so every type keeps at least one);
- ``L1``: seen types, the simulator's test variations;
- ``L2``: held-out types, the simulator's test variations.

The simulator's dev variations are used by no split (they stay free for model selection).
The variation lists come from the simulator once (one JVM, ~10 s) and are cached on disk under
``$SPARKRL_CACHE`` (default ``~/.cache/sparkrl``), keyed by the scienceworld version.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from scienceworld.constants import TASKS
from scienceworld.version import __version__ as SCIENCEWORLD_VERSION

from sparkrl.envs.base import SPLITS, Task
from sparkrl.envs.scienceworld.backend import BackendPool

ENV_NAME = "scienceworld"
L0_STRIDE = 5

HELD_OUT_TYPES: frozenset[str] = frozenset(
    {
        "change-the-state-of-matter-of",
        "measure-melting-point-unknown-substance",
        "test-conductivity-of-unknown-substances",
        "find-plant",
        "grow-plant",
        "chemistry-mix-paint-tertiary-color",
        "lifespan-longest-lived-then-shortest-lived",
        "identify-life-stages-2",
        "inclined-plane-friction-unnamed-surfaces",
        "mendelian-genetics-unknown-plant",
    }
)


def _topic_order(task_id: str) -> tuple[int, int]:
    major, minor = task_id.split("-")
    return int(major), int(minor)


TASK_TYPES: tuple[str, ...] = tuple(
    entry["task_name"] for entry in sorted(TASKS, key=lambda entry: _topic_order(entry["task_id"]))
)
"""All 30 task names, in ScienceWorld's topic order (1-1 boil ... 10-2)."""
TOPICS: dict[str, str] = {entry["task_name"]: entry["topic"] for entry in TASKS}
SEEN_TYPES: tuple[str, ...] = tuple(name for name in TASK_TYPES if name not in HELD_OUT_TYPES)

VariationTable = dict[str, dict[str, list[int]]]
_memo: VariationTable | None = None
_memo_lock = threading.Lock()


def cache_path() -> Path:
    """Where the variation table is cached."""
    root = Path(os.environ.get("SPARKRL_CACHE", Path.home() / ".cache" / "sparkrl"))
    return root / f"scienceworld-{SCIENCEWORLD_VERSION}-variations.json"


def _valid_table(table: object) -> bool:
    return (
        isinstance(table, dict)
        and set(table) == set(TASK_TYPES)
        and all(set(splits) == {"train", "dev", "test"} for splits in table.values())
    )


def variation_table(pool: BackendPool) -> VariationTable:
    """Task name -> {"train"|"dev"|"test": variation indices}, from the memo, the disk cache, or
    (once) the simulator through ``pool`` (one JVM at most)."""
    global _memo
    with _memo_lock:
        if _memo is not None:
            return _memo
        path = cache_path()
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            table = None
        if not _valid_table(table):
            table = pool.query(
                "read the ScienceWorld variation splits",
                lambda backend: {name: backend.variation_splits(name) for name in TASK_TYPES},
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(json.dumps(table, sort_keys=True))
            os.replace(scratch, path)
        _memo = table
        return table


def split_variations(table: VariationTable, task_name: str, split: str) -> list[int]:
    """The variations of ``task_name`` in sparkrl split ``split`` (empty when the type is out)."""
    held_out = task_name in HELD_OUT_TYPES
    if split == "L2":
        return list(table[task_name]["test"]) if held_out else []
    if held_out:
        return []
    train = table[task_name]["train"]
    if split == "train":
        return [v for i, v in enumerate(train) if i % L0_STRIDE != 0]
    if split == "L0":
        return [v for i, v in enumerate(train) if i % L0_STRIDE == 0]
    if split == "L1":
        return list(table[task_name]["test"])
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def build_tasks(table: VariationTable, split: str) -> list[Task]:
    """The ordered task list of ``split``: topic order, then variation index."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return [
        Task(
            env=ENV_NAME,
            task_id=task_id(name, variation),
            split=split,
            task_type=name,
            info={"topic": TOPICS[name], "variation": variation},
        )
        for name in TASK_TYPES
        for variation in split_variations(table, name, split)
    ]


def task_id(task_name: str, variation: int) -> str:
    """The sparkrl task id of a ScienceWorld game."""
    return f"{task_name}/{variation}"


def parse_task_id(value: str) -> tuple[str, int]:
    """(task name, variation) of a task id; ValueError when malformed or unknown."""
    name, sep, variation = value.rpartition("/")
    if not sep or name not in TOPICS or not variation.isdigit():
        raise ValueError(
            f"bad ScienceWorld task id {value!r}: expected '<task name>/<variation>' with a "
            f"task name among {', '.join(TASK_TYPES)}"
        )
    return name, int(variation)
