"""ALFWorld adapter on the real TextWorld games (no mocks).

Games come from the checkout's neighbouring ``shared/data/alfworld/*.tar.gz``, unpacked once
into sparkrl's cache; without them (or without the ``alfworld`` extra) everything skips.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("alfworld")
pytest.importorskip("fast_downward")
textworld = pytest.importorskip("textworld")

from alfworld.agents.environment.alfred_tw_env import AlfredDemangler  # noqa: E402

from sparkrl.envs import UNKNOWN_ACTION_TEXT, make  # noqa: E402
from sparkrl.envs.alfworld import (  # noqa: E402
    HELD_OUT_TYPES,
    SEEN_TYPES,
    AlfWorldEnv,
    find_alfworld_data,
    prepare_alfworld_data,
)
from sparkrl.envs.alfworld import data as alfworld_data  # noqa: E402
from sparkrl.envs.alfworld.expert import mentions, pending_targets  # noqa: E402
from sparkrl.envs.checker import check_env  # noqa: E402

ARCHIVES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "alfworld"


@pytest.fixture(scope="module")
def games_root() -> Path:
    if not (ARCHIVES / "valid_unseen.tar.gz").is_file():
        pytest.skip(f"ALFWorld archives not found in {ARCHIVES}")
    return prepare_alfworld_data(ARCHIVES, alfworld_data.cache_dir() / "alfworld")


@pytest.fixture(scope="module")
def env(games_root: Path) -> AlfWorldEnv:
    return AlfWorldEnv(data=games_root)


def one_per_type(env: AlfWorldEnv, per_type: int) -> list:
    by_type = defaultdict(list)
    for task in env.tasks("L1") + env.tasks("L2"):
        by_type[task.task_type].append(task)
    return [task for tasks in by_type.values() for task in tasks[:: len(tasks) // per_type][:per_type]]


# ---- data: lookup, unpacking, splits ------------------------------------------------------


def test_missing_data_error_names_every_option(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKRL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(alfworld_data, "ARCHIVE_DIR", tmp_path / "no-archives")
    with pytest.raises(FileNotFoundError) as error:
        find_alfworld_data()
    message = str(error.value)
    for option in ("data=", "ALFWORLD_DATA", str(tmp_path / "cache"), "no-archives", "prepare_alfworld_data"):
        assert option in message
    with pytest.raises(FileNotFoundError, match="data="):
        AlfWorldEnv(data=tmp_path)


def test_prepare_unpacks_one_archive_once_and_lookup_accepts_root_or_parent(tmp_path):
    if not (ARCHIVES / "valid_seen.tar.gz").is_file():
        pytest.skip("valid_seen archive missing")
    src = tmp_path / "src"
    src.mkdir()
    (src / "valid_seen.tar.gz").symlink_to(ARCHIVES / "valid_seen.tar.gz")
    root = prepare_alfworld_data(src, tmp_path / "dest")
    assert root == tmp_path / "dest" / "json_2.1.1"
    assert len(list(root.glob("valid_seen/*/*/game.tw-pddl"))) == 140
    stamp = (root / "valid_seen").stat().st_mtime_ns
    assert prepare_alfworld_data(src, tmp_path / "dest") == root
    assert (root / "valid_seen").stat().st_mtime_ns == stamp
    assert find_alfworld_data(tmp_path / "dest") == root == find_alfworld_data(root)
    with pytest.raises(FileNotFoundError, match="train"):
        AlfWorldEnv(data=root).tasks("train")


def test_listing_reads_directory_names_only(tmp_path):
    for task_dir in ("pick_cool_then_place_in_recep-Egg-None-Fridge-1", "pick_and_place_simple-Pen-None-Desk-2"):
        trial = tmp_path / "valid_unseen" / task_dir / "trial_T1"
        trial.mkdir(parents=True)
        (trial / "game.tw-pddl").write_text("not a game: listing must not open it")
    env = AlfWorldEnv(data=tmp_path)
    assert [t.task_id for t in env.tasks("L2")] == [
        "valid_unseen/pick_cool_then_place_in_recep-Egg-None-Fridge-1/trial_T1"
    ]
    assert [t.task_type for t in env.tasks("L1")] == ["pick_and_place_simple"]


def test_splits_follow_the_type_rules_and_are_disjoint(env, games_root):
    tasks = {split: env.tasks(split) for split in ("train", "L0", "L1", "L2")}
    assert {split: len(found) for split, found in tasks.items()} == {
        "train": 2207, "L0": 91, "L1": 96, "L2": 38,
    }
    for split, found in tasks.items():
        expected_types = HELD_OUT_TYPES if split == "L2" else SEEN_TYPES
        assert {t.task_type for t in found} == set(expected_types)
        assert all(t.split == split and t.env == "alfworld" for t in found)
        assert all(t.task_id.split("/")[1].startswith(t.task_type) for t in found)
        assert [t.task_id for t in found] == sorted(t.task_id for t in found)
    dirs = {"train": "train/", "L0": "valid_seen/", "L1": "valid_unseen/", "L2": "valid_unseen/"}
    for split, prefix in dirs.items():
        assert all(t.task_id.startswith(prefix) for t in tasks[split])
    ids = [t.task_id for found in tasks.values() for t in found]
    assert len(ids) == len(set(ids))
    assert all((games_root / task_id / "game.tw-pddl").is_file() for task_id in ids[::50])


# ---- the contract on real games ----------------------------------------------------------


def test_reset_and_step_follow_the_contract(env):
    task = env.tasks("L1")[0]
    observation = env.reset(task)
    assert "Welcome to TextWorld" not in observation.text
    assert f"Your task is to: {observation.goal}" in observation.text
    assert "help" not in observation.admissible_actions
    assert "look" in observation.admissible_actions

    unknown = env.step("dance wildly")
    assert unknown.observation.text == UNKNOWN_ACTION_TEXT
    assert (unknown.reward, unknown.done) == (0.0, False)
    assert unknown.observation.admissible_actions == observation.admissible_actions
    assert env.step("help").observation.text == UNKNOWN_ACTION_TEXT

    go = next(a for a in observation.admissible_actions if a.startswith("go to "))
    moved = env.step("  " + go.upper().replace(" ", "  ") + " ")
    assert moved.observation.text.startswith("You arrive at")
    assert moved.observation.goal == observation.goal


def test_engine_matches_plain_textworld(env, games_root):
    """The memoised engine plays exactly like TextWorld itself."""
    task = env.tasks("L2")[3]
    infos = textworld.EnvInfos(won=True, admissible_commands=True)
    plain = textworld.start(str(games_root / task.task_id / "game.tw-pddl"), infos, wrappers=[AlfredDemangler()])
    plain_state = plain.reset()
    observation = env.reset(task)
    rng = random.Random(3)
    for _ in range(12):
        assert observation.admissible_actions == [c for c in plain_state["admissible_commands"] if c != "help"]
        action = rng.choice(observation.admissible_actions)
        observation = env.step(action).observation
        plain_state, _, _ = plain.step(action)
        assert observation.text == plain_state.feedback.strip()


def test_fork_replays_to_the_same_future_and_stays_independent(env):
    task = env.tasks("L0")[5]
    rng = random.Random(0)
    observation = env.reset(task)
    for _ in range(6):
        observation = env.step(rng.choice(observation.admissible_actions)).observation
    fork, detour = env.fork(), env.fork()
    try:
        assert fork.actions == env.actions and isinstance(fork, AlfWorldEnv)
        assert (fork.data, fork.max_steps) == (env.data, env.max_steps)
        detour.step(rng.choice(observation.admissible_actions))
        for _ in range(4):
            action = rng.choice(observation.admissible_actions)
            mine, theirs = env.step(action), fork.step(action)
            assert mine.observation == theirs.observation
            assert (mine.reward, mine.done, mine.won) == (theirs.reward, theirs.done, theirs.won)
            observation = mine.observation
        assert len(detour.actions) == 7 and len(env.actions) == 10
    finally:
        fork.close()
        detour.close()


def test_two_fresh_envs_play_identically(games_root):
    task = AlfWorldEnv(data=games_root).tasks("L2")[10]
    transcripts = []
    for _ in range(2):
        with AlfWorldEnv(data=games_root) as fresh:
            rng = random.Random(7)
            observation = fresh.reset(task)
            transcript = [observation.text]
            for _ in range(8):
                observation = fresh.step(rng.choice(observation.admissible_actions)).observation
                transcript.append((observation.text, tuple(observation.admissible_actions)))
            transcripts.append(transcript)
    assert transcripts[0] == transcripts[1]


def test_check_env_passes(games_root):
    report = check_env(AlfWorldEnv(data=games_root, max_steps=10), games=1, seed=0)
    assert report.ok, [str(failure) for failure in report.failures]
    assert report.expert_wins == report.expert_games == 4 and report.forks >= 4


def test_registry_builds_it(games_root):
    built = make("alfworld", data=games_root, max_steps=7)
    assert isinstance(built, AlfWorldEnv) and built.max_steps == 7


# ---- the expert -------------------------------------------------------------------------


def play_expert(env: AlfWorldEnv, task) -> tuple[list, object]:
    observation = env.reset(task)
    expert, steps, result = env.expert(), [], None
    while not env.done:
        step = expert.act(observation)
        steps.append(step)
        result = env.step(step.action)
        observation = result.observation
    return steps, result


def test_walkthrough_wins_every_task_type(env):
    tasks = one_per_type(env, per_type=2)
    assert {t.task_type for t in tasks} == set(SEEN_TYPES + HELD_OUT_TYPES)
    for task in tasks:
        steps, result = play_expert(env, task)
        assert result.won and result.reward == 1.0 and result.terminated, task.task_id
        assert env.num_steps == len(steps)


def test_search_labels_follow_the_rules(env):
    cds_in_safe = "valid_unseen/pick_two_obj_and_place-CD-None-Safe-308/"
    pick_two = next(t for t in env.tasks("L2") if t.task_id.startswith(cds_in_safe))
    steps, result = play_expert(env, pick_two)
    assert result.won
    labelled = [(s.action.split()[0], s.is_search) for s in steps]
    # Look for the first cd, deliver it, look for the second one, deliver it.
    assert labelled == [
        ("go", True), ("take", False), ("go", False), ("open", False), ("move", False),
        ("go", True), ("take", False), ("go", False), ("move", False),
    ]


def test_pending_targets_and_mentions():
    walkthrough = [
        "go to desk 2", "take alarmclock 1 from desk 2", "go to desk 1", "use desklamp 1",
    ]
    assert pending_targets(walkthrough) == ["alarmclock 1", "alarmclock 1", "desklamp 1", "desklamp 1"]
    heat = ["go to countertop 1", "take apple 1 from countertop 1", "go to microwave 1",
            "heat apple 1 with microwave 1", "go to fridge 1", "open fridge 1", "move apple 1 to fridge 1"]
    assert pending_targets(heat) == ["apple 1", "apple 1", None, None, None, None, None]
    assert mentions(["On the desk 1, you see a cd 21, and a CD 2."], "cd 2")
    assert not mentions(["On the desk 1, you see a cd 21."], "cd 2")


def test_expert_resumes_mid_walkthrough_and_refuses_off_path(env):
    task = env.tasks("L1")[20]
    observation = env.reset(task)
    env.step(env.expert().act(observation).action)
    resumed = env.expert()
    assert resumed.position == 1
    env.reset(task)
    env.step("look")
    with pytest.raises(RuntimeError, match="left it"):
        env.expert()


@pytest.mark.slow
def test_walkthrough_wins_all_valid_unseen_games(games_root):
    env = AlfWorldEnv(data=games_root, max_steps=50)
    tasks = env.tasks("L1") + env.tasks("L2")
    assert len(tasks) == 134
    lost = [task.task_id for task in tasks if not play_expert(env, task)[1].won]
    assert lost == []
