"""Plain progress lines for logs.

Rich progress bars are drawn only on a terminal, so a run whose output goes to a file (a
cluster job, ``nohup``) would say nothing during a cold start or an evaluation that lasts
minutes. A ``Heartbeat`` prints one plain, flushed line at most every ``every_s`` seconds
while its phase runs, and only when the stream is not a terminal (where the bars already say
it). ``$SPARKRL_PROGRESS_EVERY`` sets the interval (default 30 s).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

PROGRESS_EVERY_ENV = "SPARKRL_PROGRESS_EVERY"
DEFAULT_EVERY_S = 30.0


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Heartbeat:
    """``beat(text)`` prints ``"<label>: <text> [<elapsed> s]"`` when ``every_s`` seconds have
    passed since the phase started or since the last line; ``text`` may be a callable, built
    only when a line is due."""

    def __init__(self, label: str, stream: TextIO | None = None, every_s: float | None = None,
                 enabled: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stdout
        self.every_s = float(os.environ.get(PROGRESS_EVERY_ENV, DEFAULT_EVERY_S)) if every_s is None else every_s
        self.enabled = not _is_terminal(self.stream) if enabled is None else enabled
        self._clock = clock
        self._started = self._last = clock()

    def beat(self, text: str | Callable[[], str]) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if now - self._last < self.every_s:
            return
        self._last = now
        message = text() if callable(text) else text
        print(f"{self.label}: {message} [{now - self._started:.0f} s]", file=self.stream, flush=True)

    def games(self, total: int, horizon: int) -> Callable[[int, int], None]:
        """An ``on_step`` callback for ``spark_rollout``: lock-steps done, trajectories playing."""
        return lambda steps, active: self.beat(lambda: f"step {steps}/{horizon}, {active} trajectories "
                                                       f"of {total} tasks still playing")
