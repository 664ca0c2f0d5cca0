"""``HouseholdEnv``: the built-in, dependency-free, ALFWorld-like environment.

Solvability guarantee: a task id's game is the first draw (attempt 0, 1, 2, ...) of
``generate_world(task_id, attempt)`` that the expert wins within ``EXPERT_STEP_BUDGET`` steps.
The check plays the expert on the draw, which is deterministic, so the id still fully determines
the game; with the default ``max_steps=30`` the expert keeps a margin of 6 steps.

Room size: ``HouseholdEnv(size="small")`` (registered as ``household-small``) plays the same task
ids — the splits are identical — in rooms of 6..12 receptacles instead of 15..40 (see
``catalog.py``); the same solvability guarantee and budget apply. The env's ``name``, and so
every task's ``Task.env``, is ``"household"`` for full rooms and ``"household-small"`` for small
ones: a task id and an env name still fully determine the game, and ``reset`` refuses a task of
the other size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from sparkrl.envs.base import Observation, Task, TextEnv
from sparkrl.envs.household.expert import HouseholdExpert
from sparkrl.envs.household.game import Game, Rules
from sparkrl.envs.household.catalog import RECEPTACLE_RANGE, check_room_size
from sparkrl.envs.household.splits import DEFAULT_SPLIT_SIZES, ENV_NAME, env_name, split_tasks
from sparkrl.envs.household.world import World, generate_world

EXPERT_STEP_BUDGET = 24
MAX_GENERATION_ATTEMPTS = 64


def expert_solves(world: World, budget: int = EXPERT_STEP_BUDGET) -> int | None:
    """Steps the expert needs to win ``world``, or None if it does not win within ``budget``."""
    game = Game(Rules(world))
    expert = HouseholdExpert()
    observation = Observation(game.rules.intro, game.admissible(), world.goal)
    for step in range(1, budget + 1):
        text = game.step(expert.act(observation).action)
        if game.won:
            return step
        observation = Observation(text, game.admissible(), world.goal)
    return None


@lru_cache(maxsize=1024)
def solvable_rules(task_id: str, size: str = "full") -> Rules:
    """The precomputed rules of the game ``task_id`` names in a room of ``size`` (see the module
    docstring); cached per (task id, size)."""
    for attempt in range(MAX_GENERATION_ATTEMPTS):
        world = generate_world(task_id, attempt, size)
        if expert_solves(world) is not None:
            return Rules(world)
    raise RuntimeError(
        f"no draw of {task_id!r} (size {size!r}) in {MAX_GENERATION_ATTEMPTS} attempts is solvable"
    )


class HouseholdEnv(TextEnv):
    """One room, 15-40 receptacles (6-12 with ``size="small"``), six ALFWorld task types,
    ALFWorld's wording and grammar.

    ``split_sizes`` overrides the default number of tasks per split (train 2000, L0/L1/L2 200).
    ``size`` is one of ``ROOM_SIZES``; it changes the rooms, not the task lists, and names the
    env (``"household"`` or ``"household-small"``).
    """

    name = ENV_NAME

    def __init__(
        self, max_steps: int = 30, split_sizes: Mapping[str, int] | None = None, size: str = "full"
    ) -> None:
        super().__init__(max_steps=max_steps)
        self.size = check_room_size(size)
        self.name = env_name(size)  # type: ignore[misc]  # per instance: the size names the env
        self.receptacle_range: tuple[int, int] = RECEPTACLE_RANGE[size]
        sizes = dict(DEFAULT_SPLIT_SIZES)
        for split, size in (split_sizes or {}).items():
            if split not in sizes:
                raise ValueError(f"unknown split {split!r} in split_sizes")
            if size < 0:
                raise ValueError(f"split size must be >= 0, got {split}={size}")
            sizes[split] = int(size)
        self.split_sizes: dict[str, int] = sizes
        self._game: Game | None = None

    def spawn(self) -> HouseholdEnv:
        return HouseholdEnv(max_steps=self.max_steps, split_sizes=self.split_sizes, size=self.size)

    def tasks(self, split: str, limit: int | None = None) -> list[Task]:
        """The deterministic task list of ``split``, cut to its first ``limit`` tasks if given."""
        if split not in self.split_sizes:
            raise ValueError(f"unknown split {split!r}; expected one of {tuple(self.split_sizes)}")
        size = self.split_sizes[split] if limit is None else min(limit, self.split_sizes[split])
        return list(split_tasks(split, size, self.split_sizes["train"], self.name))

    def _observation(self, text: str) -> Observation:
        assert self._game is not None
        return Observation(text, self._game.admissible(), self._game.rules.world.goal)

    def _reset(self, task: Task) -> Observation:
        self._game = Game(solvable_rules(task.task_id, self.size))
        return self._observation(self._game.rules.intro)

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        assert self._game is not None
        text = self._game.step(action)
        won = self._game.won
        return self._observation(text), float(won), won, won, {}

    def fork(self) -> HouseholdEnv:
        """A native snapshot: the game state is copied, the static rules are shared."""
        if self.task is None or self._game is None:
            raise RuntimeError("fork() called before reset()")
        clone = self.spawn()
        clone.task = self.task
        clone.actions = list(self.actions)
        clone.done = self.done
        clone._game = self._game.copy()
        return clone

    def expert(self) -> HouseholdExpert:
        """A fresh expert for this episode; feed it the reset observation first. It holds no
        reference to the env, so it can only know what the observations tell it."""
        return HouseholdExpert()


def small_household(max_steps: int = 30, split_sizes: Mapping[str, int] | None = None) -> HouseholdEnv:
    """The ``household-small`` registry entry: ``HouseholdEnv(size="small")``."""
    return HouseholdEnv(max_steps=max_steps, split_sizes=split_sizes, size="small")
