"""Small in-test environments for exercising the TextEnv contract and the checker."""

from __future__ import annotations

from typing import Any

from sparkrl.envs.base import SPLITS, UNKNOWN_ACTION_TEXT, Observation, Task, TextEnv


class CounterEnv(TextEnv):
    """Reach the task's target number by `inc`/`dec` from zero. Deterministic per task id."""

    name = "counter"

    def tasks(self, split: str) -> list[Task]:
        offset = SPLITS.index(split) * 100
        return [Task(self.name, f"{split}-{offset + i}", split, "count") for i in range(10)]

    def _target(self) -> int:
        assert self.task is not None
        return 2 + int(self.task.task_id.rsplit("-", 1)[1]) % 5

    def _observation(self, text: str) -> Observation:
        return Observation(text, ["dec", "inc", "look"], f"reach {self._target()}")

    def _reset(self, task: Task) -> Observation:
        self.value = 0
        return self._observation("You are at 0.")

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        if action in ("inc", "dec"):
            self.value += 1 if action == "inc" else -1
            text = f"You are at {self.value}."
        elif action == "look":
            text = f"You are at {self.value}."
        else:
            text = UNKNOWN_ACTION_TEXT
        won = self.value == self._target()
        return self._observation(text), float(won), won, won, {}

    def expert(self) -> "CounterExpert":
        return CounterExpert(self._target())


class CounterExpert:
    def __init__(self, target: int) -> None:
        self.target = target

    def act(self, observation: Observation):
        from sparkrl.envs.base import ExpertStep

        return ExpertStep("inc", is_search=False)


class LeakyForkEnv(CounterEnv):
    """Broken on purpose: its fork shares the parent's mutable state."""

    name = "leaky"

    def fork(self) -> "LeakyForkEnv":
        clone = type(self)(max_steps=self.max_steps)
        clone.__dict__ = self.__dict__  # the bug the checker must catch
        return clone

    def tasks(self, split: str) -> list[Task]:
        return [Task(self.name, t.task_id, t.split, t.task_type) for t in super().tasks(split)]
