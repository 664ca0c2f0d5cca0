import dataclasses

import pytest

from sparkrl.algos.losses import LossConfig
from sparkrl.config import ConfigError, describe, from_dict, load_yaml, to_dict
from sparkrl.rollout.spark import RolloutConfig


def test_defaults_round_trip_through_dict():
    config = RolloutConfig()
    assert from_dict(RolloutConfig, to_dict(config)) == config


@pytest.mark.parametrize(
    "data, message",
    [
        ({"num_leafs": 8}, "num_leafs: unknown key"),
        ({"num_leaves": "8"}, "num_leaves: expected"),
        ({"num_leaves": 8.5}, "num_leaves: expected"),
        ({"pad_to_budget": 1}, "pad_to_budget: expected"),
        ({"num_roots": 0}, r"num_roots: 0 is out of range \[1, inf\]"),
        ({"num_roots": 6, "num_leaves": 4}, "num_roots: M=6 must be <= num_leaves N=4"),
        ({"branch_factor": 1}, "branch_factor: B=1 must be >= 2"),
        ({"trigger": "random"}, "trigger: 'random' is not allowed; choose one of explore"),
        ({"top_p": 1.5}, r"top_p: 1.5 is out of range \[0.0, 1.0\]"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(RolloutConfig, data)


def test_branch_factor_one_is_fine_without_branching():
    assert RolloutConfig(branch_factor=1, trigger="none").branch_factor == 1
    assert RolloutConfig(branch_factor=1, num_roots=8).branch_factor == 1


def test_yaml_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clip_eps: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(LossConfig, bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_yaml(LossConfig, bad)
    good = tmp_path / "good.yaml"
    good.write_text("kl_coef: 0.0\n")
    assert load_yaml(LossConfig, good).kl_coef == 0.0


def test_every_field_has_help():
    for cls in (RolloutConfig, LossConfig):
        assert all(help_text for _, _, help_text in describe(cls))


def test_a_partial_nested_section_keeps_the_parent_fields_other_defaults():
    # TrainConfig's rollout default differs from RolloutConfig's class defaults (compact prompt,
    # constrained actions, 64 tokens); overriding one key must not silently reset the others.
    from sparkrl.train.config import TrainConfig

    default = from_dict(TrainConfig, {}).rollout
    tweaked = from_dict(TrainConfig, {"rollout": {"temperature": 0.6}}).rollout
    assert tweaked.temperature == 0.6
    assert dataclasses.replace(tweaked, temperature=default.temperature) == default
    assert default.prompt_style != RolloutConfig().prompt_style
