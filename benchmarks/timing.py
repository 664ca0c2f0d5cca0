"""Timing shared by the benchmark scripts."""

from __future__ import annotations

import time


class Timer:
    """Wall and CPU seconds of a block (CPU seconds stay meaningful on a busy shared machine)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu
