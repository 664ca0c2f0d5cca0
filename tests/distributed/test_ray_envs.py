"""Envs in Ray workers: same trees as in-process, contract, recovery, timeouts, EnvPool."""

from __future__ import annotations

import time

import pytest

ray = pytest.importorskip("ray")

from sparkrl.distributed.ray_envs import RayEnvFactory, RemoteEnv  # noqa: E402
from sparkrl.envs import EnvError, make  # noqa: E402
from sparkrl.envs.checker import check_env  # noqa: E402
from sparkrl.envs.pool import EnvPool  # noqa: E402
from tests.distributed.scripted import rollout_trees  # noqa: E402


def household_workers() -> RayEnvFactory:
    return RayEnvFactory("household", {"max_steps": 12}, workers=2, call_timeout=60)


@pytest.fixture(scope="module")
def factory():
    """Shared by the tests that leave the workers as they found them."""
    with household_workers() as workers:
        yield workers


@pytest.fixture
def own_factory():
    """For tests that kill or replace a worker."""
    with household_workers() as workers:
        yield workers


def run_rollout(make_env, seed=3):
    return rollout_trees(make("household").tasks("train")[:4], make_env, seed)


def test_workers_give_the_same_trees_as_in_process(factory):
    local = make("household", max_steps=12)
    expected = run_rollout(lambda task: local.spawn())
    assert any(node["branched"] for forest in expected for node in forest["nodes"])
    assert run_rollout(factory) == expected
    assert factory.load() == [0, 0]  # every env the rollout opened was closed
    with RayEnvFactory("household", {"max_steps": 12}, workers=2, fork_placement="least_loaded") as spread:
        assert run_rollout(spread) == expected


def test_remote_env_passes_the_env_contract_checker(factory):
    env = factory.new_env()
    report = check_env(env, games=2, splits=["train", "L2"], expert=False)
    env.close()
    assert report.ok, report.failures


def _wait_until_dead(actor, seconds: float = 30.0) -> None:
    """``ray.kill`` is asynchronous: a call queued just after it may still be answered."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            ray.get(actor.open_envs.remote(), timeout=seconds)
        except ray.exceptions.RayActorError:
            return
        assert time.monotonic() < deadline, "the killed worker still answers"
        time.sleep(0.1)


def test_killed_worker_is_replaced_and_its_envs_rebuilt_by_replay(own_factory):
    factory = own_factory
    local = make("household", max_steps=12)
    task = local.tasks("train")[5]
    remote = factory(task)
    local.reset(task)
    observation = remote.reset(task)
    for _ in range(3):
        action = observation.admissible_actions[-1]
        observation = remote.step(action).observation
        assert observation == local.step(action).observation
    child = remote.fork()
    old_address = remote.address
    assert child.address.worker == old_address.worker  # fork_placement="same"
    actor = factory._actors[old_address.worker]
    ray.kill(actor, no_restart=True)
    _wait_until_dead(actor)

    action = observation.admissible_actions[0]
    expected = local.fork().step(action)
    assert child.step(action) == expected  # rebuilt on a live worker by replaying its prefix
    assert remote.step(action) == expected
    assert remote.address != old_address and sum(factory.load()) == 2
    remote.close()
    child.close()


def test_a_call_past_its_timeout_is_a_clear_error(own_factory):
    factory = own_factory
    env = factory.new_env()
    env.reset(env.tasks("train")[0])
    factory.call_timeout = 1e-6
    with pytest.raises(EnvError, match=r"did not answer (step|reset) within"):
        for _ in range(20):  # a ray round trip takes far longer than a microsecond
            env.reset(env.tasks("train")[0]) if env.done else env.step("look")


def test_workers_that_cannot_be_scheduled_time_out_naming_the_resources():
    with pytest.raises(EnvError, match="did not start within 3s; each needs 8 CPU"):
        RayEnvFactory("household", {}, workers=2, cpus_per_worker=8, start_timeout=3)


def test_env_pool_steps_remote_envs_in_parallel_in_order(factory):
    tasks = make("household").tasks("train")[:4]
    before = factory.load()
    envs = [factory(task) for task in tasks]
    with EnvPool(max_workers=4) as pool:
        observations = [call.get() for call in pool.reset(list(zip(envs, tasks)), raise_errors=True)]
        results = pool.step([(env, "look") for env in envs], raise_errors=True)
    local = [make("household", max_steps=12) for _ in tasks]
    assert observations == [env.reset(task) for env, task in zip(local, tasks)]
    assert [call.get() for call in results] == [env.step("look") for env in local]
    assert all(isinstance(env, RemoteEnv) for env in envs)
    assert sum(factory.load()) == sum(before) + 4
    for env in envs:
        env.close()
    assert factory.load() == before
