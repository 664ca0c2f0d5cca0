"""The env side of a rollout: resets, forks and lock-step env steps that survive env faults.

An env call that raises, or runs past ``timeout_s``, is retried up to ``retries`` times on a
fresh env rebuilt by replaying the trajectory's action prefix (``make_env`` → ``reset`` → the
actions so far): exact for every deterministic env, and the same thing a replay ``fork()``
does. When every retry fails, the call raises ``TaskFailed``: the rollout skips that task and
counts it — nothing is dropped silently. ``failures``, ``retries`` and ``errors`` say what
happened.

``workers == 1`` and no timeout steps the envs one by one in the caller's thread; otherwise the
calls of one lock-step run concurrently on an ``EnvPool`` (a timeout needs a thread to give up
on). Either way the results are identical and in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sparkrl.envs.base import Observation, StepResult, Task, TextEnv
from sparkrl.envs.pool import EnvCallTimeout, EnvPool

T = TypeVar("T")


class TaskFailed(Exception):
    """An env of one task kept failing after every retry."""


@dataclass
class Stepped:
    """One successful step: the env that took it (a rebuilt one after a fault) and its result."""

    env: TextEnv
    result: StepResult


@dataclass
class _Move:
    task: Task
    prefix: list[str]
    action: str
    env: TextEnv
    outcome: Stepped | TaskFailed | None = None
    last_error: str = ""


@dataclass
class EnvRunner:
    """Fault-tolerant env calls for one rollout (see the module docstring)."""

    make_env: Callable[[Task], TextEnv]
    max_steps: int
    workers: int = 1
    timeout_s: float = 0.0
    retries: int = 2
    failures: int = 0
    """Env calls that raised or timed out."""
    retried: int = 0
    """Retries made on rebuilt envs."""
    errors: list[str] = field(default_factory=list)
    """One line per failed env call: task, what, error."""
    _pool: EnvPool | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.workers > 1 or self.timeout_s > 0:
            self._pool = EnvPool(self.workers)

    # ---- building envs ----------------------------------------------------------------
    def _rebuild(self, task: Task, actions: Sequence[str]) -> tuple[TextEnv, Observation]:
        env = self.make_env(task)
        env.max_steps = self.max_steps
        observation = env.reset(task)
        for action in actions:
            observation = env.step(action).observation
        return env, observation

    def start(self, task: Task) -> tuple[TextEnv, Observation]:
        """A fresh env reset on ``task`` and its first observation."""
        return self._retrying(task, "reset", lambda: self._rebuild(task, ()), calls=1)

    def fork(self, env: TextEnv) -> TextEnv:
        """``env.fork()``; a failed fork is replaced by a replay of ``env``'s actions."""
        assert env.task is not None
        task, actions = env.task, list(env.actions)
        try:
            return env.fork()
        except Exception as error:  # noqa: BLE001 — any env fault: rebuild instead
            self._record(task, "fork", error)
        self.retried += 1
        return self._retrying(task, "fork by replay", lambda: self._rebuild(task, actions)[0],
                              calls=len(actions) + 1)

    def _retrying(self, task: Task, what: str, build: Callable[[], T], calls: int) -> T:
        """``build()`` with the retry policy; each attempt gets ``calls`` step timeouts."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            [(value, error)] = self._call(what, [build], calls)
            if error is None:
                return value  # type: ignore[return-value]
            last = self._record(task, what, error)
        raise TaskFailed(f"{task.task_id}: {what} failed {self.retries + 1} times; last error: {last}")

    def _call(self, what: str, works: Sequence[Callable[[], T]],
              calls: int) -> list[tuple[T | None, BaseException | None]]:
        """Every work, in the caller's thread or on the pool with ``calls`` step timeouts each."""
        if self._pool is not None:
            return self._pool.call(what, works, timeout_s=self._timeout(calls))
        results: list[tuple[T | None, BaseException | None]] = []
        for work in works:
            try:
                results.append((work(), None))
            except Exception as error:  # noqa: BLE001 — kept and retried by the caller
                results.append((None, error))
        return results

    # ---- stepping ------------------------------------------------------------------------
    def step(self, moves: Sequence[tuple[TextEnv, str]]) -> list[Stepped | TaskFailed]:
        """Step every (env, action) pair; per pair a ``Stepped`` or the ``TaskFailed`` left
        after every retry."""
        pending = []
        for env, action in moves:
            assert env.task is not None
            pending.append(_Move(env.task, list(env.actions), action, env))
        self._attempt(pending, first=True)
        for _ in range(self.retries):
            failing = [move for move in pending if move.outcome is None]
            if not failing:
                break
            self.retried += len(failing)
            self._attempt(failing, first=False)
        for move in pending:
            if move.outcome is None:
                move.outcome = TaskFailed(
                    f"{move.task.task_id}: step {len(move.prefix) + 1} ({move.action!r}) failed "
                    f"{self.retries + 1} times; last error: {move.last_error}"
                )
        return [move.outcome for move in pending]  # type: ignore[misc]

    def _attempt(self, moves: list[_Move], first: bool) -> None:
        """One try of every move: on its own env the first time, then on a rebuilt env."""

        def run(move: _Move) -> Stepped:
            env = move.env if first else self._rebuild(move.task, move.prefix)[0]
            return Stepped(env, env.step(move.action))

        # A retry replays the prefix first: its timeout covers the reset and every replayed step.
        calls = 1 if first else max(len(move.prefix) + 2 for move in moves)
        works = [lambda move=move: run(move) for move in moves]
        for move, (value, error) in zip(moves, self._call("step", works, calls)):
            if error is None:
                move.outcome = value
            else:
                move.last_error = self._record(move.task, f"step {len(move.prefix) + 1}", error)
                if first and not isinstance(error, EnvCallTimeout):
                    self.close_quietly(move.env)

    def _timeout(self, calls: int) -> float | None:
        return self.timeout_s * calls if self.timeout_s > 0 else None

    def _record(self, task: Task, what: str, error: BaseException | None) -> str:
        self.failures += 1
        text = f"{type(error).__name__}: {error}"
        self.errors.append(f"{task.task_id}: {what}: {text}")
        return text

    def close_quietly(self, env: TextEnv) -> None:
        """Close a failed env; its own failure to close is recorded, not raised."""
        try:
            env.close()
        except Exception as error:  # noqa: BLE001 — the env is being discarded anyway
            self.errors.append(f"close after a fault: {type(error).__name__}: {error}")

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.close()

