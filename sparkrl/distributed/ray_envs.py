"""Environments in Ray worker processes, seen through ``TextEnv`` proxies.

``RayEnvFactory(env_name, env_kwargs, workers=K)`` starts K Ray actors, each an ``EnvHost``
holding many envs; calling the factory with a task (it is a ``make_env`` for
``spark_rollout``) returns a ``RemoteEnv``, a ``TextEnv`` whose ``reset``/``step``/``fork``/
``close`` run on its worker. The rollout code is unchanged: envs stepped from several threads
(``sparkrl.envs.pool.EnvPool``) wait on different workers at once, so K ScienceWorld or
ALFWorld processes step in parallel while results come back in the caller's order.

Placement:

- a new env (a task's first env, ``spawn``) goes to the worker holding the fewest open envs;
- a fork goes, by default (``fork_placement="same"``), to its parent's worker and uses the
  env's own ``fork()``: a native snapshot (household) costs microseconds there, whereas moving
  an env to another worker means replaying its action prefix (``EnvHost.replay``). Since the
  tasks of an iteration are spread over the workers, keeping each task's tree on one worker
  balances well once there are more tasks than workers (the paper's 16 tasks per iteration).
  ``fork_placement="least_loaded"`` sends a fork to the least-loaded worker instead (replay
  when that is another worker): worth it for envs whose fork is a replay anyway (ALFWorld,
  ScienceWorld) when there are fewer tasks than workers.

Failure handling (nothing waits forever):

- Ray is started locally with explicit resources (``num_cpus`` = workers, no GPU, no
  dashboard, a small object store) unless the caller already started it;
- the workers must answer a ping within ``start_timeout`` seconds, or ``EnvError`` says how
  many CPUs they needed and what the cluster had free;
- every call waits at most ``call_timeout`` seconds; on a timeout the worker is replaced and
  ``EnvError`` names the worker, the call and the limit;
- a worker that dies (killed, out of memory) is replaced by a fresh one, and each of its envs
  is rebuilt on a live worker by replaying its task and action prefix the next time it is
  used (the proxy keeps both): exact for deterministic envs, which all built-in envs are. A
  rebuild that fails again raises ``WorkerLostError``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sparkrl.distributed.env_host import EnvHost
from sparkrl.envs.base import EnvError, Observation, StepResult, Task, TextEnv

FORK_PLACEMENTS = ("same", "least_loaded")
OBJECT_STORE_BYTES = 128 * 1024**2
"""Observations are a few kB: a small store keeps Ray usable on small machines."""

T = TypeVar("T")


class WorkerLostError(EnvError):
    """The worker process that held an env died (or was replaced after a timeout)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            "env workers (--workers > 1) need Ray: pip install 'ray>=2.9' "
            "(install.sh installs it with the `scale` extra)"
        ) from error
    return ray


@dataclass(frozen=True)
class EnvAddress:
    """Where an env lives: worker slot, that slot's actor generation, handle on the actor."""

    worker: int
    generation: int
    handle: int


class RayEnvFactory:
    """K Ray env workers and the ``make_env`` that places new envs on them (module docstring)."""

    def __init__(
        self,
        env_name: str,
        env_kwargs: dict[str, Any] | None = None,
        workers: int = 2,
        *,
        fork_placement: str = "same",
        call_timeout: float = 300.0,
        start_timeout: float = 120.0,
        cpus_per_worker: float = 1.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if fork_placement not in FORK_PLACEMENTS:
            raise ValueError(f"fork_placement must be one of {FORK_PLACEMENTS}, got {fork_placement!r}")
        if call_timeout <= 0 or start_timeout <= 0:
            raise ValueError("call_timeout and start_timeout must be > 0")
        ray = _ray()
        self.env_name = env_name
        self.env_kwargs = dict(env_kwargs or {})
        self.workers = workers
        self.fork_placement = fork_placement
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.cpus_per_worker = cpus_per_worker
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(num_cpus=math.ceil(workers * cpus_per_worker), num_gpus=0, include_dashboard=False,
                     log_to_driver=False, object_store_memory=OBJECT_STORE_BYTES)
        self._host_class = ray.remote(EnvHost).options(num_cpus=cpus_per_worker, max_concurrency=1)
        self._lock = threading.Lock()
        self._generations = [0] * workers
        self._open = [0] * workers
        self._closed = False
        self._started = False
        self._actors: list[Any] = []
        try:
            self._actors = [self._start_actor() for _ in range(workers)]
            self._wait_ready()
            self._started = True
        except BaseException:
            self.close()
            raise

    # ---- workers --------------------------------------------------------------------------
    def _start_actor(self) -> Any:
        return self._host_class.remote(self.env_name, self.env_kwargs)

    def _wait_ready(self) -> None:
        ray = _ray()
        try:
            ray.get([actor.open_envs.remote() for actor in self._actors], timeout=self.start_timeout)
        except ray.exceptions.GetTimeoutError:
            raise EnvError(
                f"{self.workers} Ray env workers for {self.env_name!r} did not start within "
                f"{self.start_timeout:.0f}s; each needs {self.cpus_per_worker} CPU and the cluster has "
                f"{ray.available_resources().get('CPU', 0)} CPU free of {ray.cluster_resources().get('CPU', 0)}: "
                f"lower --workers or give Ray more CPUs"
            ) from None

    def _replace(self, worker: int, generation: int) -> None:
        """Swap a dead or hung worker for a fresh one (once, however many callers saw it fail)."""
        ray = _ray()
        with self._lock:
            if self._closed or self._generations[worker] != generation:
                return
            old = self._actors[worker]
            self._generations[worker] += 1
            self._open[worker] = 0
            self._actors[worker] = self._start_actor()
        ray.kill(old, no_restart=True)

    def call(self, address: EnvAddress, method: str, *args: Any) -> Any:
        """``EnvHost.<method>(address.handle, *args)`` on the env's worker, within ``call_timeout``."""
        return self._call_worker(address.worker, address.generation, method, address.handle, *args)

    def _call_worker(self, worker: int, generation: int, method: str, *args: Any) -> Any:
        ray = _ray()
        with self._lock:
            if self._closed:
                raise EnvError(f"the Ray env workers for {self.env_name!r} are closed")
            if self._generations[worker] != generation:
                raise WorkerLostError(f"Ray env worker {worker} was replaced; its envs are gone")
            actor = self._actors[worker]
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError)
        try:
            return ray.get(getattr(actor, method).remote(*args), timeout=self.call_timeout)
        except ray.exceptions.GetTimeoutError:
            self._replace(worker, generation)
            raise EnvError(
                f"Ray env worker {worker} ({self.env_name}) did not answer {method} within "
                f"{self.call_timeout:.0f}s; the worker was replaced (raise worker_timeout if the env is slow)"
            ) from None
        except lost as error:
            self._replace(worker, generation)
            raise WorkerLostError(
                f"Ray env worker {worker} ({self.env_name}) died during {method}: {type(error).__name__}"
            ) from error

    def _current(self, worker: int) -> int:
        with self._lock:
            return self._generations[worker]

    def _least_loaded(self, preferred: int | None = None) -> int:
        with self._lock:
            order = sorted(range(self.workers), key=lambda w: (self._open[w], w != preferred, w))
        return order[0]

    def _opened(self, worker: int, generation: int, handle: int) -> EnvAddress:
        with self._lock:
            if self._generations[worker] == generation:
                self._open[worker] += 1
        return EnvAddress(worker, generation, handle)

    def load(self) -> list[int]:
        """Open envs per worker, as the factory counts them."""
        with self._lock:
            return list(self._open)

    # ---- envs -----------------------------------------------------------------------------
    def new_env(self) -> RemoteEnv:
        """A fresh, un-reset env on the least-loaded worker."""
        worker = self._least_loaded()
        generation = self._current(worker)
        handle, max_steps = self._call_worker(worker, generation, "create")
        return RemoteEnv(self, self._opened(worker, generation, handle), self.env_name, max_steps)

    def __call__(self, task: Task) -> RemoteEnv:
        """``make_env`` for ``spark_rollout``: a fresh env for ``task`` (the rollout resets it)."""
        return self.new_env()

    def replay_on(self, worker: int, task: Task, actions: Sequence[str], max_steps: int) -> EnvAddress:
        """Build an env on ``worker`` at the state ``actions`` reach from ``task``'s start."""
        generation = self._current(worker)
        handle = self._call_worker(worker, generation, "replay", task, list(actions), max_steps)
        return self._opened(worker, generation, handle)

    def rebuild(self, task: Task | None, actions: Sequence[str], max_steps: int) -> EnvAddress:
        """A replacement for an env whose worker was lost, on the least-loaded worker."""
        worker = self._least_loaded()
        if task is None:
            generation = self._current(worker)
            handle, _ = self._call_worker(worker, generation, "create")
            return self._opened(worker, generation, handle)
        return self.replay_on(worker, task, actions, max_steps)

    def fork(self, address: EnvAddress, task: Task, actions: Sequence[str], max_steps: int) -> EnvAddress:
        """Where a fork of the env at ``address`` goes, and the copy made there."""
        if self.fork_placement == "same":
            target = address.worker
        else:
            target = self._least_loaded(preferred=address.worker)
        if target == address.worker:
            return self._opened(address.worker, address.generation, self.call(address, "fork"))
        return self.replay_on(target, task, actions, max_steps)

    def release(self, address: EnvAddress) -> None:
        """Close the env at ``address``; an env whose worker (or factory) is gone has nothing
        left to free."""
        if self._closed:
            return
        try:
            self.call(address, "close")
        except WorkerLostError:
            return
        with self._lock:
            if self._generations[address.worker] == address.generation:
                self._open[address.worker] -= 1

    # ---- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close every env, stop the workers and, if this factory started Ray, stop Ray."""
        ray = _ray()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            actors, self._actors = self._actors, []
        if actors and self._started:
            # Envs own child processes (JVMs): let them close before their worker is killed.
            try:
                ray.wait([actor.close_all.remote() for actor in actors], num_returns=len(actors),
                         timeout=min(self.call_timeout, 30.0))
            finally:
                for actor in actors:
                    ray.kill(actor, no_restart=True)
        if self._owns_ray:
            ray.shutdown()

    def __enter__(self) -> RayEnvFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteEnv(TextEnv):
    """A ``TextEnv`` whose game runs on a Ray env worker. The contract's bookkeeping (task,
    action prefix, truncation, refusing a finished episode) stays here in the base class; the
    prefix it keeps is also what rebuilds the env if its worker dies."""

    def __init__(self, factory: RayEnvFactory, address: EnvAddress, env_name: str, max_steps: int) -> None:
        super().__init__(max_steps=max_steps)
        self.name = env_name
        self._factory = factory
        self._address = address
        self._closed = False

    @property
    def address(self) -> EnvAddress:
        """The worker and handle this env lives at now."""
        return self._address

    def _recovering(self, operation: Callable[[EnvAddress], T]) -> T:
        try:
            return operation(self._address)
        except WorkerLostError:
            self._address = self._factory.rebuild(self.task, self.actions, self.max_steps)
            return operation(self._address)

    def tasks(self, split: str) -> list[Task]:
        return self._recovering(lambda address: self._factory.call(address, "tasks", split))

    def _reset(self, task: Task) -> Observation:
        return self._recovering(lambda address: self._factory.call(address, "reset", task, self.max_steps))

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        result: StepResult = self._recovering(
            lambda address: self._factory.call(address, "step", action, self.max_steps)
        )
        return result.observation, result.reward, result.terminated, result.won, result.info

    def spawn(self) -> RemoteEnv:
        env = self._factory.new_env()
        env.max_steps = self.max_steps
        return env

    def fork(self) -> RemoteEnv:
        if self.task is None:
            raise RuntimeError("fork() called before reset()")
        task = self.task
        address = self._recovering(
            lambda source: self._factory.fork(source, task, self.actions, self.max_steps)
        )
        clone = RemoteEnv(self._factory, address, self.name, self.max_steps)
        clone.task, clone.actions, clone.done = self.task, list(self.actions), self.done
        return clone

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._factory.release(self._address)
