"""Golden trajectories: episodes played by an environment's expert, recorded step by step.

Generic over any ``TextEnv`` whose ``expert()`` returns an ``Expert``: the recorder only uses
the env contract (reset, step, expert). Only won episodes become training data (the cold
start of spark-method.md section 5 uses successful trajectories); the others are counted so
a weak expert is visible instead of silently shrinking the data set.

The expert plays with ``EXPERT_HORIZON`` steps (300, as ``check_env`` gives it), not the env's
training horizon K: ScienceWorld's gold paths are longer than K = 30 on many of its 30 task
types (up to 179 steps), and cutting them at K would lose the episode. The recorded trajectory is
the whole gold path; each step is still one sample whose prompt shows the history window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sparkrl.envs.base import EnvError, Task, TextEnv
from sparkrl.envs.checker import EXPERT_HORIZON


@dataclass(frozen=True)
class GoldenStep:
    """One expert decision: what it saw, what it could do, what it did."""

    observation: str
    admissible_actions: tuple[str, ...]
    action: str
    is_search: bool
    """The expert was looking for something not yet known (the ``<explore>`` cue)."""


@dataclass(frozen=True)
class GoldenTrajectory:
    """One expert episode on one task."""

    env: str
    task_id: str
    split: str
    task_type: str
    goal: str
    won: bool
    steps: tuple[GoldenStep, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_dict`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> GoldenTrajectory:
        """Rebuild a trajectory from ``to_dict`` output; raises ``ValueError`` if malformed."""
        try:
            steps = tuple(
                GoldenStep(
                    observation=str(step["observation"]),
                    admissible_actions=tuple(str(a) for a in step["admissible_actions"]),
                    action=str(step["action"]),
                    is_search=bool(step["is_search"]),
                )
                for step in record["steps"]
            )
            return cls(
                env=str(record["env"]),
                task_id=str(record["task_id"]),
                split=str(record["split"]),
                task_type=str(record["task_type"]),
                goal=str(record["goal"]),
                won=bool(record["won"]),
                steps=steps,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed golden trajectory record: {error!r}") from error


@dataclass
class GoldenCollection:
    """The won trajectories of a collection run, and what happened to the other episodes."""

    trajectories: list[GoldenTrajectory] = field(default_factory=list)
    episodes: int = 0
    """Episodes attempted."""
    lost: int = 0
    """Episodes the expert finished without winning (truncated or lost)."""
    errors: list[str] = field(default_factory=list)
    """One line per episode the env or expert failed on (``EnvError``), with the task id."""

    @property
    def won(self) -> int:
        return len(self.trajectories)

    def summary(self) -> str:
        """One line: won / lost / errored out of attempted."""
        return (
            f"{self.won}/{self.episodes} expert episodes won, {self.lost} lost, "
            f"{len(self.errors)} failed"
        )


def play_expert(env: TextEnv, task: Task, horizon: int = EXPERT_HORIZON) -> GoldenTrajectory:
    """Play ``task`` with the env's expert until the episode ends; won or not.

    The episode may run ``max(env.max_steps, horizon)`` steps (``env.max_steps`` is restored
    afterwards). Raises ``NotImplementedError`` when the env has no expert and ``EnvError``
    when the env fails mid-episode.
    """
    training_horizon = env.max_steps
    env.max_steps = max(training_horizon, horizon)
    try:
        return _play(env, task)
    finally:
        env.max_steps = training_horizon


def _play(env: TextEnv, task: Task) -> GoldenTrajectory:
    observation = env.reset(task)
    expert = env.expert()
    goal = observation.goal
    steps: list[GoldenStep] = []
    won = False
    done = False
    while not done:
        decision = expert.act(observation)
        steps.append(
            GoldenStep(
                observation=observation.text,
                admissible_actions=tuple(observation.admissible_actions),
                action=decision.action,
                is_search=decision.is_search,
            )
        )
        result = env.step(decision.action)
        observation, won, done = result.observation, result.won, result.done
    return GoldenTrajectory(
        env=task.env,
        task_id=task.task_id,
        split=task.split,
        task_type=task.task_type,
        goal=goal,
        won=won,
        steps=tuple(steps),
    )


def collect_golden(env: TextEnv, tasks: Iterable[Task], horizon: int = EXPERT_HORIZON) -> GoldenCollection:
    """Play every task with the expert (``horizon`` steps at most, see ``play_expert``); keep
    the won episodes, count the rest."""
    collection = GoldenCollection()
    for task in tasks:
        collection.episodes += 1
        try:
            trajectory = play_expert(env, task, horizon)
        except EnvError as error:
            collection.errors.append(f"{task.task_id}: {error}")
            continue
        if trajectory.won:
            collection.trajectories.append(trajectory)
        else:
            collection.lost += 1
    return collection


def save_jsonl(trajectories: Iterable[GoldenTrajectory], path: str | Path) -> Path:
    """Write one trajectory per line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for trajectory in trajectories:
            stream.write(json.dumps(trajectory.to_dict(), ensure_ascii=False) + "\n")
    return path


def iter_jsonl(path: str | Path) -> Iterator[GoldenTrajectory]:
    """Read trajectories lazily; a bad line raises ``ValueError`` naming the line number."""
    with Path(path).open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield GoldenTrajectory.from_dict(json.loads(line))
            except (json.JSONDecodeError, ValueError) as error:
                raise ValueError(f"{path}:{number}: {error}") from error


def load_jsonl(path: str | Path) -> list[GoldenTrajectory]:
    """All trajectories of a file written by ``save_jsonl``."""
    return list(iter_jsonl(path))
