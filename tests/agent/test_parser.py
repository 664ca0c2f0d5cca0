"""Response parser: every validity rule, the explore trigger, robustness and speed."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkrl.agent.parser import INVALID_STEP_PENALTY, parse_response
from sparkrl.agent.prompt import ALL_TAGS, format_response

TAG_STRINGS = [f"<{slash}{name}>" for name in ALL_TAGS for slash in ("", "/")]


def test_penalty_matches_the_method() -> None:
    assert INVALID_STEP_PENALTY == 0.1


@pytest.mark.parametrize(
    ("text", "mode", "reasoning", "action"),
    [
        ("<think>I hold the mug.</think><action>go to sinkbasin 1</action>", "think",
         "I hold the mug.", "go to sinkbasin 1"),
        ("<explore>mug: cabinet 1-3, drawer 2?</explore>\n<action>open cabinet 1</action>",
         "explore", "mug: cabinet 1-3, drawer 2?", "open cabinet 1"),
        ("\n  <think>\n step one \n</think>  \n\t<action>  go \n to   desk 1 </action>\n\n",
         "think", "step one", "go to desk 1"),
        ("<think>a < b and c > d</think><action>look</action>", "think", "a < b and c > d", "look"),
        ("<think>déjà vu 🤖</think><action>prendre la clé</action>", "think", "déjà vu 🤖",
         "prendre la clé"),
    ],
)
def test_valid_responses(text: str, mode: str, reasoning: str, action: str) -> None:
    parsed = parse_response(text)
    assert parsed.valid, parsed.error
    assert parsed.error is None
    assert (parsed.mode, parsed.reasoning, parsed.action) == (mode, reasoning, action)
    assert parsed.explore == (mode == "explore")


@pytest.mark.parametrize(
    ("text", "error_part", "action"),
    [
        ("", "no <action> block", None),
        ("go north", "no <action> block", None),
        ("<think>plan</think>", "no <action> block", None),
        ("<action>look</action>", "no reasoning block", "look"),
        ("<think>a</think><action>x</action><action>y</action>", "2 <action> blocks", "x"),
        ("<think>a</think><explore>b</explore><action>x</action>", "2 reasoning blocks", "x"),
        ("<think>a</think><think>b</think><action>x</action>", "2 reasoning blocks", "x"),
        ("<action>x</action><think>a</think>", "comes before the <think> block", "x"),
        ("<think>  \n</think><action>x</action>", "empty <think> block", "x"),
        ("<explore></explore><action>x</action>", "empty <explore> block", "x"),
        ("<think>a</think><action> </action>", "empty <action> block", None),
        ("Sure! <think>a</think><action>x</action>", "text outside the blocks: 'Sure!'", "x"),
        ("<think>a</think> so <action>x</action>", "text outside the blocks: 'so'", "x"),
        ("<think>a</think><action>x</action> done", "text outside the blocks: 'done'", "x"),
        ("<think>a</think><action>x</action><|im_end|>", "text outside the blocks", "x"),
        ("<think>a <action>x</action></think>", "<action> inside the <think> block", "x"),
        ("<think>a <explore>b</explore></think><action>x</action>", "<explore> inside the <think>",
         "x"),
        ("<action>go <think>?</think></action>", "<think> inside the <action> block",
         "go <think>?</think>"),
        ("<think>a</action><action>x</action>", "</action> inside the <think> block", "x"),
        ("<action><action>go</action>", "<action> inside the <action> block", "go"),
        ("</think><think>a</think><action>x</action>", "</think> without a matching <think>", "x"),
        ("<think>a</think><action>x", "<action> is never closed", None),
        ("<think>unfinished", "<think> is never closed", None),
        ("<Think>a</Think><action>x</action>", "no reasoning block", "x"),
    ],
)
def test_invalid_responses_say_why_and_keep_the_action(
    text: str, error_part: str, action: str | None
) -> None:
    parsed = parse_response(text)
    assert not parsed.valid
    assert parsed.error is not None and error_part in parsed.error
    assert parsed.action == action


def test_error_reports_only_a_short_snippet_of_outside_text() -> None:
    parsed = parse_response("<think>a</think><action>x</action>" + "blah " * 1000)
    assert parsed.error is not None and len(parsed.error) < 100


@pytest.mark.parametrize(
    ("text", "explore"),
    [
        ("<explore>where?</explore><action>look</action>", True),
        ("<explore>where?</explore>", True),
        ("Sure. <explore>x</explore><explore>y</explore><action>look</action>", True),
        ("<explore></explore><action>look</action>", True),
        ("<explore>never closed<action>look</action>", False),
        ("</explore> then <explore>", False),
        ("<think>explore the room</think><action>look</action>", False),
    ],
)
def test_explore_trigger_needs_the_full_pair(text: str, explore: bool) -> None:
    assert parse_response(text).explore is explore


def test_mode_and_reasoning_come_from_the_first_reasoning_block_even_when_invalid() -> None:
    parsed = parse_response("<explore>first</explore><think>second</think><action>x</action>")
    assert (parsed.valid, parsed.mode, parsed.reasoning, parsed.explore) == (
        False, "explore", "first", True,
    )
    none = parse_response("<action>x</action>")
    assert (none.mode, none.reasoning) == ("none", "")


def test_non_string_input_is_invalid_not_a_crash() -> None:
    parsed = parse_response(None)  # type: ignore[arg-type]
    assert not parsed.valid and parsed.error is not None and "not a string" in parsed.error
    assert parsed.action is None


@pytest.mark.parametrize(
    "text",
    [
        "<think>" * 15_000,
        "</action>" * 12_000,
        "<" * 100_000,
        "<think" * 17_000,
        "<think><action>" * 7_000,
        "<explore>" + "a" * 100_000 + "</explore><action>" + " " * 100_000 + "x</action>",
        "<action>" * 5_000 + "</action>" * 5_000,
        ("<think>x</think><action>y</action>" * 3_000)[:100_000],
    ],
)
def test_adversarial_100k_input_parses_fast(text: str) -> None:
    start = time.perf_counter()
    parsed = parse_response(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    assert parsed.valid == (parsed.error is None)


def _tag_sequence(text: str) -> list[str]:
    """Tag strings in order of appearance, found by a plain scan independent of the parser."""
    found = []
    index = text.find("<")
    while index != -1:
        found.extend(tag for tag in TAG_STRINGS if text.startswith(tag, index))
        index = text.find("<", index + 1)
    return found


TEXT_PIECES = [*TAG_STRINGS, "go", " ", "\n", "<", ">", "/", "x"]
TAG_HEAVY_TEXT = st.lists(st.sampled_from(TEXT_PIECES), max_size=12).map("".join)


@st.composite
def mutated_responses(draw: st.DrawFn) -> str:
    """A well-formed response with up to three random insertions or deletions."""
    words = st.text(alphabet="ab <>/\n", min_size=1, max_size=8).filter(
        lambda t: t.strip() and not any(tag in t for tag in TAG_STRINGS)
    )
    mode = draw(st.sampled_from(["think", "explore"]))
    text = format_response(mode, draw(words), draw(words))  # type: ignore[arg-type]
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:position] + draw(st.sampled_from(TEXT_PIECES)) + text[position:]
        else:
            text = text[:position] + text[draw(st.integers(position, len(text))) :]
    return text


ANY_TEXT = st.one_of(st.text(max_size=200), TAG_HEAVY_TEXT, mutated_responses())


@settings(max_examples=400, deadline=None, derandomize=True)
@given(ANY_TEXT)
def test_never_raises_and_valid_means_one_reasoning_pair_then_one_action_pair(text: str) -> None:
    parsed = parse_response(text)
    assert parsed.valid == (parsed.error is None)
    assert parsed.valid or parsed.error
    if parsed.valid:
        reasoning = parsed.mode
        assert _tag_sequence(text) == [f"<{reasoning}>", f"</{reasoning}>", "<action>", "</action>"]
        assert parsed.reasoning and parsed.action
        assert parsed.explore == (reasoning == "explore")
        outside = text.split(f"<{reasoning}>")[0] + text.split("</action>")[1]
        between = text.split(f"</{reasoning}>")[1].split("<action>")[0]
        assert not (outside + between).strip()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TAG_STRINGS), max_size=8).map("".join))
def test_pure_tag_strings_are_never_valid(text: str) -> None:
    """Valid needs non-empty blocks, so tags with nothing between them never pass."""
    parsed = parse_response(text)
    assert not parsed.valid and parsed.error


def _no_tags(text: str) -> bool:
    return not any(tag in text for tag in TAG_STRINGS)


TAG_FREE_TEXT = st.text(min_size=1, max_size=80).filter(
    lambda t: t.strip() and _no_tags(t) and not any("\u4e00" <= c <= "\u9fff" for c in t)  # no Chinese: a rule of its own
)
TAG_LIKE_TEXT = st.lists(
    st.sampled_from(["<", ">", "/", "think", "action", "explore", " ", "\n", "a"]),
    min_size=1, max_size=10,
).map("".join).filter(lambda t: t.strip() and _no_tags(t))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.sampled_from(["think", "explore"]),
    st.one_of(TAG_FREE_TEXT, TAG_LIKE_TEXT),
    st.one_of(TAG_FREE_TEXT, TAG_LIKE_TEXT),
)
def test_format_response_round_trips(mode: str, reasoning: str, action: str) -> None:
    parsed = parse_response(format_response(mode, reasoning, action))  # type: ignore[arg-type]
    assert parsed.valid, parsed.error
    assert parsed.mode == mode
    assert parsed.reasoning == reasoning.strip()
    assert parsed.action == " ".join(action.split())
    assert parsed.explore == (mode == "explore")


@pytest.mark.parametrize("response, block", [
    ("<think>去冰箱</think><action>go to fridge 1</action>", "think"),
    ("<explore>try the 柜子</explore><action>go to cabinet 1</action>", "explore"),
    ("<think>go to the fridge</think><action>go to 冰箱 1</action>", "action"),
])
def test_a_chinese_character_makes_the_response_invalid_by_default(response, block):
    parsed = parse_response(response)
    assert not parsed.valid and f"in the <{block}> block" in parsed.error
    assert parse_response(response, reject_chinese=False).valid


def test_other_non_ascii_text_stays_valid():
    assert parse_response("<think>café — naïve, ½ cup</think><action>go to fridge 1</action>").valid
