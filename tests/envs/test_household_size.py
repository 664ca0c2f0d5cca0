"""The household room-size knob: ``HouseholdEnv(size="small")`` / ``household-small`` plays the
same task ids in 6-12-receptacle rooms, and the full-size default is unchanged."""

from __future__ import annotations

from collections import Counter

import pytest

from sparkrl.envs import make
from sparkrl.envs.base import SPLITS
from sparkrl.envs.checker import check_env
from sparkrl.envs.household import (
    EXPERT_STEP_BUDGET,
    ROOM_SIZES,
    HouseholdEnv,
    expert_solves,
    generate_world,
    small_household,
)
from sparkrl.envs.household.catalog import (
    SMALL_COUNT_CAPS,
    SMALL_DEFAULT_CAP,
    SMALL_MAX_RECEPTACLES,
    SMALL_MIN_RECEPTACLES,
)
from sparkrl.envs.household.env import solvable_rules
from sparkrl.envs.household.world import LAMP, kind_of

# Recorded before the size knob existed: the full-size rooms must stay byte-identical.
FULL_BATHROOM_ID = "pick_and_place_simple-bathroom-s42-0"  # HouseholdEnv().tasks("train")[0]
FULL_BATHROOM = (
    "cabinet 5", "cabinet 4", "cabinet 3", "cabinet 2", "cabinet 1", "countertop 1", "garbagecan 1",
    "handtowelholder 1", "shelf 4", "shelf 3", "shelf 2", "shelf 1", "sinkbasin 1", "toilet 1",
    "toiletpaperhanger 1", "towelholder 1",
)
FULL_KITCHEN_ID = "pick_cool_then_place_in_recep-kitchen-s55-0"  # HouseholdEnv().tasks("L2")[0]
FULL_KITCHEN = tuple(
    [f"cabinet {n}" for n in range(9, 0, -1)] + ["coffeemachine 1"]
    + [f"countertop {n}" for n in range(3, 0, -1)] + [f"drawer {n}" for n in range(8, 0, -1)]
    + ["fridge 1", "garbagecan 1", "microwave 1", "sinkbasin 1"]
    + [f"stoveburner {n}" for n in range(4, 0, -1)] + ["toaster 1"]
)

# Appliances the task types need, by room kind.
NEEDED = {"kitchen": {"sinkbasin", "microwave", "fridge"}, "bathroom": {"sinkbasin"}}


@pytest.fixture(scope="module")
def small() -> HouseholdEnv:
    return HouseholdEnv(size="small")


def test_sizes_and_bad_size():
    assert ROOM_SIZES == ("full", "small")
    assert HouseholdEnv().size == "full"
    for build in (lambda: HouseholdEnv(size="tiny"), lambda: make("household", size="huge"),
                  lambda: generate_world(FULL_BATHROOM_ID, size="medium")):
        with pytest.raises(ValueError, match="full.*small"):
            build()


def test_registry_spawn_and_fork_keep_the_size():
    for built in (make("household-small", max_steps=30), make("household", size="small"), small_household()):
        assert isinstance(built, HouseholdEnv) and built.size == "small"
        assert built.name == "household-small" and built.max_steps == 30
    env = make("household-small", max_steps=17, split_sizes={"L1": 5})
    spawned = env.spawn()
    assert (spawned.size, spawned.name, spawned.max_steps, spawned.split_sizes) == (
        "small", "household-small", 17, env.split_sizes)
    env.reset(env.tasks("L1")[0])
    env.step("look")
    fork = env.fork()
    assert fork.size == "small" and fork._game.rules is env._game.rules
    assert make("household").name == "household" and HouseholdEnv.name == "household"


def test_tasks_are_labelled_with_the_env_name_and_not_mixed(small):
    full = HouseholdEnv()
    assert all(t.env == "household-small" for t in small.tasks("L0"))
    with pytest.raises(ValueError):  # a full-size task is another game
        small.reset(full.tasks("train")[0])
    with pytest.raises(ValueError):
        full.reset(small.tasks("train")[0])


def test_splits_have_the_same_task_ids_for_both_sizes(small):
    full = HouseholdEnv()
    for split in SPLITS:
        assert [(t.task_id, t.task_type, t.info) for t in small.tasks(split)] == [
            (t.task_id, t.task_type, t.info) for t in full.tasks(split)]
    resized = {"train": 40, "L0": 60}
    assert [t.task_id for t in HouseholdEnv(split_sizes=resized, size="small").tasks("L0")] == [
        t.task_id for t in HouseholdEnv(split_sizes=resized).tasks("L0")]


def test_full_size_is_unchanged():
    for task_id, receptacles in ((FULL_BATHROOM_ID, FULL_BATHROOM), (FULL_KITCHEN_ID, FULL_KITCHEN)):
        assert solvable_rules(task_id).world.receptacles == receptacles
        assert solvable_rules(task_id, "full").world == solvable_rules(task_id).world
        assert generate_world(task_id, 0, "full") == generate_world(task_id)
    assert HouseholdEnv().tasks("train")[0].task_id == FULL_BATHROOM_ID
    assert HouseholdEnv().tasks("L2")[0].task_id == FULL_KITCHEN_ID


def test_the_cache_keys_on_the_size():
    small_world = solvable_rules(FULL_KITCHEN_ID, "small").world
    assert solvable_rules(FULL_KITCHEN_ID).world.receptacles == FULL_KITCHEN
    assert solvable_rules(FULL_KITCHEN_ID, "small").world == small_world
    assert len(small_world.receptacles) <= SMALL_MAX_RECEPTACLES
    assert small_world == generate_world(FULL_KITCHEN_ID, 0, "small")


def test_small_rooms_have_the_documented_sizes(small):
    sizes = Counter()
    for split in SPLITS:
        for task in small.tasks(split, limit=200):
            world = solvable_rules(task.task_id, "small").world
            count = len(world.receptacles)
            assert SMALL_MIN_RECEPTACLES <= count <= SMALL_MAX_RECEPTACLES, task.task_id
            sizes[count] += 1
            per_kind = Counter(kind_of(name) for name in world.receptacles)
            assert all(n <= SMALL_COUNT_CAPS.get(k, SMALL_DEFAULT_CAP) for k, n in per_kind.items()), per_kind
            assert NEEDED.get(world.room, set()) <= set(per_kind), task.task_id
            if task.task_type == "look_at_obj_in_light":
                assert any(kind_of(obj) == LAMP for obj in world.objects)
            assert world.target_type in {kind_of(obj) for obj in world.objects}
    assert min(sizes) == SMALL_MIN_RECEPTACLES and max(sizes) == SMALL_MAX_RECEPTACLES


def test_same_layout_means_same_small_room(small):
    train = {t.info["layout"]: t for t in small.tasks("train")}
    for task in small.tasks("L0")[:20]:
        seen = solvable_rules(train[task.info["layout"]].task_id, "small").world
        assert seen.receptacles == solvable_rules(task.task_id, "small").world.receptacles


def test_expert_wins_every_small_game_within_the_budget(small):
    for split in SPLITS:
        for task in small.tasks(split, limit=100):
            observation = small.reset(task)
            expert, steps, result = small.expert(), 0, None
            while not small.done:
                result = small.step(expert.act(observation).action)
                observation = result.observation
                steps += 1
            assert result is not None and result.won, (task.task_id, small.actions)
            assert steps <= EXPERT_STEP_BUDGET
            assert expert_solves(solvable_rules(task.task_id, "small").world) == steps


def test_conformance_checker_passes_on_household_small():
    report = check_env(make("household-small"), games=5)
    assert report.ok, [str(f) for f in report.failures[:5]]
    assert report.env_name == "household-small"
    assert report.expert_wins == report.expert_games == 20


def test_cli_check_env_accepts_household_small(capsys):
    from sparkrl.cli import _check_env, build_parser

    args = build_parser().parse_args(["check-env", "household-small", "--games", "1"])
    assert _check_env(args) == 0
    assert "check-env household-small: PASS" in capsys.readouterr().out
