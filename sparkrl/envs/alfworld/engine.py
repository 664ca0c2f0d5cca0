"""Live TextWorld engines for ALFWorld games, reused instead of rebuilt.

TextWorld's ``PddlEnv`` repeats pure work: it translates the game's PDDL to the planner's SAS
format on every ``load`` *and* every ``reset`` (twice each time, plain and optimised), and
on every step it re-parses the same few dozen grammar templates (with TatSu) to word the
feedback and each admissible command. And every engine dlopens its own copy of the
fast-downward library. Three measures keep steps and forks cheap and memory bounded:

- the PDDL→SAS translation is memoised per game (a pure function of the game file);
- parsed grammar templates are memoised (a pure function of the template; each caller gets
  its own deep copy, as the derivation mutates symbols) — steps run about twice as fast;
- engines are pooled per process: an env that closes hands its engine back, and the next env
  that needs one takes it — preferably one that already holds the same game, so no load at all.

Engines are never unloaded: fast-downward's plugin registry is a GNU-unique symbol shared by
every loaded copy of the library, so ``dlclose`` of one copy leaves the others pointing into
unmapped code and the process crashes at exit. The pool therefore grows to the peak number of
envs alive at once (about 3 MB each) and stays there.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any

import fast_downward
import textworld.envs.pddl.textgen as textgen
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
from textworld import EnvInfos
from textworld.envs import PddlEnv

TRANSLATION_CACHE_GAMES = 64
"""Games whose PDDL translations stay memoised (about 3 MB each: two translated planning tasks)."""

_ENV_INFOS = EnvInfos(won=True, admissible_commands=True, extras=["walkthrough"])
_translate_pddl = fast_downward.pddl2sas
_parse_template = textgen._parse_and_convert
_patch_lock = threading.RLock()


@functools.lru_cache(maxsize=2 * TRANSLATION_CACHE_GAMES)
def _translation(domain: str, problem: str, optimize: bool) -> tuple[Any, str]:
    argv = sys.argv
    try:
        return _translate_pddl(domain, problem, optimize=optimize)
    finally:
        # The translator rewrites sys.argv for its own option parser; give the process its own back.
        sys.argv = argv


def _memoised_pddl2sas(
    domain: str, problem: str, verbose: bool = False, optimize: bool = False
) -> tuple[Any, str]:
    return _translation(domain, problem, optimize)


@functools.lru_cache(maxsize=4096)
def _parsed_template(text: str, rule_name: str, trace: bool) -> list[Any]:
    return _parse_template(text, rule_name=rule_name, trace=trace)


def _memoised_parse(text: str, rule_name: str = "start", trace: bool = False) -> list[Any]:
    return copy.deepcopy(_parsed_template(text, rule_name, trace))


@contextlib.contextmanager
def _memoised_textworld() -> Iterator[None]:
    """While active, TextWorld's PDDL translations and template parses hit the memos.

    TextWorld offers no hook to pass either in, so the two module attributes it calls are
    swapped for the duration of one load/reset/step and restored after. A translated task is
    only read afterwards, so engines may share it. Tests check that games played this way
    match plain TextWorld observation for observation.
    """
    with _patch_lock:
        fast_downward.pddl2sas, textgen._parse_and_convert = _memoised_pddl2sas, _memoised_parse
        try:
            yield
        finally:
            fast_downward.pddl2sas, textgen._parse_and_convert = _translate_pddl, _parse_template


class GameEngine:
    """One TextWorld PDDL environment (with its own planner library) playing one game."""

    def __init__(self) -> None:
        self._pddl = PddlEnv(_ENV_INFOS)
        self._env = AlfredDemangler(self._pddl, shuffle=False)
        self.game_file: str | None = None

    def load(self, game_file: str) -> None:
        """Load ``game_file``; ``reset`` must follow before ``step``."""
        self.game_file = None
        with _memoised_textworld():
            self._env.load(game_file)
        self.game_file = game_file

    def reset(self) -> dict[str, Any]:
        """Restart the loaded game; returns TextWorld's game state."""
        with _memoised_textworld():
            return self._env.reset()

    def step(self, command: str) -> dict[str, Any]:
        """Apply one admissible command; returns TextWorld's game state."""
        with _memoised_textworld():
            state, _, _ = self._env.step(command)
        return state


class EnginePool:
    """Process-wide idle engines, handed out by game so a fork usually skips the load."""

    def __init__(self) -> None:
        self._idle: list[GameEngine] = []
        self._lock = threading.Lock()

    def acquire(self, game_file: str) -> GameEngine:
        """An engine with ``game_file`` loaded (not yet reset)."""
        with self._lock:
            match = next((e for e in self._idle if e.game_file == game_file), None)
            engine = match or (self._idle[0] if self._idle else None)
            if engine is not None:
                self._idle.remove(engine)
        if engine is None:
            engine = GameEngine()
        if engine.game_file != game_file:
            try:
                engine.load(game_file)
            except Exception:
                self.release(engine)  # still a usable engine for the next game
                raise
        return engine

    def release(self, engine: GameEngine) -> None:
        """Take ``engine`` back for reuse by the next env that needs one."""
        with self._lock:
            self._idle.append(engine)

    def __len__(self) -> int:
        return len(self._idle)


ENGINES = EnginePool()
"""The pool every ``AlfWorldEnv`` of this process draws from."""
