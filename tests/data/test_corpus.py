"""The tiny tokenizer's corpus: prompts, responses and vocabulary of the household env."""

from __future__ import annotations

import re
import time

import pytest

from sparkrl.agent.parser import parse_response
from sparkrl.agent.prompt import SYSTEM_PROMPT
from sparkrl.data.corpus import tiny_corpus
from sparkrl.envs import SPLITS, make
from sparkrl.envs.household.catalog import TASK_TYPES


def test_corpus_holds_prompts_responses_and_every_task_type() -> None:
    start = time.perf_counter()
    corpus = tiny_corpus(tasks_per_split=6, seed=1)
    assert time.perf_counter() - start < 10
    assert all(isinstance(text, str) and text for text in corpus)
    assert corpus.count(SYSTEM_PROMPT) == 1
    responses = [parse_response(text) for text in corpus if text.startswith(("<think>", "<explore>"))]
    assert responses and all(parsed.valid for parsed in responses)
    assert {parsed.mode for parsed in responses} == {"think", "explore"}
    goals = {text.split("\n", 1)[0] for text in corpus if text.startswith("Goal: ")}
    env = make("household")
    seen_types = {task.task_type for split in SPLITS for task in env.tasks(split, limit=6)}
    assert seen_types == set(TASK_TYPES)
    assert len(goals) >= 6 * len(SPLITS) - 2


def test_every_word_of_held_out_games_is_in_the_corpus() -> None:
    words = set(re.findall(r"[a-z]+", " ".join(tiny_corpus()).lower()))
    env = make("household")
    for task in env.tasks("L2", limit=20) + env.tasks("L1", limit=20):
        observation = env.reset(task)
        text = " ".join([observation.goal, observation.text, *observation.admissible_actions])
        assert set(re.findall(r"[a-z]+", text.lower())) <= words, task.task_id


def test_rejects_an_empty_request() -> None:
    with pytest.raises(ValueError):
        tiny_corpus(tasks_per_split=0)
