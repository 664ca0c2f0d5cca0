"""Every experiment YAML under configs/ loads through TrainConfig and names its command."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkrl.config import load_yaml
from sparkrl.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def test_the_paper_and_cpu_configs_are_there():
    names = {str(path.relative_to(ROOT)) for path in CONFIGS}
    assert {"configs/smollm2-household.yaml", "configs/paper/alfworld-qwen2.5-1.5b.yaml",
            "configs/paper/scienceworld-qwen2.5-1.5b.yaml", "configs/paper/webshop-qwen2.5-1.5b.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(ROOT)))
def test_config_loads_and_its_header_is_the_command(path):
    config = load_yaml(TrainConfig, path)
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# sparkrl train ")
    if "--config " in header:
        assert header.split("--config ", 1)[1].split()[0] == str(path.relative_to(ROOT))
    if path.parent.name == "paper":
        assert config.model == "Qwen/Qwen2.5-1.5B-Instruct"
        assert (config.rollout.num_leaves, config.rollout.num_roots, config.rollout.branch_factor) == (8, 4, 2)
        assert (config.tasks_per_iteration, config.iterations, config.optim.lr) == (16, 120, 1e-6)
        assert (config.loss.kl_coef, config.rollout.history_window) == (0.01, 5)
