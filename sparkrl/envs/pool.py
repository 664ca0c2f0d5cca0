"""Step (or reset) many ``TextEnv``s at once, in threads, with an optional per-call timeout.

Envs backed by another process (ScienceWorld's JVMs over py4j sockets) spend a step waiting on
I/O with the GIL released, so threads give real parallelism there; for pure-Python envs the
pool is simply correct. Results come back in input order. An exception in one env never stops
the others and is never lost: it is kept in that env's ``EnvCall``, and ``raise_errors=True``
raises one ``EnvPoolError`` naming every failed env.

With ``timeout_s`` a call still running that long after it started is given up: its
``EnvCall`` holds an ``EnvCallTimeout`` and the pool starts a replacement worker, so a hung env
never blocks the caller or shrinks the pool. Python cannot stop a thread, so the hung call
keeps its (daemon) thread until it returns; envs that can be interrupted from outside (a
ScienceWorld JVM is killed by its own watchdog) give that thread back.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from sparkrl.envs.base import EnvError, Observation, StepResult, Task, TextEnv

T = TypeVar("T")
A = TypeVar("A")


class EnvCallTimeout(EnvError):
    """An env call ran past the pool's timeout and was given up."""


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


@dataclass
class _Job:
    future: Future
    work: Callable[[], object]
    started: float | None = None
    finished: bool = False
    abandoned: bool = False


class EnvPool:
    """A pool of daemon worker threads that runs one call per env in parallel, in order."""

    def __init__(self, max_workers: int = 8) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self.abandoned = 0
        """Calls given up after a timeout (each one's thread was replaced)."""
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(max_workers):
            self._add_worker()

    def _add_worker(self) -> None:
        threading.Thread(target=self._work, name="envpool", daemon=True).start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if job.future.set_running_or_notify_cancel():
                job.started = time.monotonic()
                try:
                    job.future.set_result(job.work())
                except BaseException as error:  # noqa: BLE001 — handed to the caller via the future
                    job.future.set_exception(error)
            with self._lock:
                job.finished = True
                if job.abandoned:
                    return  # a replacement took this worker's place when the job was given up

    def _wait(self, jobs: list[_Job], timeout_s: float | None) -> set[int]:
        """Wait for every job; the indices of those given up after ``timeout_s`` of running."""
        pending = {index: job for index, job in enumerate(jobs)}
        given_up: set[int] = set()
        while pending:
            budget = None
            if timeout_s is not None:
                now = time.monotonic()
                for index, job in list(pending.items()):
                    if job.started is not None and now - job.started >= timeout_s:
                        given_up.add(index)
                        del pending[index]
                        self._give_up(job)
                starts = [job.started for job in pending.values() if job.started is not None]
                budget = min((s + timeout_s - now for s in starts), default=timeout_s)
                budget = max(budget, 0.0) + 0.001
            if pending:
                wait([job.future for job in pending.values()], timeout=budget, return_when=FIRST_COMPLETED)
                pending = {index: job for index, job in pending.items() if not job.future.done()}
        return given_up

    def _give_up(self, job: _Job) -> None:
        """Abandon a running job; a new worker takes its thread's place at once, so the jobs
        queued behind it go on."""
        with self._lock:
            replace = not job.finished
            job.abandoned = replace
            self.abandoned += 1
        if replace:
            self._add_worker()

    def call(self, what: str, works: Sequence[Callable[[], T]], *,
             timeout_s: float | None = None) -> list[tuple[T | None, BaseException | None]]:
        """Run every ``work()`` in parallel; per work, in order, (value, None) or (None, error).
        A work still running ``timeout_s`` after it started gets an ``EnvCallTimeout``."""
        if self._closed:
            raise RuntimeError("the env pool is closed")
        jobs = []
        for work in works:
            job = _Job(Future(), work)
            self._jobs.put(job)
            jobs.append(job)
        given_up = self._wait(jobs, timeout_s)
        results: list[tuple[T | None, BaseException | None]] = []
        for index, job in enumerate(jobs):
            if index in given_up:
                results.append((None, EnvCallTimeout(f"{what} did not finish within {timeout_s:g} s")))
            elif job.future.exception() is not None:
                results.append((None, job.future.exception()))
            else:
                results.append((job.future.result(), None))
        return results

    def run(
        self,
        what: str,
        pairs: Sequence[tuple[TextEnv, A]],
        call: Callable[[TextEnv, A], T],
        *,
        timeout_s: float | None = None,
        raise_errors: bool = False,
    ) -> list[EnvCall[T]]:
        """``call(env, argument)`` for every pair, in parallel; ``what`` names it in errors."""
        envs = [env for env, _ in pairs]
        if len({id(env) for env in envs}) != len(envs):
            raise ValueError(f"an env appears twice in one {what} batch; fork it instead")
        works = [lambda env=env, argument=argument: call(env, argument) for env, argument in pairs]
        results = self.call(what, works, timeout_s=timeout_s)
        calls = [EnvCall(env, argument, value=value, error=error)
                 for (env, argument), (value, error) in zip(pairs, results)]
        if raise_errors and any(not c.ok for c in calls):
            failure = EnvPoolError(what, calls)
            raise failure from failure.failed[0][1].error
        return calls

    def step(
        self, pairs: Sequence[tuple[TextEnv, str]], *, timeout_s: float | None = None,
        raise_errors: bool = False,
    ) -> list[EnvCall[StepResult]]:
        """``env.step(action)`` for every (env, action) pair, in parallel."""
        return self.run("step", pairs, lambda env, action: env.step(action), timeout_s=timeout_s,
                        raise_errors=raise_errors)

    def reset(
        self, pairs: Sequence[tuple[TextEnv, Task]], *, timeout_s: float | None = None,
        raise_errors: bool = False,
    ) -> list[EnvCall[Observation]]:
        """``env.reset(task)`` for every (env, task) pair, in parallel."""
        return self.run("reset", pairs, lambda env, task: env.reset(task), timeout_s=timeout_s,
                        raise_errors=raise_errors)

    def close(self) -> None:
        """Stop the idle worker threads (the envs stay open; a hung call keeps its thread)."""
        if self._closed:
            return
        self._closed = True
        for _ in range(self.max_workers):
            self._jobs.put(None)

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
