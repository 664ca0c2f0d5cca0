"""The household env against the TextEnv contract: splits, determinism, truncation, rewards, forks."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from sparkrl.envs import make
from sparkrl.envs.base import SPLITS, UNKNOWN_ACTION_TEXT, Task, replay_fork
from sparkrl.envs.checker import check_env
from sparkrl.envs.household import HouseholdEnv, TaskKey, generate_world
from sparkrl.envs.household.catalog import MAX_RECEPTACLES, MIN_RECEPTACLES, SEEN_TASK_TYPES, TASK_TYPES
from sparkrl.envs.household.env import solvable_rules


@pytest.fixture(scope="module")
def env() -> HouseholdEnv:
    return HouseholdEnv()


def win(env: HouseholdEnv, task: Task):
    """Play the expert to the end; return the last step result."""
    observation = env.reset(task)
    expert = env.expert()
    result = None
    while not env.done:
        result = env.step(expert.act(observation).action)
        observation = result.observation
    return result


def test_registered_and_named():
    built = make("household", max_steps=12)
    assert isinstance(built, HouseholdEnv) and built.name == "household" and built.max_steps == 12


def test_default_split_sizes_and_limit(env):
    for split in SPLITS:
        tasks = env.tasks(split)
        assert len(tasks) >= 200
        assert all(t.split == split and t.env == "household" for t in tasks)
    assert len(env.tasks("train")) == 2000
    assert env.tasks("L1", limit=7) == env.tasks("L1")[:7]
    assert len(HouseholdEnv(split_sizes={"L2": 30}).tasks("L2")) == 30
    with pytest.raises(ValueError):
        env.tasks("test")
    with pytest.raises(ValueError):
        HouseholdEnv(split_sizes={"valid": 3})


def test_splits_are_disjoint_and_follow_the_type_rules(env):
    by_split = {split: env.tasks(split) for split in SPLITS}
    ids = [t.task_id for tasks in by_split.values() for t in tasks]
    assert len(ids) == len(set(ids))
    for split in ("train", "L0", "L1"):
        assert {t.task_type for t in by_split[split]} == set(SEEN_TASK_TYPES)
    assert {t.task_type for t in by_split["L2"]} == {"pick_cool_then_place_in_recep", "pick_two_obj_and_place"}
    assert set(TASK_TYPES) == set(SEEN_TASK_TYPES) | {t.task_type for t in by_split["L2"]}
    train_layouts = {t.info["layout"] for t in by_split["train"]}
    assert {t.info["layout"] for t in by_split["L0"]} <= train_layouts
    assert not {t.info["layout"] for t in by_split["L1"]} & train_layouts
    train_instances = {TaskKey.parse(t.task_id).instance for t in by_split["train"]}
    assert not {TaskKey.parse(t.task_id).instance for t in by_split["L0"]} & train_instances


def test_l0_reuses_the_layouts_of_a_smaller_train_split():
    small = HouseholdEnv(split_sizes={"train": 40, "L0": 60})
    assert {t.info["layout"] for t in small.tasks("L0")} <= {t.info["layout"] for t in small.tasks("train")}


def test_task_lists_and_games_are_deterministic(env):
    assert [t.task_id for t in env.tasks("L1")] == [t.task_id for t in HouseholdEnv().tasks("L1")]
    task = env.tasks("train")[5]
    first = env.reset(task)
    again = HouseholdEnv().reset(task)
    assert (first.text, first.admissible_actions, first.goal) == (again.text, again.admissible_actions, again.goal)
    assert generate_world(task.task_id) == generate_world(task.task_id)
    assert generate_world(task.task_id) != generate_world(env.tasks("train")[6].task_id)


def test_generation_does_not_depend_on_the_process_hash_seed(env):
    task_id = env.tasks("L2")[3].task_id
    code = f"from sparkrl.envs.household.env import solvable_rules; print(repr(solvable_rules({task_id!r}).world))"
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert outputs == {repr(solvable_rules(task_id).world) + "\n"}


def test_same_layout_means_same_room_and_different_instances_differ(env):
    train = {t.info["layout"]: t for t in env.tasks("train")}
    for task in env.tasks("L0")[:20]:
        seen = solvable_rules(train[task.info["layout"]].task_id).world
        unseen = solvable_rules(task.task_id).world
        assert seen.receptacles == unseen.receptacles
        assert (seen.objects, seen.object_locations) != (unseen.objects, unseen.object_locations)


def test_room_sizes_and_closed_targets(env):
    hidden_in_closed = 0
    games = [t for split in SPLITS for t in env.tasks(split, limit=100)]
    for task in games:
        world = solvable_rules(task.task_id).world
        assert MIN_RECEPTACLES <= len(world.receptacles) <= MAX_RECEPTACLES, task.task_id
        target_spots = {world.receptacles[spot] for name, spot in zip(world.objects, world.object_locations)
                        if name.rsplit(" ", 1)[0] == world.target_type}
        assert target_spots and not any(s.rsplit(" ", 1)[0] == world.goal_receptacle_type for s in target_spots)
        hidden_in_closed += any(s.split()[0] in {"cabinet", "drawer", "fridge", "microwave", "safe"}
                                for s in target_spots)
    assert hidden_in_closed > len(games) // 5


def test_bad_task_ids_are_refused(env):
    with pytest.raises(ValueError):
        env.reset(Task("household", "not-a-task", "train", "pick_and_place_simple"))
    with pytest.raises(ValueError):  # a bathroom has no microwave
        env.reset(Task("household", "pick_heat_then_place_in_recep-bathroom-s1-0", "train", "x"))
    with pytest.raises(ValueError):
        env.reset(Task("alfworld", env.tasks("train")[0].task_id, "train", "x"))


def test_unknown_actions_answer_nothing_happens(env):
    env.reset(env.tasks("train")[0])
    for action in ("dance", "", "go to the moon", "take everything", "<action>look</action>"):
        result = env.step(action)
        assert result.observation.text == UNKNOWN_ACTION_TEXT
        assert (result.reward, result.terminated, result.truncated) == (0.0, False, False)
    assert env.step(" LOOK ").observation.text.startswith("You are in the middle of a room.")


def test_truncation_at_max_steps():
    short = HouseholdEnv(max_steps=4)
    observation = short.reset(short.tasks("train")[1])
    results = [short.step("look") for _ in range(4)]
    assert [r.truncated for r in results] == [False, False, False, True]
    assert not any(r.terminated or r.reward for r in results) and short.done
    with pytest.raises(RuntimeError):
        short.step("look")
    assert observation.goal == results[-1].observation.goal


def test_reward_only_on_the_winning_step(env):
    task = env.tasks("train")[2]
    observation = env.reset(task)
    expert = env.expert()
    rewards = []
    while not env.done:
        result = env.step(expert.act(observation).action)
        observation = result.observation
        rewards.append(result.reward)
    assert rewards[-1] == 1.0 and set(rewards[:-1]) <= {0.0}
    assert result.won and result.terminated and not result.truncated


def test_fork_is_an_independent_snapshot():
    env = HouseholdEnv(max_steps=100)
    rng = random.Random(0)
    observation = env.reset(env.tasks("L1")[4])
    for _ in range(6):
        observation = env.step(rng.choice(observation.admissible_actions)).observation
    fork = env.fork()
    assert (fork.task, fork.actions, fork.done, fork.max_steps) == (env.task, env.actions, env.done, env.max_steps)
    assert fork.actions is not env.actions

    wandering = observation
    for _ in range(8):  # the fork wanders off; the parent must not notice
        wandering = fork.step(rng.choice(wandering.admissible_actions)).observation
    assert env.num_steps == 6

    twin, replayed = env.fork(), replay_fork(env)
    for _ in range(12):
        action = rng.choice(observation.admissible_actions)
        ours, theirs, reference = env.step(action), twin.step(action), replayed.step(action)
        assert ours == theirs == reference
        observation = ours.observation


def test_fork_before_reset_is_refused():
    with pytest.raises(RuntimeError):
        HouseholdEnv().fork()


def test_winning_forks_keep_the_parent_alive(env):
    task = env.tasks("train")[3]
    win(env, task)
    winning_actions = list(env.actions)
    env.reset(task)
    for action in winning_actions[:-1]:
        env.step(action)
    fork = env.fork()
    assert fork.step(winning_actions[-1]).won and fork.done
    assert not env.done and env.step(winning_actions[-1]).won


def test_conformance_checker_passes():
    report = check_env(HouseholdEnv(), games=50)
    assert report.ok, [str(f) for f in report.failures[:5]]
    assert report.expert_wins == report.expert_games == 200
