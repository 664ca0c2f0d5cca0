"""A small text environment of your own, plugged into sparkrl without touching sparkrl.

A locker room: something (a key, a coin, a badge) is hidden in one of several lockers, and the
goal says what to do with it (unlock the safe, drop the coin in the jar, scan the badge at the
door). The agent opens lockers until it finds the thing, takes it and uses it. Searching is the
uncertain part, so the expert marks its locker-opening steps as search steps: the cold start
annotates them ``<explore>`` and Spark branches there.

Use it from the command line with no registration at all::

    sparkrl check-env examples/custom_env.py:LockerRoom --games 20
    sparkrl train --env examples/custom_env.py:LockerRoom --preset smoke

or register it under a short name from your own code::

    import sparkrl.envs
    from custom_env import LockerRoom
    sparkrl.envs.register("lockers", LockerRoom)

The contract (docs/custom-env.md): ``tasks(split)`` lists deterministic games, ``_reset``
starts one, ``_step`` applies any string (an unknown command answers "Nothing happens."),
``expert()`` plays from what the agent sees. Forks come for free by replaying the actions,
because the game is a pure function of its task id and the actions so far.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sparkrl.envs import UNKNOWN_ACTION_TEXT, ExpertStep, Observation, Task, TextEnv

GOALS = {
    # task type: (thing, what to do with it, the action that wins)
    "unlock_safe": ("key", "open the safe with the key", "unlock safe with key"),
    "pay_jar": ("coin", "drop the coin in the jar", "put coin in jar"),
    "scan_badge": ("badge", "scan the badge at the door", "scan badge at door"),
}
SEEN_TYPES = ("unlock_safe", "pay_jar")
"""Trained on (train, L0, L1); ``scan_badge`` is held out for L2."""
SPLIT_SEEDS = {"train": range(0, 300), "L0": range(500, 550), "L1": range(1000, 1050), "L2": range(2000, 2050)}
"""Disjoint games. L0: the training distribution (3-6 lockers); L1: bigger rooms than any
training game (7-8 lockers); L2: the held-out task type."""


@dataclass
class _Game:
    thing: str
    goal: str
    winning_action: str
    lockers: int
    hiding_place: int


def _game(task: Task) -> _Game:
    rng = random.Random(task.task_id)
    thing, goal, winning_action = GOALS[task.task_type]
    lockers = rng.randint(7, 8) if task.split == "L1" else rng.randint(3, 6)
    return _Game(thing, goal, winning_action, lockers, rng.randint(1, lockers))


class LockerRoom(TextEnv):
    """Find the hidden thing in one of the lockers, take it, use it. Reward 1 on success."""

    name = "lockers"

    def __init__(self, max_steps: int = 15) -> None:
        super().__init__(max_steps=max_steps)
        self._game: _Game | None = None
        self._opened: set[int] = set()
        self._holding = False

    def tasks(self, split: str) -> list[Task]:
        if split not in SPLIT_SEEDS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_SEEDS)}")
        types = ("scan_badge",) if split == "L2" else SEEN_TYPES
        return [Task(self.name, f"{types[seed % len(types)]}-{seed}", split, types[seed % len(types)])
                for seed in SPLIT_SEEDS[split]]

    def spawn(self) -> LockerRoom:
        return LockerRoom(max_steps=self.max_steps)

    def _reset(self, task: Task) -> Observation:
        self._game, self._opened, self._holding = _game(task), set(), False
        closed = ", ".join(f"locker {i}" for i in range(1, self._game.lockers + 1))
        return self._observe(f"You are in a locker room. You see {closed}, a safe, a jar and a door.")

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        game, command = self._game, " ".join(action.lower().split())
        assert game is not None
        if command not in self._admissible():
            return self._observe(UNKNOWN_ACTION_TEXT), 0.0, False, False, {}
        if command.startswith("open locker "):
            number = int(command.rsplit(" ", 1)[1])
            self._opened.add(number)
            inside = f"a {game.thing}" if number == game.hiding_place and not self._holding else "nothing"
            return self._observe(f"You open locker {number}. In it, you see {inside}."), 0.0, False, False, {}
        if command == f"take {game.thing}":
            self._holding = True
            return self._observe(f"You pick up the {game.thing}."), 0.0, False, False, {}
        won = command == game.winning_action
        text = "Done: you " + game.goal.split(" with ")[0] + "." if won else "Nothing changes."
        return self._observe(text), float(won), won, won, {}

    def _admissible(self) -> list[str]:
        game = self._game
        assert game is not None
        actions = [f"open locker {i}" for i in range(1, game.lockers + 1) if i not in self._opened]
        if game.hiding_place in self._opened and not self._holding:
            actions.append(f"take {game.thing}")
        if self._holding:
            actions += [goal[2] for goal in GOALS.values()]
        return actions

    def _observe(self, text: str) -> Observation:
        assert self._game is not None
        return Observation(text, self._admissible(), f"Your task is to: {self._game.goal}.")

    def expert(self) -> LockerExpert:
        return LockerExpert()


class LockerExpert:
    """Opens lockers in order until the thing shows (search steps), then takes and uses it.
    It reads only the observation, as the agent does."""

    def act(self, observation: Observation) -> ExpertStep:
        actions = observation.admissible_actions
        take = [a for a in actions if a.startswith("take ")]
        if take:
            return ExpertStep(take[0], is_search=False)
        goal = observation.goal.removeprefix("Your task is to: ").rstrip(".")
        for thing, text, winning_action in GOALS.values():
            if text == goal and winning_action in actions:
                return ExpertStep(winning_action, is_search=False)
        lockers = [a for a in actions if a.startswith("open locker ")]
        return ExpertStep(lockers[0] if lockers else actions[0], is_search=True)
