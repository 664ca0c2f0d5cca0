"""``EnvHost``: many envs of one kind living in one process, addressed by integer handles.

It is the body of a Ray env worker (``sparkrl.distributed.ray_envs`` wraps it with
``ray.remote``), kept free of Ray so that it can be read and tested on its own. Every method
takes and returns plain, picklable values (handles, ``Task``, ``Observation``, ``StepResult``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkrl.envs.base import EnvError, Observation, StepResult, Task, TextEnv
from sparkrl.envs.registry import make


class EnvHost:
    """Builds, steps, forks and closes envs of one registered kind on request."""

    def __init__(self, env_name: str, env_kwargs: dict[str, Any]) -> None:
        self.env_name = env_name
        self.env_kwargs = dict(env_kwargs)
        self._envs: dict[int, TextEnv] = {}
        self._next_handle = 0

    def _add(self, env: TextEnv) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._envs[handle] = env
        return handle

    def _env(self, handle: int) -> TextEnv:
        try:
            return self._envs[handle]
        except KeyError:
            raise EnvError(f"no open {self.env_name} env with handle {handle} on this worker") from None

    def create(self) -> tuple[int, int]:
        """A fresh, un-reset env; returns its handle and its default ``max_steps``."""
        env = make(self.env_name, **self.env_kwargs)
        return self._add(env), env.max_steps

    def reset(self, handle: int, task: Task, max_steps: int) -> Observation:
        """``reset(task)`` on env ``handle`` with horizon ``max_steps``."""
        env = self._env(handle)
        env.max_steps = max_steps
        return env.reset(task)

    def step(self, handle: int, action: str, max_steps: int) -> StepResult:
        """``step(action)`` on env ``handle`` (the caller's horizon travels with every step)."""
        env = self._env(handle)
        env.max_steps = max_steps
        return env.step(action)

    def fork(self, handle: int) -> int:
        """The env's own ``fork()`` (a native snapshot where the env has one); the copy's handle."""
        return self._add(self._env(handle).fork())

    def replay(self, task: Task, actions: Sequence[str], max_steps: int) -> int:
        """A new env at the state reached by ``actions`` from ``task``'s start: how an env moves
        to another worker (or is rebuilt after its worker died). Exact for deterministic envs."""
        env = make(self.env_name, **self.env_kwargs)
        env.max_steps = max_steps
        handle = self._add(env)
        env.reset(task)
        for action in actions:
            env.step(action)
        return handle

    def tasks(self, handle: int, split: str) -> list[Task]:
        """``tasks(split)`` of env ``handle``."""
        return self._env(handle).tasks(split)

    def close(self, handle: int) -> None:
        """Close and forget env ``handle``; closing an unknown handle is a no-op."""
        env = self._envs.pop(handle, None)
        if env is not None:
            env.close()

    def close_all(self) -> int:
        """Close every env (before the worker is stopped); returns how many were open."""
        count = len(self._envs)
        for handle in list(self._envs):
            self.close(handle)
        return count

    def open_envs(self) -> int:
        """How many envs this worker holds (also the readiness ping)."""
        return len(self._envs)
