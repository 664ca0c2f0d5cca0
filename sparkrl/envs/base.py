"""The text-environment contract every sparkrl environment implements.

Gymnasium-like, but for multi-turn text agents and with one extra verb that Spark needs:
``fork()`` returns an independent copy of the environment at its current state, so a
trajectory can branch mid-episode.

Subclasses implement ``_reset`` and ``_step``; the public ``reset``/``step`` here own the
bookkeeping that must be identical across environments (action history for replay forks,
step counting and truncation at ``max_steps``, refusing to step a finished episode).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

SPLITS: tuple[str, ...] = ("train", "L0", "L1", "L2")
"""``train``; ``L0`` seen task types and instances; ``L1`` seen types, unseen instances;
``L2`` unseen task types (spark-method.md section 6)."""

UNKNOWN_ACTION_TEXT = "Nothing happens."


@dataclass(frozen=True)
class Task:
    """One game. ``task_id`` alone (with the env name) fully determines the game."""

    env: str
    task_id: str
    split: str
    task_type: str
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Observation:
    """What the agent sees after a reset or a step."""

    text: str
    admissible_actions: list[str]
    goal: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """The outcome of one ``step``. ``won`` implies ``terminated``."""

    observation: Observation
    reward: float
    terminated: bool
    truncated: bool
    won: bool
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


@dataclass(frozen=True)
class ExpertStep:
    """One expert action; ``is_search`` marks a step that looks for something not yet known."""

    action: str
    is_search: bool


class Expert(Protocol):
    """A stateful expert for one episode: it sees only what the agent sees."""

    def act(self, observation: Observation) -> ExpertStep:
        """The next expert action for the current observation."""
        ...


class EnvError(RuntimeError):
    """The environment (or its backing process) failed; the message says how."""


class TextEnv(abc.ABC):
    """A resettable, steppable, forkable text environment.

    Contract:
    - ``reset(task)`` starts the game ``task`` and returns the first observation.
    - ``step(action)`` accepts any string; an action the game does not understand answers
      ``"Nothing happens."`` (never raises) and the episode goes on.
    - After ``max_steps`` steps the episode is truncated.
    - ``fork()`` returns an independent env at the same state: a fork and its parent given
      the same actions produce identical observations, rewards and ends, and neither sees the
      other's steps. The default fork replays the action prefix on a fresh env; envs with a
      cheap native snapshot override it.
    """

    name: ClassVar[str] = "abstract"

    def __init__(self, max_steps: int = 30) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps
        self.task: Task | None = None
        self.actions: list[str] = []
        self.done = False

    # ---- to implement -------------------------------------------------------------------
    @abc.abstractmethod
    def tasks(self, split: str) -> list[Task]:
        """The deterministic, ordered task list of ``split`` (one of ``SPLITS``)."""

    @abc.abstractmethod
    def _reset(self, task: Task) -> Observation:
        """Start ``task`` from scratch."""

    @abc.abstractmethod
    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Apply ``action``; return (observation, reward, terminated, won, info)."""

    def spawn(self) -> TextEnv:
        """A fresh, un-reset env with the same configuration (used by replay forks)."""
        return type(self)(max_steps=self.max_steps)

    def expert(self) -> Expert:
        """An expert for the current episode; envs without one raise NotImplementedError."""
        raise NotImplementedError(f"env {self.name!r} has no expert")

    def close(self) -> None:
        """Release backing processes; the default holds none."""

    # ---- the contract, shared by every env -----------------------------------------------
    @property
    def num_steps(self) -> int:
        return len(self.actions)

    def reset(self, task: Task) -> Observation:
        if task.env != self.name:
            raise ValueError(f"task {task.task_id!r} belongs to env {task.env!r}, not {self.name!r}")
        self.task = task
        self.actions = []
        self.done = False
        return self._reset(task)

    def step(self, action: str) -> StepResult:
        if self.task is None:
            raise RuntimeError("step() called before reset()")
        if self.done:
            raise RuntimeError("step() called on a finished episode; reset() or fork() first")
        action = action if isinstance(action, str) else str(action)
        observation, reward, terminated, won, info = self._step(action)
        self.actions.append(action)
        terminated = terminated or won
        truncated = not terminated and self.num_steps >= self.max_steps
        self.done = terminated or truncated
        return StepResult(observation, float(reward), terminated, truncated, won, info)

    def fork(self) -> TextEnv:
        return replay_fork(self)

    def __enter__(self) -> TextEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def replay_fork(env: TextEnv) -> TextEnv:
    """Fork by replay: reset a fresh env on the same task and replay the action prefix.

    Exact for any deterministic env, at a cost linear in the episode's depth.
    """
    if env.task is None:
        raise RuntimeError("fork() called before reset()")
    clone = env.spawn()
    clone.reset(env.task)
    for action in env.actions:
        clone.step(action)
    return clone
