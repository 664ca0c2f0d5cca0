"""The household task lists: train, L0, L1, L2, disjoint by construction.

- ``train``: seen task types (pick, look-in-light, clean, heat) on layouts of pool ``s``.
- ``L0``: seen types, seen layouts, new instances — task k re-uses the type and layout of a
  train task (evenly spaced over the train list) and takes an instance number no train task has
  (>= ``L0_INSTANCE_BASE``).
- ``L1``: seen types on pool ``u`` layouts, which no other split uses.
- ``L2``: unseen types (cool, pick-two) on pool ``s`` layouts.

Each split cycles through its task types, so types are balanced; the room for a type is drawn
with ALFWorld's room frequencies for that type, seeded by split and index. The lists do not
depend on the room size: a small-room env has the same task ids, only labelled with its own env
name (``env_name(size)``).
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Mapping

from sparkrl.envs.base import SPLITS, Task
from sparkrl.envs.household.catalog import SEEN_TASK_TYPES, TASK_SPECS, UNSEEN_TASK_TYPES, check_room_size
from sparkrl.envs.household.world import TaskKey

ENV_NAME = "household"


def env_name(size: str = "full") -> str:
    """The env name of a household env with rooms of ``size``: ``household``, ``household-small``."""
    return ENV_NAME if check_room_size(size) == "full" else f"{ENV_NAME}-{size}"

DEFAULT_SPLIT_SIZES: Mapping[str, int] = {"train": 2000, "L0": 200, "L1": 200, "L2": 200}
LAYOUTS_PER_ROOM = {"s": 60, "u": 30}
"""How many distinct layouts each room kind has in the seen (``s``) and unseen (``u``) pools."""
L0_INSTANCE_BASE = 1_000_000


def _key(split: str, index: int, types: tuple[str, ...], pool: str, instance: int) -> TaskKey:
    task_type = types[index % len(types)]
    rng = random.Random(f"household-split:{split}:{index}")
    rooms = TASK_SPECS[task_type][0]
    names = sorted(rooms)
    room = rng.choices(names, weights=[rooms[name] for name in names])[0]
    return TaskKey(task_type, room, pool, rng.randrange(LAYOUTS_PER_ROOM[pool]), instance)


def _train_key(index: int) -> TaskKey:
    return _key("train", index, SEEN_TASK_TYPES, "s", index)


def _split_keys(split: str, size: int, train_size: int) -> list[TaskKey]:
    if split == "train":
        if size > L0_INSTANCE_BASE:
            raise ValueError(f"the train split holds at most {L0_INSTANCE_BASE} tasks")
        return [_train_key(i) for i in range(size)]
    if split == "L0":
        if train_size < 1:
            raise ValueError("L0 re-uses train layouts, so the train split cannot be empty")
        keys = []
        cycle = len(SEEN_TASK_TYPES)
        for k in range(size):
            # Spread over the train list, landing on a train task of the type L0 task k cycles to.
            spread = k * train_size // size
            index = spread - spread % cycle + k % cycle
            base = _train_key(index if index < train_size else k % train_size)
            keys.append(TaskKey(base.task_type, base.room, base.pool, base.layout, L0_INSTANCE_BASE + k))
        return keys
    if split == "L1":
        return [_key("L1", k, SEEN_TASK_TYPES, "u", k) for k in range(size)]
    if split == "L2":
        return [_key("L2", k, UNSEEN_TASK_TYPES, "s", k) for k in range(size)]
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


@lru_cache(maxsize=32)
def split_tasks(split: str, size: int, train_size: int, env: str = ENV_NAME) -> tuple[Task, ...]:
    """The first ``size`` tasks of ``split``; ``train_size`` is the train split's size, which
    decides which train layouts L0 re-uses; ``env`` is the name the tasks carry."""
    return tuple(
        Task(
            env=env,
            task_id=key.task_id,
            split=split,
            task_type=key.task_type,
            info={"room": key.room, "layout": key.layout_id},
        )
        for key in _split_keys(split, size, train_size)
    )
