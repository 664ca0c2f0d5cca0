"""The compact prompt style: every piece of the paper prompt survives, in far fewer tokens."""

from __future__ import annotations

import pytest

from sparkrl.agent.compact import (
    COMPACT_SYSTEM_PROMPT,
    expand_actions,
    group_actions,
    parse_compact_user_message,
)
from sparkrl.agent.prompt import PROMPT_STYLES, SYSTEM_PROMPT, History, build_messages
from sparkrl.envs import make


def _played(env_name: str, split: str, index: int, steps: int):
    """An expert episode after ``steps`` steps: (env, observation, history)."""
    env = make(env_name)
    observation = env.reset(env.tasks(split)[index])
    expert, history = env.expert(), History()
    for _ in range(steps):
        if env.done:
            break
        action = expert.act(observation).action
        history.append(observation.text, action)
        observation = env.step(action).observation
    return env, observation, history


def test_grouping_is_reversible_and_keeps_the_order():
    actions = ["go to cabinet 1", "go to cabinet 2", "go to cabinet 10", "look", "take apple 1 from table 1",
               "go to fridge 1", "inventory", "examine drawer 3"]
    lines = group_actions(actions)
    assert lines[0] == "go to cabinet 1|2|10"
    assert "look" in lines and "take apple 1 from table 1" in lines
    assert expand_actions(lines) == ["go to cabinet 1", "go to cabinet 2", "go to cabinet 10", "look",
                                     "take apple 1 from table 1", "go to fridge 1", "inventory", "examine drawer 3"]
    with pytest.raises(ValueError):
        group_actions(["pick 1|2"])


@pytest.mark.parametrize("env_name", ["household", "household-small"])
@pytest.mark.parametrize("steps", [0, 3, 9])
def test_round_trip_recovers_every_piece(env_name, steps):
    env, observation, history = _played(env_name, "L1", 4, steps)
    messages = build_messages(observation.goal, observation.text, observation.admissible_actions, history,
                              style="compact")
    assert messages[0] == {"role": "system", "content": COMPACT_SYSTEM_PROMPT}
    parsed = parse_compact_user_message(messages[1]["content"])
    collapse = lambda text: " ".join(text.replace("-= Welcome to TextWorld, ALFRED! =-", "").split())
    assert parsed.goal == collapse(observation.goal)
    assert parsed.observation == collapse(observation.text)
    assert sorted(parsed.admissible_actions) == sorted(observation.admissible_actions)
    assert parsed.steps_taken == history.num_steps
    assert parsed.past == tuple((collapse(s.observation), s.action) for s in history.recent())


def test_no_actions_listed_round_trips():
    messages = build_messages("buy shoes", "Search page.", [], None, style="compact")
    parsed = parse_compact_user_message(messages[1]["content"])
    assert parsed.admissible_actions == () and parsed.steps_taken == 0 and parsed.observation == "Search page."
    with pytest.raises(ValueError):
        parse_compact_user_message("not a compact prompt")


def test_paper_style_is_the_default_and_unknown_styles_are_refused():
    assert PROMPT_STYLES == ("paper", "compact")
    default = build_messages("g", "o", ["a"], None)
    assert default == build_messages("g", "o", ["a"], None, style="paper")
    assert default[0]["content"] == SYSTEM_PROMPT
    with pytest.raises(ValueError, match="paper"):
        build_messages("g", "o", ["a"], None, style="terse")


def test_compact_prompts_are_much_shorter_on_the_tiny_tokenizer():
    from sparkrl.models import load

    policy = load("tiny", threads=1)
    paper = compact = 0
    for index in range(6):
        _, observation, history = _played("household", "L0", index, 3)
        args = (observation.goal, observation.text, observation.admissible_actions, history)
        paper += len(policy.encode(build_messages(*args)))
        compact += len(policy.encode(build_messages(*args, style="compact")))
    assert compact < 0.75 * paper, (compact, paper)
