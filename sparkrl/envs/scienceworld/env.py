"""``ScienceWorldEnv``: one logical ScienceWorld episode on a shared pool of JVMs."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from sparkrl.envs.base import Observation, Task, TextEnv
from sparkrl.envs.scienceworld.actions import ADMISSIBLE_MODES, AdmissibleMode, admissible_actions
from sparkrl.envs.scienceworld.backend import BackendPool, Game, Outcome
from sparkrl.envs.scienceworld.catalog import ENV_NAME, build_tasks, parse_task_id, variation_table
from sparkrl.envs.scienceworld.expert import GoldExpert

SIMPLIFICATIONS: tuple[str, ...] = (
    "teleportAction",
    "selfWateringFlowerPots",
    "openContainers",
    "openDoors",
    "noElectricalAction",
)
"""What ScienceWorld can simplify; ``"easy"`` means all of them (electrical tasks keep their
electrical actions), the setting most agent papers use."""

WIN_SCORE = 100
DEFAULT_MAX_BACKENDS = 2

_default_pool: BackendPool | None = None
_default_pool_lock = threading.Lock()


def default_pool() -> BackendPool:
    """The process-wide pool used by envs built without one (closed at interpreter exit)."""
    global _default_pool
    with _default_pool_lock:
        if _default_pool is None:
            _default_pool = BackendPool(DEFAULT_MAX_BACKENDS)
            atexit.register(_default_pool.close)
        return _default_pool


def _check_simplifications(value: str) -> str:
    names = [name for name in value.split(",") if name]
    unknown = [name for name in names if name != "easy" and name not in SIMPLIFICATIONS]
    if unknown:
        raise ValueError(
            f"unknown ScienceWorld simplification(s) {unknown}; "
            f"expected 'easy' or a comma-separated subset of {', '.join(SIMPLIFICATIONS)}"
        )
    return ",".join(names)


class ScienceWorldEnv(TextEnv):
    """ScienceWorld (Wang et al., 2022) as a sparkrl env; see the package docstring.

    Reward 1.0 on the step that completes the task with score 100, else 0. The raw score
    (0-100; negative after a failure) is in ``info["score"]``. A win terminates the episode; so
    does the game's own failure (completed below 100, e.g. focusing on the wrong object), as a
    loss. Unknown actions answer with ScienceWorld's own text ("No known action matches that
    input.") and the episode goes on.

    The env holds no JVM itself: its state is (task, action history) and ``pool`` brings a JVM
    there when it steps, so ``fork()`` is free until the fork steps (then the pool reuses a JVM
    holding the parent's state or replays the history on another). ``close()`` only drops the
    env's state; ``BackendPool.close()`` stops the JVMs.
    """

    name = ENV_NAME

    def __init__(
        self,
        max_steps: int = 30,
        simplifications: str = "easy",
        *,
        admissible: AdmissibleMode = "filtered",
        pool: BackendPool | None = None,
    ) -> None:
        super().__init__(max_steps)
        if admissible not in ADMISSIBLE_MODES:
            raise ValueError(f"unknown admissible mode {admissible!r}; expected one of {ADMISSIBLE_MODES}")
        self.simplifications = _check_simplifications(simplifications)
        self.admissible = admissible
        self.pool = pool if pool is not None else default_pool()
        self._game: Game | None = None

    def tasks(self, split: str) -> list[Task]:
        return build_tasks(variation_table(self.pool), split)

    def _game_of(self, task: Task) -> Game:
        task_name, variation = parse_task_id(task.task_id)
        electrical = "power-component" in task_name or "conductivity" in task_name
        if electrical and "noElectricalAction" in self.simplifications.split(","):
            raise ValueError(f"task {task.task_id!r} needs electrical actions; drop noElectricalAction")
        return Game(task_name, variation, self.simplifications)

    def _observation(self, outcome: Outcome) -> Observation:
        assert self._game is not None
        return Observation(
            text=outcome.text,
            admissible_actions=admissible_actions(outcome.valid_json, self.admissible),
            goal=outcome.goal,
            info={"score": outcome.score, "task_type": self._game.task_name,
                  "variation": self._game.variation},
        )

    def _reset(self, task: Task) -> Observation:
        self._game = self._game_of(task)
        return self._observation(self.pool.observe(self._game, []))

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        assert self._game is not None
        outcome = self.pool.advance(self._game, self.actions, action)
        won = outcome.completed and outcome.score >= WIN_SCORE
        terminated = outcome.completed or outcome.score < 0
        return self._observation(outcome), float(won), terminated, won, {"score": outcome.score}

    def spawn(self) -> ScienceWorldEnv:
        return type(self)(
            max_steps=self.max_steps, simplifications=self.simplifications,
            admissible=self.admissible, pool=self.pool,
        )

    def fork(self) -> ScienceWorldEnv:
        """A lazy replay fork: same task and history, no JVM work until it steps."""
        if self.task is None:
            raise RuntimeError("fork() called before reset()")
        clone = self.spawn()
        clone.task, clone.actions, clone.done = self.task, list(self.actions), self.done
        clone._game = self._game
        return clone

    def expert(self) -> GoldExpert:
        """Replays the simulator's gold path for this game from the current (fresh) episode."""
        if self._game is None:
            raise RuntimeError("expert() called before reset()")
        if self.actions:
            raise RuntimeError("expert() needs a fresh episode: call it right after reset()")
        return GoldExpert(self.pool.gold_actions(self._game))

    def close(self) -> None:
        """Drop the episode; the shared JVMs stay with the pool."""
        self.task, self._game = None, None
        self.actions, self.done = [], False
