"""Prompt builder, history window and response rendering."""

from __future__ import annotations

import pytest

from sparkrl.agent.prompt import (
    ACTION_TAG,
    EXPLORE_TAG,
    HISTORY_WINDOW,
    SYSTEM_PROMPT,
    THINK_TAG,
    History,
    build_messages,
    build_user_message,
    format_response,
)

RECEPTACLES = [f"{kind} {i}" for kind, count in (
    ("cabinet", 10), ("drawer", 8), ("countertop", 3), ("shelf", 3), ("stoveburner", 4),
) for i in range(1, count + 1)] + ["fridge 1", "microwave 1"]


def household_state(history_steps: int) -> tuple[str, str, list[str], History]:
    """A typical 30-receptacle household step after ``history_steps`` moves."""
    assert len(RECEPTACLES) == 30
    goal = "put a clean mug in the coffeemachine."
    room = (
        "You are in the middle of a room. Looking quickly around you, you see "
        + ", ".join(f"a {name}" for name in RECEPTACLES)
        + "."
    )
    history = History()
    observation = room
    for i in range(history_steps):
        target = RECEPTACLES[i]
        history.append(observation, f"go to {target}")
        observation = f"You arrive at {target}. On the {target}, you see a spoon {i + 1}, a mug {i + 2}."
    actions = [f"go to {name}" for name in RECEPTACLES] + [
        "inventory", "look", "examine countertop 1", "take mug 2 from cabinet 1",
    ]
    return goal, observation, actions, history


def test_messages_are_system_then_user_with_all_parts() -> None:
    goal, observation, actions, history = household_state(history_steps=2)
    messages = build_messages(goal, observation, actions, history)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    user = messages[1]["content"]
    assert user.startswith(f"Goal: {goal}")
    assert "Steps taken: 2. The last 2:" in user
    assert "Step 3. Current observation:\n" + observation in user
    assert user.endswith("\n".join(actions))


def test_system_prompt_states_both_modes_and_action_format() -> None:
    for tag in (THINK_TAG, EXPLORE_TAG, ACTION_TAG):
        assert f"<{tag}>...</{tag}>" in SYSTEM_PROMPT
    assert "admissible actions" in SYSTEM_PROMPT
    assert "uncertain" in SYSTEM_PROMPT


def test_first_step_has_no_history_section() -> None:
    user = build_user_message("find the key.", "You are in a hall.", ["go north", "look"])
    assert user == (
        "Goal: find the key.\nStep 1. Current observation:\nYou are in a hall.\n"
        "Admissible actions:\ngo north\nlook"
    )


def test_history_shows_only_the_last_window_with_episode_step_numbers() -> None:
    history = History(window=3)
    for i in range(1, 8):
        history.append(f"obs {i}", f"act {i}")
    user = build_user_message("g", "obs 8", ["a"], history)
    assert "Steps taken: 7. The last 3:\n[5] obs 5\n> act 5\n[6] obs 6\n> act 6\n[7] obs 7\n> act 7\n" in user
    assert "obs 4" not in user
    assert "Step 8. Current observation:\nobs 8" in user


def test_empty_admissible_actions_asks_for_a_command() -> None:
    user = build_user_message("buy shoes", "Search page.", [])
    assert user.endswith("Admissible actions: not listed; write one command.")


def test_history_window_slides_and_counts_all_steps() -> None:
    history = History()
    assert history.window == HISTORY_WINDOW == 5
    for i in range(1, 8):
        history.append(f"o{i}", f"a{i}")
    assert history.num_steps == 7
    assert len(history) == 5
    assert [(s.step, s.observation, s.action) for s in history.recent()] == [
        (i, f"o{i}", f"a{i}") for i in range(3, 8)
    ]


def test_history_copy_is_independent() -> None:
    parent = History(window=2)
    parent.append("o1", "a1")
    child = parent.copy()
    child.append("o2", "child action")
    parent.append("o2", "parent action")
    assert [s.action for s in child.recent()] == ["a1", "child action"]
    assert [s.action for s in parent.recent()] == ["a1", "parent action"]
    assert child.num_steps == parent.num_steps == 2
    assert child.window == 2


def test_zero_window_keeps_only_the_count() -> None:
    history = History(window=0)
    history.append("o", "a")
    assert history.recent() == ()
    assert history.num_steps == 1
    assert "Step 2. Current observation:" in build_user_message("g", "o2", ["a"], history)
    with pytest.raises(ValueError):
        History(window=-1)


def test_format_response_renders_the_canonical_shape() -> None:
    assert format_response("think", "  I hold the mug. ", "go  to\ncoffeemachine 1") == (
        "<think>I hold the mug.</think>\n<action>go to coffeemachine 1</action>"
    )
    assert format_response("explore", "mug may be in a cabinet", "open cabinet 1").startswith(
        "<explore>mug may be in a cabinet</explore>\n"
    )


@pytest.mark.parametrize(
    ("mode", "reasoning", "action"),
    [
        ("none", "r", "a"),
        ("THINK", "r", "a"),
        ("think", "   ", "a"),
        ("think", "r", "\n"),
        ("think", "see <action>x</action>", "a"),
        ("explore", "r", "go </explore> north"),
    ],
)
def test_format_response_rejects_what_would_not_parse(mode: str, reasoning: str, action: str) -> None:
    with pytest.raises(ValueError):
        format_response(mode, reasoning, action)  # type: ignore[arg-type]


def test_typical_household_prompt_stays_compact() -> None:
    """A full window over a 30-receptacle room; the budget guards against prompt bloat."""
    goal, observation, actions, history = household_state(history_steps=5)
    messages = build_messages(goal, observation, actions, history)
    total_chars = sum(len(m["content"]) for m in messages)
    assert total_chars < 3000
