"""ALFWorld and ScienceWorld through Ray env workers: the same trees as in-process (slow)."""

from __future__ import annotations

import shutil

import pytest

ray = pytest.importorskip("ray")

from sparkrl.distributed.ray_envs import RayEnvFactory  # noqa: E402
from sparkrl.envs import make  # noqa: E402
from tests.distributed.scripted import rollout_trees  # noqa: E402
from tests.shared_data import ALFWORLD_ARCHIVES  # noqa: E402

pytestmark = pytest.mark.slow


def compare_with_workers(env_name: str, env_kwargs: dict, split: str, tasks: int) -> None:
    local = make(env_name, **env_kwargs)
    try:
        chosen = local.tasks(split)[:tasks]
        expected = rollout_trees(chosen, lambda task: local.spawn(), max_steps=env_kwargs["max_steps"])
    finally:
        local.close()
    with RayEnvFactory(env_name, env_kwargs, workers=2, call_timeout=300) as workers:
        assert rollout_trees(chosen, workers, max_steps=env_kwargs["max_steps"]) == expected
        assert workers.load() == [0, 0]


def test_alfworld_through_two_workers():
    pytest.importorskip("alfworld")
    if not (ALFWORLD_ARCHIVES / "valid_unseen.tar.gz").is_file():
        pytest.skip(f"ALFWorld archives not found in {ALFWORLD_ARCHIVES}")
    from sparkrl.envs.alfworld import prepare_alfworld_data
    from sparkrl.envs.alfworld import data as alfworld_data

    root = prepare_alfworld_data(ALFWORLD_ARCHIVES, alfworld_data.cache_dir() / "alfworld")
    compare_with_workers("alfworld", {"data": str(root), "max_steps": 6}, "L1", tasks=2)


def test_scienceworld_through_two_workers():
    pytest.importorskip("scienceworld")
    if shutil.which("java") is None:
        pytest.skip("ScienceWorld needs java on PATH")
    compare_with_workers("scienceworld", {"max_steps": 5}, "L0", tasks=2)
