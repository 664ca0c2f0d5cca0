"""Physical ScienceWorld backends: JVMs shared by many logical envs through a bounded pool.

A ScienceWorld game lives in a JVM (the simulator is Scala, reached over py4j). One JVM per
logical env would not scale: Spark keeps up to N=8 leaves per task alive across many tasks, and
a JVM costs ~0.5 GB even with the tuned options below. So a logical env is only a
(game, action history) pair; ``BackendPool`` brings some JVM to exactly that state when the env
needs to step, reusing the JVM that already holds the state (or a prefix of it) when it can and
otherwise reloading the game and replaying the history.

Replay is exact because, with the JVM options below, the simulator is a deterministic function
of the sequence of calls made since ``load``:

- ``-XX:hashCode=2`` makes every identity hash code equal, so the simulator's hash sets (room
  and container contents, ambiguity choices, valid-action lists) iterate in insertion order
  instead of an order that changes between JVMs and between runs in one JVM;
- querying the valid actions advances the simulator's random state (a flower wilts a tick
  earlier or later), so every state transition here makes the same calls in the same order
  (step, score, completed, valid actions) whether it is played live or replayed.

``-XX:+UseSerialGC`` with a 512 MB heap cap brings a JVM from ~1.4 GB to ~0.5 GB resident and
steps slightly faster on small machines.

A JVM that hangs without dying (stopped, deadlocked, swapping) would block its py4j call
forever: every call carries a watchdog that kills the JVM after its time limit (``step_timeout_s``
for a step, the longer ``load_timeout_s`` for starting the JVM, loading a game or querying
metadata), which makes py4j raise, so the pool treats the hang like a death — a fresh JVM and an
exact replay.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
from py4j.protocol import Py4JError
from scienceworld.constants import BASEPATH, JAR_PATH

from sparkrl.envs.base import EnvError

T = TypeVar("T")

JVM_OPTIONS: tuple[str, ...] = (
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:hashCode=2",
    "-XX:+UseSerialGC",
)
LOOK_AROUND = "look around"
DEFAULT_STEP_TIMEOUT_S = 30.0
"""Longest one step may take before its JVM counts as hung (a step takes 0.01-1 s)."""
DEFAULT_LOAD_TIMEOUT_S = 300.0
"""Longest a JVM start, game load or metadata query may take (each takes 0.5-5 s)."""


class Game(NamedTuple):
    """What ``load`` needs to start one ScienceWorld game."""

    task_name: str
    variation: int
    simplifications: str


@dataclass(frozen=True)
class Outcome:
    """The simulator's answer after one state transition."""

    text: str
    score: int
    completed: bool
    valid_json: str
    goal: str


class BackendDied(Exception):
    """A JVM stopped answering (killed, crashed) or could not be started."""


class JvmBackend:
    """One ScienceWorld JVM and the (game, history) state it currently holds. A step that takes
    longer than ``step_timeout_s``, or any other call longer than ``load_timeout_s`` (0 = no
    limit), kills the JVM and raises ``BackendDied``."""

    def __init__(self, heap_mb: int, java_path: str, step_timeout_s: float = 0.0,
                 load_timeout_s: float = 0.0) -> None:
        self.step_timeout_s, self.load_timeout_s = step_timeout_s, load_timeout_s
        options = [*JVM_OPTIONS, f"-Xmx{heap_mb}m"]
        try:
            port, process = launch_gateway(
                classpath=JAR_PATH, javaopts=options, die_on_exit=True, cwd=BASEPATH,
                return_proc=True, java_path=java_path,
            )
        except (OSError, ValueError, Py4JError) as error:
            raise BackendDied(f"could not start the ScienceWorld JVM with {java_path!r}: {error}") from error
        self._process = process
        self._gateway = JavaGateway(
            gateway_parameters=GatewayParameters(port=port, auto_field=True), java_process=process
        )
        try:
            self._server = self._call(
                lambda: self._gateway.jvm.scienceworld.runtime.pythonapi.PythonInterface()
            )
        except BackendDied:
            self.close()
            raise
        self.game: Game | None = None
        self.history: list[str] = []
        self.last: Outcome | None = None
        self.last_used = 0

    @property
    def pid(self) -> int:
        """The JVM's process id."""
        return self._process.pid

    def _call(self, fn: Callable[[], T], timeout_s: float | None = None) -> T:
        """``fn()``, its py4j failure turned into ``BackendDied``; the JVM is killed when the call
        runs past ``timeout_s`` (default: ``load_timeout_s``)."""
        timeout_s = self.load_timeout_s if timeout_s is None else timeout_s
        hung = threading.Event()

        def kill_hung_jvm() -> None:
            hung.set()
            self._process.kill()

        watchdog = threading.Timer(timeout_s, kill_hung_jvm) if timeout_s > 0 else None
        if watchdog is not None:
            watchdog.daemon = True
            watchdog.start()
        try:
            return fn()
        except Py4JError as error:
            if hung.is_set():
                state = f"did not answer within {timeout_s:g} s and was killed"
            else:
                state = "exited" if self._process.poll() is not None else "alive but failing"
            raise BackendDied(f"ScienceWorld JVM (pid {self.pid}) {state}: {error}") from error
        finally:
            if watchdog is not None:
                watchdog.cancel()

    def replay_cost(self, game: Game, history: Sequence[str]) -> int | None:
        """Steps needed to reach ``history`` from the held state; None when a reload is needed."""
        held = len(self.history)
        if self.game != game or held > len(history) or list(history[:held]) != self.history:
            return None
        return len(history) - held

    def _read(self, text: str, goal: str) -> Outcome:
        server = self._server
        return Outcome(
            text=text,
            score=round(100 * server.getScore()),
            completed=bool(server.getCompleted()),
            valid_json=server.getValidActionObjectCombinationsJSON(),
            goal=goal,
        )

    def _load(self, game: Game) -> None:
        self.game, self.history, self.last = None, [], None

        def load() -> Outcome:
            self._server.load(game.task_name, game.variation, game.simplifications, False)
            goal = self._server.getTaskDescription()
            return self._read(self._server.step(LOOK_AROUND), goal)

        self.last = self._call(load)
        self.game = game

    def apply(self, action: str) -> Outcome:
        """Play ``action`` from the held state."""
        if self.game is None or self.last is None:
            raise RuntimeError("apply() on a backend that holds no game")
        goal = self.last.goal
        self.last = self._call(lambda: self._read(self._server.step(action), goal), self.step_timeout_s)
        self.history.append(action)
        return self.last

    def sync(self, game: Game, history: Sequence[str]) -> tuple[Outcome, bool, int]:
        """Bring the JVM to ``game`` after ``history``: (outcome there, reloaded?, steps replayed)."""
        cost = self.replay_cost(game, history)
        reloaded = cost is None
        if reloaded:
            self._load(game)
        start = len(self.history)
        for action in history[start:]:
            self.apply(action)
        assert self.last is not None
        return self.last, reloaded, len(history) - start

    def gold_actions(self, game: Game) -> list[str]:
        """The simulator's gold action sequence for ``game``; forgets the held state."""
        self.game, self.history, self.last = None, [], None

        def gold() -> list[str]:
            self._server.load(game.task_name, game.variation, game.simplifications, True)
            return [str(action) for action in self._server.getGoldActionSequence()]

        return self._call(gold)

    def variation_splits(self, task_name: str) -> dict[str, list[int]]:
        """The simulator's train/dev/test variation indices of ``task_name``; forgets the state."""
        self.game, self.history, self.last = None, [], None

        def splits() -> dict[str, list[int]]:
            self._server.load(task_name, 0, "", False)
            return {
                "train": sorted(int(v) for v in self._server.getVariationsTrain()),
                "dev": sorted(int(v) for v in self._server.getVariationsDev()),
                "test": sorted(int(v) for v in self._server.getVariationsTest()),
            }

        return self._call(splits)

    def close(self) -> None:
        """Stop the JVM; safe to call on a dead one."""
        try:
            self._gateway.shutdown()
        except Py4JError:
            pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


@dataclass
class PoolStats:
    """Counters for tests and benchmarks. ``hits``: requests whose JVM already held the state;
    ``replayed_steps`` excludes the live step itself."""

    launches: int = 0
    deaths: int = 0
    reloads: int = 0
    replayed_steps: int = 0
    steps: int = 0
    hits: int = 0
    queries: int = 0


@dataclass
class _Slot:
    backend: JvmBackend
    busy: bool = field(default=False)


class BackendPool:
    """At most ``max_backends`` JVMs shared by any number of logical envs, thread-safe.

    A request for (game, history) takes, in order: an idle JVM already at that state or at a
    prefix of it (fewest steps to replay), an idle JVM holding no game, a new JVM while under
    the bound, the least recently used idle JVM (reload and replay); otherwise it waits. A JVM
    that dies is discarded and the request retried on another, up to ``max_restarts`` times,
    then ``EnvError`` is raised.
    """

    def __init__(
        self,
        max_backends: int = 2,
        *,
        heap_mb: int = 512,
        java_path: str = "java",
        max_restarts: int = 2,
        step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S,
        load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S,
    ) -> None:
        if max_backends < 1:
            raise ValueError(f"max_backends must be >= 1, got {max_backends}")
        if step_timeout_s < 0 or load_timeout_s < 0:
            raise ValueError(f"timeouts must be >= 0 (0 = none), got {step_timeout_s}, {load_timeout_s}")
        self.max_backends = max_backends
        self.step_timeout_s, self.load_timeout_s = step_timeout_s, load_timeout_s
        self.heap_mb = heap_mb
        self.java_path = java_path
        self.max_restarts = max_restarts
        self.stats = PoolStats()
        self._slots: list[_Slot] = []
        self._launching = 0
        self._clock = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False
        self._gold: dict[Game, list[str]] = {}

    @property
    def pids(self) -> list[int]:
        """Process ids of the live JVMs."""
        with self._cond:
            return [slot.backend.pid for slot in self._slots]

    def _acquire(self, game: Game | None, history: Sequence[str]) -> _Slot:
        with self._cond:
            while True:
                if self._closed:
                    raise EnvError("the ScienceWorld backend pool is closed")
                idle = [slot for slot in self._slots if not slot.busy]
                matching = [
                    (cost, -slot.backend.last_used, index, slot)
                    for index, slot in enumerate(idle)
                    if game is not None
                    and (cost := slot.backend.replay_cost(game, history)) is not None
                ]
                if matching:
                    chosen = min(matching)[3]
                    break
                blank = [slot for slot in idle if slot.backend.game is None]
                if blank:
                    chosen = blank[0]
                    break
                if len(self._slots) + self._launching < self.max_backends:
                    self._launching += 1
                    chosen = None
                    break
                if idle:
                    chosen = min(idle, key=lambda slot: slot.backend.last_used)
                    break
                self._cond.wait()
            if chosen is not None:
                chosen.busy = True
                return chosen
        try:
            backend = JvmBackend(self.heap_mb, self.java_path, self.step_timeout_s, self.load_timeout_s)
        finally:
            with self._cond:
                self._launching -= 1
                self._cond.notify_all()
        with self._cond:
            self.stats.launches += 1
            slot = _Slot(backend, busy=True)
            self._slots.append(slot)
            return slot

    def _release(self, slot: _Slot, *, dead: bool) -> None:
        with self._cond:
            if dead:
                if slot in self._slots:
                    self._slots.remove(slot)
                self.stats.deaths += 1
            else:
                slot.busy = False
                slot.backend.last_used = next(self._clock)
            self._cond.notify_all()
        if dead:
            slot.backend.close()

    def _run(self, what: str, game: Game | None, history: Sequence[str], job: Callable[[JvmBackend], T]) -> T:
        errors: list[str] = []
        for _ in range(self.max_restarts + 1):
            try:
                slot = self._acquire(game, history)
            except BackendDied as error:
                errors.append(str(error))
                continue
            dead = False
            try:
                return job(slot.backend)
            except BackendDied as error:
                dead = True
                errors.append(str(error))
            finally:
                self._release(slot, dead=dead)
        raise EnvError(
            f"ScienceWorld failed {len(errors)} times while trying to {what}; "
            f"last error: {errors[-1]}"
        )

    def _sync(self, backend: JvmBackend, game: Game, history: Sequence[str]) -> Outcome:
        outcome, reloaded, replayed = backend.sync(game, history)
        with self._cond:
            self.stats.reloads += int(reloaded)
            self.stats.replayed_steps += replayed
            self.stats.hits += int(not reloaded and not replayed)
        return outcome

    def observe(self, game: Game, history: Sequence[str]) -> Outcome:
        """The outcome of the last transition of ``game`` after ``history`` (the reset's if empty)."""
        return self._run(
            f"observe {game.task_name}/{game.variation} after {len(history)} steps",
            game, history, lambda backend: self._sync(backend, game, history),
        )

    def advance(self, game: Game, history: Sequence[str], action: str) -> Outcome:
        """Play ``action`` in ``game`` after ``history``."""

        def job(backend: JvmBackend) -> Outcome:
            self._sync(backend, game, history)
            outcome = backend.apply(action)
            with self._cond:
                self.stats.steps += 1
            return outcome

        return self._run(
            f"step {game.task_name}/{game.variation} at depth {len(history)}", game, history, job
        )

    def gold_actions(self, game: Game) -> list[str]:
        """The simulator's gold action sequence for ``game`` (memoised)."""
        with self._cond:
            if game in self._gold:
                return list(self._gold[game])
        actions = self._run(
            f"generate the gold path of {game.task_name}/{game.variation}", None, (),
            lambda backend: backend.gold_actions(game),
        )
        with self._cond:
            self._gold[game] = actions
        return list(actions)

    def query(self, what: str, job: Callable[[JvmBackend], T]) -> T:
        """Run a metadata ``job`` on any backend (it may forget the state it held)."""
        with self._cond:
            self.stats.queries += 1
        return self._run(what, None, (), job)

    def close(self) -> None:
        """Stop every JVM; the pool refuses further requests."""
        with self._cond:
            self._closed = True
            slots, self._slots = self._slots, []
            self._cond.notify_all()
        for slot in slots:
            slot.backend.close()

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
