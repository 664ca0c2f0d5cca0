"""``AlfWorldEnv``: the ALFWorld text games (TextWorld PDDL engine) behind the TextEnv contract."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from sparkrl.envs.alfworld.data import find_alfworld_data, game_file, list_games
from sparkrl.envs.alfworld.engine import ENGINES, GameEngine
from sparkrl.envs.alfworld.expert import WalkthroughExpert
from sparkrl.envs.base import UNKNOWN_ACTION_TEXT, EnvError, Observation, Task, TextEnv

BANNER = "-= Welcome to TextWorld, ALFRED! =-"
GOAL_PREFIX = "Your task is to: "
DROPPED_COMMANDS = frozenset({"help"})
"""Admissible in TextWorld but meta (it prints the command list), so not offered to agents."""


def normalise_command(action: str) -> str:
    """Case and spacing do not matter to ALFWorld's parser-less engine; match commands loosely."""
    return " ".join(action.lower().split())


def _goal_of(text: str) -> str:
    for line in text.splitlines():
        if line.startswith(GOAL_PREFIX):
            return line[len(GOAL_PREFIX):].strip()
    raise EnvError(f"the first ALFWorld observation states no goal ({GOAL_PREFIX!r}): {text[:200]!r}")


class AlfWorldEnv(TextEnv):
    """ALFWorld household games. Task id = ``<split dir>/<task dir>/<trial>``.

    ``data`` is the games folder (see ``find_alfworld_data`` for the lookup when omitted).
    Admissible actions come from the game (minus ``help``); any other action answers
    ``"Nothing happens."``. Reward is 1.0 on the winning step. Forks replay the action prefix
    on a fresh env; engines and PDDL translations are reused, so a fork costs about one reset
    plus one engine step per replayed admissible action.
    """

    name = "alfworld"

    def __init__(self, data: str | Path | None = None, max_steps: int = 30) -> None:
        super().__init__(max_steps=max_steps)
        self.data = find_alfworld_data(data)
        self._engine: GameEngine | None = None
        self._give_back: weakref.finalize | None = None
        self._goal = ""
        self._admissible: list[str] = []
        self._walkthrough: list[str] = []
        self._texts: list[str] = []

    def spawn(self) -> AlfWorldEnv:
        return AlfWorldEnv(data=self.data, max_steps=self.max_steps)

    def tasks(self, split: str) -> list[Task]:
        return [
            Task(self.name, task_id, split, task_type)
            for task_id, task_type in list_games(self.data, split)
        ]

    def _reset(self, task: Task) -> Observation:
        engine = self._engine_for(str(game_file(self.data, task.task_id)))
        try:
            state = engine.reset()
        except Exception as error:
            raise EnvError(f"TextWorld could not start ALFWorld game {task.task_id!r}: {error}") from error
        text = state["feedback"].replace(BANNER, "").strip()
        self._goal = _goal_of(text)
        self._walkthrough = list(state["extra.walkthrough"])
        self._admissible = self._offered(state)
        self._texts = [text]
        return Observation(text, list(self._admissible), self._goal)

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        command = normalise_command(action)
        won = False
        if command in self._admissible:
            try:
                state = self._engine.step(command)
            except Exception as error:
                where = f"{self.task.task_id!r} at step {self.num_steps}"
                raise EnvError(f"TextWorld failed on {command!r} in {where}: {error}") from error
            text = state["feedback"].strip()
            won = bool(state["won"])
            self._admissible = self._offered(state)
        else:
            text = UNKNOWN_ACTION_TEXT
        self._texts.append(text)
        observation = Observation(text, list(self._admissible), self._goal)
        return observation, 1.0 if won else 0.0, won, won, {}

    def expert(self) -> WalkthroughExpert:
        """The walkthrough expert from the current step; the episode must still be on it."""
        if self.task is None:
            raise RuntimeError("expert() called before reset()")
        taken = [normalise_command(action) for action in self.actions]
        if taken != self._walkthrough[: len(taken)]:
            raise RuntimeError(
                f"the ALFWorld expert replays the walkthrough {self._walkthrough}; "
                f"this episode left it: {self.actions}"
            )
        return WalkthroughExpert(self._walkthrough, position=len(taken), observations=self._texts)

    def close(self) -> None:
        """Hand the engine back to the process pool for the next env (a fork, usually)."""
        if self._give_back is not None:
            self._give_back()
        self._engine = self._give_back = None

    @staticmethod
    def _offered(state: dict[str, Any]) -> list[str]:
        return [c for c in state["admissible_commands"] if c not in DROPPED_COMMANDS]

    def _engine_for(self, path: str) -> GameEngine:
        if self._engine is not None and self._engine.game_file == path:
            return self._engine
        self.close()
        try:
            engine = ENGINES.acquire(path)
        except Exception as error:
            raise EnvError(f"TextWorld could not load ALFWorld game {path}: {error}") from error
        self._engine = engine
        # An env dropped without close() still returns its engine when collected.
        self._give_back = weakref.finalize(self, ENGINES.release, engine)
        return engine
