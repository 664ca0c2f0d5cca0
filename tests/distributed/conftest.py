"""One local Ray for every test here (started once: it costs seconds); the worker factories
under test find it running and reuse it instead of starting and stopping their own."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def local_ray():
    """4 logical CPUs: room for two factories of 2 workers at once; no GPU, no dashboard."""
    ray = pytest.importorskip("ray")
    from sparkrl.distributed.ray_envs import OBJECT_STORE_BYTES

    ray.init(num_cpus=4, num_gpus=0, include_dashboard=False, log_to_driver=False,
             object_store_memory=OBJECT_STORE_BYTES)
    yield
    ray.shutdown()
