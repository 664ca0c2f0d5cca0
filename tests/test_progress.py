"""Plain progress lines when output is not a terminal (cluster jobs, nohup)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from sparkrl.progress import Heartbeat


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_heartbeat_prints_at_most_once_per_interval_and_builds_text_lazily():
    clock, stream = Clock(), io.StringIO()
    heartbeat = Heartbeat("SFT", stream=stream, every_s=30.0, clock=clock)
    built = []
    for second in range(0, 95, 5):
        clock.now = float(second)
        heartbeat.beat(lambda: built.append(clock.now) or f"at {clock.now:.0f}")
    assert stream.getvalue().splitlines() == ["SFT: at 30 [30 s]", "SFT: at 60 [60 s]", "SFT: at 90 [90 s]"]
    assert built == [30.0, 60.0, 90.0]


def test_a_heartbeat_is_silent_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream, clock = Terminal(), Clock()
    heartbeat = Heartbeat("eval", stream=stream, every_s=0.0, clock=clock)
    clock.now = 100.0
    heartbeat.beat("step 1")
    assert stream.getvalue() == ""


CONFIG = """\
iterations: 1
tasks_per_iteration: 1
threads: 1
rollout: {num_leaves: 2, num_roots: 1, max_steps: 3, max_new_tokens: 16}
cold_start: {trajectories: 2, epochs: 1}
eval: {splits: [L0], games: 1, max_new_tokens: 16}
"""


def test_train_piped_to_a_file_reports_every_long_phase(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "SPARKRL_PROGRESS_EVERY": "0", "SPARKRL_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "sparkrl", "train", "--config", str(config),
                             "--run-dir", str(tmp_path / "run")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for phase in ("SFT: step 1/", "before-RL evaluation: step 1/3", "iter 1 rollout: step 1/3",
                  "after-RL evaluation: step 1/3"):
        assert any(line.startswith(phase) for line in lines), (phase, result.stdout)
