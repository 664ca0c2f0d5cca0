"""Step (or reset) many ``TextEnv``s at once, in threads.

Envs backed by another process (ScienceWorld's JVMs over py4j sockets) spend a step waiting on
I/O with the GIL released, so threads give real parallelism there; for pure-Python envs the
pool is simply correct. Results come back in input order. An exception in one env never stops
the others and is never lost: it is kept in that env's ``EnvCall``, and ``raise_errors=True``
raises one ``EnvPoolError`` naming every failed env.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from sparkrl.envs.base import Observation, StepResult, Task, TextEnv

T = TypeVar("T")
A = TypeVar("A")


@dataclass
class EnvCall(Generic[T]):
    """One env's share of a pool call: its value, or the exception it raised."""

    env: TextEnv
    argument: object
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self) -> T:
        """The value; re-raises the env's exception if it failed."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class EnvPoolError(RuntimeError):
    """Some envs of a pool call failed; ``calls`` holds every call, ``failed`` the bad ones."""

    def __init__(self, what: str, calls: list[EnvCall]) -> None:
        self.calls = calls
        self.failed = [(index, call) for index, call in enumerate(calls) if not call.ok]
        lines = [
            f"  #{index} {call.env.name} {call.argument!r}: {type(call.error).__name__}: {call.error}"
            for index, call in self.failed
        ]
        super().__init__(f"{len(self.failed)}/{len(calls)} envs failed to {what}:\n" + "\n".join(lines))


class EnvPool:
    """A thread pool that runs one call per env in parallel and returns them in order."""

    def __init__(self, max_workers: int = 8) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="envpool")

    def _run(
        self,
        what: str,
        pairs: Sequence[tuple[TextEnv, A]],
        call: Callable[[TextEnv, A], T],
        raise_errors: bool,
    ) -> list[EnvCall[T]]:
        envs = [env for env, _ in pairs]
        if len({id(env) for env in envs}) != len(envs):
            raise ValueError(f"an env appears twice in one {what} batch; fork it instead")

        def run(env: TextEnv, argument: A) -> EnvCall[T]:
            try:
                return EnvCall(env, argument, value=call(env, argument))
            except Exception as error:  # noqa: BLE001 — kept per env, reported to the caller
                return EnvCall(env, argument, error=error)

        futures = [self._executor.submit(run, env, argument) for env, argument in pairs]
        calls = [future.result() for future in futures]
        if raise_errors and any(not c.ok for c in calls):
            failure = EnvPoolError(what, calls)
            raise failure from failure.failed[0][1].error
        return calls

    def step(
        self, pairs: Sequence[tuple[TextEnv, str]], *, raise_errors: bool = False
    ) -> list[EnvCall[StepResult]]:
        """``env.step(action)`` for every (env, action) pair, in parallel."""
        return self._run("step", pairs, lambda env, action: env.step(action), raise_errors)

    def reset(
        self, pairs: Sequence[tuple[TextEnv, Task]], *, raise_errors: bool = False
    ) -> list[EnvCall[Observation]]:
        """``env.reset(task)`` for every (env, task) pair, in parallel."""
        return self._run("reset", pairs, lambda env, task: env.reset(task), raise_errors)

    def close(self) -> None:
        """Stop the worker threads (the envs stay open)."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
