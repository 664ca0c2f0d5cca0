"""Every way a `sparkrl train` config can be wrong is rejected before any compute, with a
`ConfigError` that names the field's full path and what it allows."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from sparkrl import cli
from sparkrl.config import ConfigError, from_dict, load_yaml
from sparkrl.train.config import TrainConfig

CASES = [
    # unknown keys, at every nesting level
    ({"iteratons": 3}, r"^iteratons: unknown key; known keys of TrainConfig: .*iterations"),
    ({"rollout": {"num_leafs": 8}}, r"^rollout\.num_leafs: unknown key; known keys of rollout\.: .*num_leaves"),
    ({"optim": {"learning_rate": 1e-4}}, r"^optim\.learning_rate: unknown key; .*\blr\b"),
    ({"loss": {"clip": 0.2}}, r"^loss\.clip: unknown key"),
    ({"advantage": {"epsilon": 1e-6}}, r"^advantage\.epsilon: unknown key; .*\beps\b"),
    ({"cold_start": {"enable": False}}, r"^cold_start\.enable: unknown key; .*enabled"),
    ({"eval": {"game": 3}}, r"^eval\.game: unknown key; .*games"),
    ({1: 2}, r"^1: unknown key"),
    # wrong types (with the allowed range when the field has one)
    ({"iterations": "3"}, r"^iterations: expected int in \[0, inf\], got '3'"),
    ({"iterations": 2.5}, r"^iterations: expected int in \[0, inf\], got 2\.5"),
    ({"iterations": True}, r"^iterations: expected int"),
    ({"seed": None}, r"^seed: expected int in \[0, inf\], got None"),
    ({"optim": {"lr": "fast"}}, r"^optim\.lr: expected float in \[0\.0, inf\], got 'fast'"),
    ({"rollout": {"pad_to_budget": "yes"}}, r"^rollout\.pad_to_budget: expected bool, got 'yes'"),
    ({"eval": {"splits": "L0"}}, r"^eval\.splits: expected tuple\[str, \.\.\.\], got 'L0'"),
    ({"rollout": 8}, r"^rollout: expected a mapping of RolloutConfig keys"),
    ({"cold_start": {"enabled": "no"}}, r"^cold_start\.enabled: expected bool"),
    # out of range / not allowed
    ({"optim": {"lr": -1e-4}}, r"^optim\.lr: -0\.0001 is out of range \[0\.0, inf\]"),
    ({"optim": {"lr": float("nan")}}, r"^optim\.lr: nan is not a finite number; allowed range \[0\.0, inf\]"),
    ({"optim": {"grad_clip": float("inf")}}, r"^optim\.grad_clip: inf is not a finite number"),
    ({"optim": {"max_nonfinite_updates": 0}}, r"^optim\.max_nonfinite_updates: 0 is out of range \[1, inf\]"),
    ({"optim": {"micro_batch_tokens": 8}}, r"^optim\.micro_batch_tokens: 8 is out of range \[64, inf\]"),
    ({"tasks_per_iteration": 0}, r"^tasks_per_iteration: 0 is out of range \[1, inf\]"),
    ({"iterations": -1}, r"^iterations: -1 is out of range \[0, inf\]"),
    ({"rollout": {"top_p": 1.5}}, r"^rollout\.top_p: 1\.5 is out of range \[0\.0, 1\.0\]"),
    ({"rollout": {"trigger_probability": -0.1}}, r"^rollout\.trigger_probability: -0\.1 is out of range"),
    ({"rollout": {"env_workers": 0}}, r"^rollout\.env_workers: 0 is out of range \[1, inf\]"),
    ({"rollout": {"step_timeout_s": -1.0}}, r"^rollout\.step_timeout_s: -1\.0 is out of range \[0\.0, inf\]"),
    ({"rollout": {"env_retries": -1}}, r"^rollout\.env_retries: -1 is out of range \[0, inf\]"),
    ({"rollout": {"trigger": "random"}}, r"^rollout\.trigger: 'random' is not allowed; choose one of explore"),
    ({"algo": "ppo"}, r"^algo: 'ppo' is not allowed; choose one of spark, grpo"),
    ({"estimator": "gae"}, r"^estimator: 'gae' is not allowed"),
    ({"eval": {"splits": ["L0", "L9"]}}, r"^eval\.splits: 'L9' is not a split; choose from train, L0, L1, L2"),
    ({"loss": {"clip_eps": -0.2}}, r"^loss\.clip_eps: -0\.2 is out of range"),
    ({"cold_start": {"lr": -3e-3}}, r"^cold_start\.lr: -0\.003 is out of range \[0\.0, inf\]"),
    # impossible combinations
    ({"rollout": {"num_roots": 9, "num_leaves": 8}}, r"^rollout\.num_roots: M=9 must be <= num_leaves N=8"),
    ({"rollout": {"branch_factor": 1}}, r"^rollout\.branch_factor: B=1 must be >= 2 when trigger 'explore'"),
    ({"rollout": {"branch_factor": 1, "trigger": "fixed"}}, r"^rollout\.branch_factor: B=1 must be >= 2"),
]


@pytest.mark.parametrize(("data", "message"), CASES, ids=[message.split(":")[0].strip("^\\") for _, message in CASES])
def test_bad_config_is_rejected_naming_the_field_and_what_it_allows(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(TrainConfig, data)


def test_the_same_errors_come_from_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rollout:\n  num_leaves: 4\n  num_roots: 6\n")
    with pytest.raises(ConfigError, match=r"^rollout\.num_roots: M=6 must be <= num_leaves N=4"):
        load_yaml(TrainConfig, path)
    path.write_text("optim:\n  lr: .nan\n")
    with pytest.raises(ConfigError, match=r"^optim\.lr: nan is not a finite number"):
        load_yaml(TrainConfig, path)


def test_valid_edge_values_are_accepted():
    config = from_dict(TrainConfig, {
        "iterations": 0, "optim": {"lr": 0.0}, "eval": {"splits": []},
        "rollout": {"num_roots": 8, "num_leaves": 8, "branch_factor": 1, "env_workers": 4, "step_timeout_s": 2.5},
    })
    assert config.rollout.num_roots == config.rollout.num_leaves == 8 and config.eval.splits == ()
    with pytest.raises(ConfigError, match=r"^num_roots: M=9"):
        dataclasses.replace(config.rollout, num_roots=9)


@pytest.mark.parametrize(("data", "message"), [CASES[1], CASES[9], CASES[17], CASES[-3], CASES[-2]])
def test_the_cli_rejects_a_bad_config_before_loading_any_model(tmp_path, monkeypatch, capsys, data, message):
    def no_compute(*args, **kwargs):
        raise AssertionError("compute started before the config was validated")

    monkeypatch.setattr("sparkrl.models.loading.load", no_compute)
    monkeypatch.setattr("sparkrl.train.rl.train", no_compute)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sparkrl train: bad config: ")
    assert message.lstrip("^").split(":")[0].replace("\\", "") in error
    assert not (tmp_path / "run").exists()
