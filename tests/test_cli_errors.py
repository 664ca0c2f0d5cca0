"""A user's typo gets one line naming the bad value and exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = [
    (["train", "--env", "nosuchenv"], "unknown env 'nosuchenv'; registered: "),
    (["train", "--model", "nosuch-model-xyz"], "cannot load model 'nosuch-model-xyz'"),
    (["train", "--resume", "/nonexistent/run"], "nothing to resume in '/nonexistent/run'"),
    (["check-env", "household", "--games", "-1"], "--games: must be >= 0, got -1"),
]


def run_cli(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "SPARKRL_CACHE": str(tmp_path / "cache"), **env}
    return subprocess.run([sys.executable, "-m", "sparkrl", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=environment, timeout=120)


@pytest.mark.parametrize("args, message", CASES, ids=lambda case: " ".join(case) if isinstance(case, list) else "")
def test_user_errors_are_one_line_with_exit_code_2(args, message, tmp_path):
    if args[0] == "train" and "--resume" not in args:
        args = [*args, "--run-dir", str(tmp_path / "run")]
    result = run_cli(args, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    if args[0] == "train":
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli(["train", "--env", "nosuchenv", "--run-dir", str(tmp_path / "run")], tmp_path, SPARKRL_DEBUG="1")
    assert result.returncode != 0 and "Traceback" in result.stderr and "UnknownEnvError" in result.stderr
