"""ScienceWorld adapter on the real simulator (JVMs): splits, rewards, forks, pooled backends,
JVM death, the expert. Skipped when ``scienceworld`` or ``java`` is missing."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

pytest.importorskip("scienceworld")
if shutil.which("java") is None:
    pytest.skip("ScienceWorld needs java on PATH", allow_module_level=True)

from sparkrl.envs import EnvError, Observation, Task, make  # noqa: E402
from sparkrl.envs.checker import check_env  # noqa: E402
from sparkrl.envs.scienceworld import (  # noqa: E402
    HELD_OUT_TYPES,
    SEEN_TYPES,
    TASK_TYPES,
    BackendPool,
    GoldExpert,
    ScienceWorldEnv,
    catalog,
    variation_table,
)

SHORT_GOLD_GAMES = ("lifespan-longest-lived/0", "find-living-thing/0", "power-component/0")


def game(task_id: str) -> Task:
    return Task("scienceworld", task_id, "L0", task_id.split("/")[0])


@pytest.fixture(scope="module")
def pool():
    with BackendPool(max_backends=2) as shared:
        yield shared


@pytest.fixture(scope="module")
def single_pool():
    with BackendPool(max_backends=1) as one:
        yield one


@pytest.fixture
def env(pool) -> ScienceWorldEnv:
    return ScienceWorldEnv(max_steps=30, pool=pool)


def trace(env: ScienceWorldEnv, task: Task, actions: list[str]) -> list[tuple]:
    """(text, admissible, reward, terminated, won) after the reset and each action."""
    observation = env.reset(task)
    rows = [(observation.text, tuple(observation.admissible_actions), 0.0, False, False)]
    return rows + [trace_step(env, action) for action in actions]


def trace_step(env: ScienceWorldEnv, action: str) -> tuple:
    """The same row as ``trace`` for one more action."""
    result = env.step(action)
    obs = result.observation
    return obs.text, tuple(obs.admissible_actions), result.reward, result.terminated, result.won


def test_registry_builds_the_env(pool):
    env = make("scienceworld", max_steps=12, pool=pool)
    assert isinstance(env, ScienceWorldEnv) and env.max_steps == 12 and env.simplifications == "easy"


def test_splits_are_disjoint_deterministic_and_cached_with_one_jvm(pool, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARKRL_CACHE", str(tmp_path))
    catalog._memo = None  # the table computed here stays memoised for the later tests
    launches = pool.stats.launches
    env = ScienceWorldEnv(pool=pool)
    splits = {split: env.tasks(split) for split in ("train", "L0", "L1", "L2")}
    assert pool.stats.launches - launches <= 1
    assert catalog.cache_path().exists()

    catalog._memo = None
    queries = pool.stats.queries
    assert [t.task_id for t in env.tasks("L1")] == [t.task_id for t in splits["L1"]]
    assert pool.stats.queries == queries and pool.stats.launches - launches <= 1

    ids = {split: {task.task_id for task in tasks} for split, tasks in splits.items()}
    for first in ids:
        for second in ids:
            if first < second:
                assert not ids[first] & ids[second], (first, second)
    assert {t.task_type for t in splits["L2"]} == set(HELD_OUT_TYPES)
    for split in ("train", "L0", "L1"):
        assert {t.task_type for t in splits[split]} == set(SEEN_TYPES)
    table = variation_table(pool)
    assert len(splits["L2"]) == sum(len(table[name]["test"]) for name in HELD_OUT_TYPES) == 549
    for task in splits["train"] + splits["L0"]:
        assert task.info["variation"] in table[task.task_type]["train"]
    for task in splits["L1"]:
        assert task.info["variation"] in table[task.task_type]["test"]
    order = [TASK_TYPES.index(t.task_type) for t in splits["L0"]]
    assert order == sorted(order)


@pytest.mark.parametrize("task_id", SHORT_GOLD_GAMES)
def test_gold_path_wins_with_sparse_reward(env, task_id):
    observation = env.reset(game(task_id))
    expert = env.expert()
    results = []
    while not env.done:
        step = expert.act(observation)
        results.append(env.step(step.action))
        observation = results[-1].observation
    assert results[-1].won and results[-1].terminated and results[-1].reward == 1.0
    assert results[-1].info["score"] == 100
    assert all(r.reward == 0.0 and not r.done for r in results[:-1])


def test_expert_marks_searching_steps_only(env):
    observation = env.reset(game("find-animal/0"))
    expert = env.expert()
    steps = []
    while not env.done:
        steps.append(expert.act(observation))
        observation = env.step(steps[-1].action).observation
    flags = [(step.action, step.is_search) for step in steps]
    # Exploring for an animal nobody has seen yet is a search, up to the look that shows one.
    assert flags[:5] == [
        ("open door to greenhouse", True), ("go to greenhouse", True),
        ("open door to outside", True), ("go to outside", True), ("look around", True),
    ]
    # Acting on what was seen never is; nor is heading for the kitchen the goal names.
    assert not any(flag for _, flag in flags[5:])
    assert ("go to kitchen", False) in flags


def test_expert_rules_on_written_observations():
    goal = "Your task is to make salt water. The recipe is in the kitchen."
    expert = GoldExpert(["go to hallway", "go to kitchen", "read recipe", "open fridge",
                         "look around", "pick up sodium chloride"])
    seen = ["You are in the bedroom.", "You move to the hallway.", "You move to the kitchen.",
            "The recipe reads: mix sodium chloride and water.", "The fridge is now open.",
            "In the kitchen you see: a jar of sodium chloride."]
    flags = [expert.act(Observation(text, [], goal)).is_search for text in seen]
    # Through the hallway to the named kitchen: directed. Read text is not sight, so the
    # fridge is searched; once the salt is in view, picking it up is not a search.
    assert flags == [False, False, False, True, True, False]
    with pytest.raises(RuntimeError, match="exhausted"):
        expert.act(Observation("more", [], goal))


def test_wrong_focus_is_a_terminal_failure(env):
    env.reset(game("lifespan-longest-lived/0"))
    result = env.step("focus on picture")
    assert result.terminated and not result.won and result.reward == 0.0
    assert result.info["score"] < 0


def test_unknown_and_ambiguous_actions_never_raise(env):
    env.reset(game("boil/0"))
    unknown = env.step("xyzzy frobnicate")
    assert unknown.observation.text == "No known action matches that input."
    assert not unknown.done and unknown.reward == 0.0
    env.step("teleport to kitchen")
    ambiguous = env.step("pick up substance")
    assert ambiguous.observation.text.startswith("Ambiguous request")
    assert ambiguous.observation.admissible_actions == ["0", "1"]
    assert env.step("1").observation.text.startswith("You move the")


def test_filtered_admissible_actions_are_a_subset_with_circuit_moves(pool):
    task = game("power-component/0")
    filtered = ScienceWorldEnv(pool=pool)
    everything = ScienceWorldEnv(pool=pool, admissible="all")
    shown = set(trace(filtered, task, ["teleport to workshop"])[-1][1])
    full = set(trace(everything, task, ["teleport to workshop"])[-1][1])
    assert shown < full and len(shown) < len(full) / 3
    assert any(a.startswith("connect black wire terminal") for a in shown)
    assert not any(a.startswith("connect air to") for a in shown)
    assert any(a.startswith("connect air to") for a in full)


def test_fork_is_lazy_exact_and_independent(env, pool):
    env.reset(game("boil/0"))
    for action in ("teleport to kitchen", "look around", "pick up thermometer"):
        env.step(action)
    before = pool.stats.reloads + pool.stats.replayed_steps + pool.stats.steps
    child = env.fork()
    assert pool.stats.reloads + pool.stats.replayed_steps + pool.stats.steps == before
    assert child.actions == env.actions and child.actions is not env.actions

    twin = env.fork()
    twin.step("teleport to bedroom")
    same_action = "open cupboard"
    assert trace_step(child, same_action) == trace_step(env, same_action)
    assert env.num_steps == 4 and twin.num_steps == 4 and twin.actions[-1] == "teleport to bedroom"


def test_checker_passes_with_fork_determinism(pool):
    env = ScienceWorldEnv(max_steps=8, pool=pool)
    report = check_env(env, games=1, seed=3, expert=False)
    assert report.ok, report.summary() + "\n" + "\n".join(map(str, report.failures))
    assert report.forks >= 4


def test_many_logical_envs_share_one_jvm_exactly(env, single_pool):
    plans = {
        "boil/0": ["teleport to kitchen", "look around", "open cupboard"],
        "find-living-thing/0": ["teleport to outside", "look around", "teleport to kitchen"],
        "chemistry-mix/0": ["look around", "teleport to kitchen", "pick up recipe"],
    }
    expected = {task_id: trace(env, game(task_id), plan) for task_id, plan in plans.items()}
    shared = {task_id: ScienceWorldEnv(pool=single_pool) for task_id in plans}
    got = {}
    for task_id, logical in shared.items():
        got[task_id] = trace(logical, game(task_id), [])
    reloads = single_pool.stats.reloads
    for depth in range(3):
        for task_id, logical in shared.items():
            got[task_id].append(trace_step(logical, plans[task_id][depth]))
    assert got == expected
    assert len(single_pool.pids) == 1 and single_pool.stats.reloads - reloads >= 6


def test_killed_jvm_is_restarted_and_the_episode_replayed(env, single_pool):
    actions = ["teleport to kitchen", "look around"]
    reference = trace(env, game("boil/0"), [*actions, "pick up thermometer"])
    victim = ScienceWorldEnv(pool=single_pool)
    victim.reset(game("boil/0"))
    for action in actions:
        victim.step(action)
    deaths, launches = single_pool.stats.deaths, single_pool.stats.launches
    os.kill(single_pool.pids[0], signal.SIGKILL)
    assert trace_step(victim, "pick up thermometer") == reference[-1]
    assert single_pool.stats.deaths == deaths + 1 and single_pool.stats.launches == launches + 1


def test_unstartable_jvm_raises_a_clear_env_error(tmp_path):
    with BackendPool(max_backends=1, java_path=str(tmp_path / "no-java")) as broken:
        env = ScienceWorldEnv(pool=broken)
        with pytest.raises(EnvError, match="could not start the ScienceWorld JVM"):
            env.reset(game("boil/0"))


def test_bad_configuration_and_task_ids_are_rejected(pool):
    with pytest.raises(ValueError, match="simplification"):
        ScienceWorldEnv(simplifications="easy,flyingAction", pool=pool)
    with pytest.raises(ValueError, match="admissible"):
        ScienceWorldEnv(admissible="some", pool=pool)
    env = ScienceWorldEnv(pool=pool)
    with pytest.raises(ValueError, match="task id"):
        env.reset(Task("scienceworld", "boil-3", "L0", "boil"))
    with pytest.raises(ValueError, match="electrical"):
        ScienceWorldEnv(simplifications="noElectricalAction", pool=pool).reset(game("power-component/0"))


@pytest.mark.slow
@pytest.mark.parametrize("task_name", TASK_TYPES)
def test_gold_paths_of_every_task_type_win_identically_on_two_pools(task_name, pool, single_pool):
    table = variation_table(pool)
    task = game(f"{task_name}/{table[task_name]['test'][0]}")
    runs = []
    for backends in (pool, single_pool):
        env = ScienceWorldEnv(max_steps=500, pool=backends)
        observation = env.reset(task)
        expert = env.expert()
        rows = [observation.text]
        result = None
        while not env.done:
            result = env.step(expert.act(observation).action)
            observation = result.observation
            rows.append((observation.text, tuple(observation.admissible_actions), result.reward))
        assert result is not None and result.won, (task.task_id, env.actions)
        runs.append(rows)
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_checker_passes_on_full_length_games(pool):
    report = check_env(ScienceWorldEnv(max_steps=30, pool=pool), games=3, seed=11, expert=False)
    assert report.ok, report.summary() + "\n" + "\n".join(map(str, report.failures))
