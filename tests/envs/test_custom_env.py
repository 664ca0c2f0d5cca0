"""A user's own env (examples/custom_env.py) plugs in by import path or by register()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkrl.envs import make, register
from sparkrl.envs.checker import check_env
from sparkrl.envs.registry import UnknownEnvError, env_label

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_env.py"
SPEC = f"{EXAMPLE}:LockerRoom"


def test_an_import_path_env_passes_the_checker_and_its_expert_wins():
    with make(SPEC) as env:
        assert env.name == "lockers"
        report = check_env(env, games=10, seed=0)
    assert report.ok, [str(f) for f in report.failures]
    assert report.expert_wins == report.games == 40


def test_register_gives_the_same_env_under_a_short_name():
    from_path = make(SPEC)
    register("lockers-test", type(from_path), overwrite=True)
    env = make("lockers-test", max_steps=7)
    assert type(env) is type(from_path) and env.max_steps == 7
    task = env.tasks("L1")[0]
    assert env.reset(task).text == from_path.reset(task).text


@pytest.mark.parametrize("spec, message", [
    ("no_such_package.envs:Env", "cannot import 'no_such_package.envs'"),
    (f"{EXAMPLE}:NoSuchEnv", "has no 'NoSuchEnv'"),
    ("/nonexistent/env.py:Env", "no file /nonexistent/env.py"),
])
def test_a_bad_import_path_names_what_is_missing(spec, message):
    with pytest.raises(UnknownEnvError, match=message):
        make(spec)


def test_the_cli_trains_the_example_env_from_its_path(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "SPARKRL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "sparkrl", "train", "--env", SPEC, "--preset", "smoke",
                             "--run-dir", str(run_dir)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["after"]) == {"L0", "L1", "L2"}
    assert any(p.name.startswith(env_label(SPEC)) for p in (tmp_path / "cache" / "sft").iterdir())
