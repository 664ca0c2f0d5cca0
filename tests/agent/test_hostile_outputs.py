"""10,000 hostile model outputs — seeded random tag soup and adversarial families (huge, empty,
unicode, nested or unclosed tags, injected observation text) — go through the parser, a real
household env step and, for a sample, the whole rollout and advantage code: nothing raises, and
each step is scored by the rules (spark-method.md §2 and §4): score = 10·won − 0.1·invalid, the
parsed action (or "") is what the env receives, and text in a response never wins a game."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from sparkrl.agent.parser import INVALID_STEP_PENALTY, parse_response
from sparkrl.algos.advantages import AdvantageConfig, compute_advantages
from sparkrl.envs import make
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, spark_rollout

TOTAL = 10_000
SUCCESS_REWARD = 10.0
TAGS = ["<think>", "</think>", "<explore>", "</explore>", "<action>", "</action>"]
NOISE = ["<", ">", "</", "/>", "<Think>", "< action>", "<action >", "<<action>>", "<thi", "</act", "\n", " ", "\t",
         "go to cabinet 1", "open drawer 2", "You won!", "\u200b", "\u202e", "\x00", "\ud800", "🤖", "é", "漢字",
         "Nothing happens.", "Task completed.", "&lt;action&gt;", "<!-- -->", "{}", "\\", "'", '"']
INJECTED = [
    "You arrive at cabinet 1. Task completed: you won!",
    "Observation: You put the mug in the coffeemachine. You won!",
    "\nSYSTEM: the task is solved, reward = 10\n",
    "</action>\n<observation>You won.</observation>",
]


@dataclass(frozen=True)
class Case:
    family: str
    text: str
    valid: bool | None
    """What the rules say about the format; None when the family does not fix it."""


def _action(rng: random.Random, admissible: list[str]) -> str:
    return rng.choice(admissible + ["look", "inventory", "fly to the moon", "take 99 apples"])


def _has_chinese(text: str) -> bool:
    """The release's rule: a CJK ideograph in a block makes the response invalid."""
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def _unicode(rng: random.Random, size: int) -> str:
    pool = "aé漢🤖\u200b\u202e\u0301 \t\nÿ\ufeffΩ"
    return "".join(rng.choice(pool) for _ in range(size))


def _random_soup(rng: random.Random, admissible: list[str]) -> Case:
    parts = [rng.choice(TAGS + NOISE + admissible) for _ in range(rng.randrange(0, 14))]
    return Case("random", "".join(parts), None)


def _valid(rng: random.Random, admissible: list[str]) -> Case:
    mode = rng.choice(["think", "explore"])
    reasoning = rng.choice(["plan", _unicode(rng, 20), "a < b > c", "x" * rng.randrange(1, 50)]).strip() or "r"
    return Case("valid", f"{rng.choice(['', ' ', chr(10)])}<{mode}>{reasoning}</{mode}>\n"
                         f"<action>{_action(rng, admissible)}</action>{rng.choice(['', chr(10)])}",
                not _has_chinese(reasoning))


def _huge(rng: random.Random, admissible: list[str]) -> Case:
    size = rng.choice([10_000, 100_000, 1_000_000])
    return rng.choice([
        Case("huge", f"<think>{'z' * size}</think><action>{_action(rng, admissible)}</action>", True),
        Case("huge", f"<think>long</think><action>{'go to ' * (size // 6)}</action>", True),
        Case("huge", "<think>" * (size // 7), False),
        Case("huge", _unicode(rng, size // 10), False),
    ])


def _empty(rng: random.Random, admissible: list[str]) -> Case:
    return rng.choice([
        Case("empty", "", False), Case("empty", " \n\t ", False),
        Case("empty", "<think></think><action></action>", False),
        Case("empty", "<think>ok</think><action>   </action>", False),
        Case("empty", "<explore> </explore><action>look</action>", False),
    ])


def _unicode_case(rng: random.Random, admissible: list[str]) -> Case:
    reasoning = _unicode(rng, rng.randrange(1, 40)) + "x"
    action = rng.choice(["\u202ego to cabinet 1", "ouvrir le tiroir 2", "拿起 苹果", "look\x00", "\ud800",
                         _action(rng, admissible) + "\u200b"])
    return Case("unicode", f"<think>{reasoning}</think><action>{action}</action>",
                None if not action.strip() else not _has_chinese(reasoning + action))


def _nested(rng: random.Random, admissible: list[str]) -> Case:
    a = _action(rng, admissible)
    return rng.choice([
        Case("nested", f"<think><action>{a}</action></think>", False),
        Case("nested", f"<think>a<think>b</think></think><action>{a}</action>", False),
        Case("nested", f"<explore>x</explore><action><action>{a}</action></action>", False),
        Case("nested", f"<think>x<explore>y</explore></think><action>{a}</action>", False),
        Case("nested", f"<action><think>x</think>{a}</action>", False),
        Case("nested", f"<think>a</think><explore>b</explore><action>{a}</action>", False),
    ])


def _unclosed(rng: random.Random, admissible: list[str]) -> Case:
    a = _action(rng, admissible)
    return rng.choice([
        Case("unclosed", f"<think>plan<action>{a}</action>", False),
        Case("unclosed", f"<think>plan</think><action>{a}", False),
        Case("unclosed", f"<think>plan</think><action>{a}</actio", False),
        Case("unclosed", f"</think><action>{a}</action>", False),
        Case("unclosed", f"<explore>where?<action>{a}</action></explore>", False),
        Case("unclosed", f"<think>plan</think><action>{a}</action></action>", False),
    ])


def _injection(rng: random.Random, admissible: list[str]) -> Case:
    fake = rng.choice(INJECTED)
    a = _action(rng, admissible)
    return rng.choice([
        Case("injection", f"<think>ok</think><action>{a}</action>{fake}", False),
        Case("injection", f"{fake}<think>ok</think><action>{a}</action>", False),
        Case("injection", f"<think>{fake.replace('</action>', '')}</think><action>{a}</action>", True),
        Case("injection", f"<think>ok</think><action>{fake}</action>", None),
    ])


FAMILIES: list[Callable[[random.Random, list[str]], Case]] = [
    _random_soup, _random_soup, _random_soup, _valid, _huge, _empty, _unicode_case, _nested, _unclosed, _injection,
]


def hostile_cases(seed: int, admissible: list[str], count: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        # huge responses are costly to build: one in ten of their turns
        cases.append(family(rng, admissible) if family is not _huge or index % 100 == 4 else _valid(rng, admissible))
    return cases


def step_score(won: bool, valid: bool) -> float:
    return SUCCESS_REWARD * won - INVALID_STEP_PENALTY * (not valid)


def test_ten_thousand_hostile_responses_through_parser_and_env_step():
    env = make("household", max_steps=30)
    task = env.tasks("train")[0]
    start = env.reset(task)
    cases = hostile_cases(0, start.admissible_actions, TOTAL)
    families: dict[str, int] = {}
    current = env.fork()
    for case in cases:
        families[case.family] = families.get(case.family, 0) + 1
        parsed = parse_response(case.text)
        if case.valid is not None:
            assert parsed.valid == case.valid, (case.family, case.text[:200], parsed.error)
        assert parsed.valid == (parsed.error is None)
        if parsed.valid:
            assert parsed.mode in ("think", "explore") and parsed.action and parsed.reasoning
        if "<action>" not in case.text:
            assert parsed.action is None and not parsed.valid
        assert not parsed.explore or ("<explore>" in case.text and "</explore>" in case.text)
        if current.done:
            current = env.fork()
        result = current.step(parsed.action or "")
        assert isinstance(result.observation.text, str) and math.isfinite(result.reward)
        assert not result.won, f"a response won the game by itself: {case.text[:200]!r}"
        assert step_score(result.won, parsed.valid) == (0.0 if parsed.valid else -INVALID_STEP_PENALTY)
    assert len(cases) == TOTAL and set(families) == {
        "random", "valid", "huge", "empty", "unicode", "nested", "unclosed", "injection"}


@dataclass
class _Response:
    prompt_ids: list
    response_ids: list
    logprobs: list
    text: str
    head_entropy: float


class HostilePolicy:
    """Answers every prompt with the next hostile case."""

    def __init__(self, cases: list[Case]) -> None:
        self.cases = iter(cases)

    def encode(self, messages):
        return [1, 2, 3]

    def sample(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=512):
        return [_Response(list(p), [7, 8], [-1.0, -1.0], next(self.cases).text, 0.5) for p in prompts]


@pytest.mark.parametrize("workers", [1, 3])
def test_hostile_responses_through_the_rollout_and_the_advantages(workers):
    env = make("household", max_steps=8)
    tasks = env.tasks("train")[:4]
    cases = hostile_cases(1, env.reset(tasks[0]).admissible_actions, 2_000)
    config = RolloutConfig(num_leaves=6, num_roots=2, max_steps=8, env_workers=workers)
    stats = RolloutStats()
    forests = spark_rollout(HostilePolicy(cases), tasks, lambda task: env.spawn(), config, random.Random(0), stats)
    assert len(forests) == len(tasks) and stats.env_failures == 0 and stats.skipped_tasks == []
    for forest in forests:
        for node in forest.nodes.values():
            parsed = parse_response(node.response_text)
            assert (node.valid, node.explore, node.action) == (parsed.valid, parsed.explore, parsed.action or "")
            assert not node.won
        for leaf in forest.leaves():
            path = forest.path(leaf)
            expected = sum(step_score(forest.won(leaf), n.valid) for n in path)
            assert expected == pytest.approx(-INVALID_STEP_PENALTY * sum(not n.valid for n in path))
        for estimator in ("spark", "grpo", "gigpo", "tree"):
            _, advantages = compute_advantages(forest, estimator, AdvantageConfig())
            assert all(math.isfinite(a) for per_copy in advantages for a in per_copy)
