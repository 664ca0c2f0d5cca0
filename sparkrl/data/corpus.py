"""The text the tiny default model's tokenizer is trained on.

The tiny model only ever reads prompts built by ``sparkrl.agent.prompt`` and writes responses in
the ``format_response`` format, in the built-in ``household`` env. So its tokenizer is trained on
exactly that: rendered prompts (both prompt styles) and annotated responses (both annotation
styles) of household expert trajectories from every split (so the unseen L2 task types' words are in the vocabulary too), plus the env's whole
vocabulary (every object and receptacle type, every goal phrasing), which a handful of games
would not cover. Building it takes well under a second.
"""

from __future__ import annotations

from functools import lru_cache

from sparkrl.data.annotate import RuleAnnotator
from sparkrl.data.golden import collect_golden
from sparkrl.envs.base import SPLITS
from sparkrl.envs.household import HouseholdEnv
from sparkrl.envs.household.catalog import GOAL_TEMPLATES, PLACES, ROOM_RECEPTACLES, TASK_SPECS

DEFAULT_TASKS_PER_SPLIT = 12
"""Enough for every task type of every split (splits cycle through their types)."""

_NUMBERS_SHOWN = 16
"""Receptacle numbers go up to the largest count of one type in a room (cabinets: 16)."""


def household_vocabulary() -> list[str]:
    """Sentences naming every object and receptacle type and every goal phrasing."""
    receptacles = sorted({name for room in ROOM_RECEPTACLES.values() for name in room})
    objects = sorted(PLACES)
    texts = [
        "You see " + ", ".join(f"a {name} {n}" for n in range(1, _NUMBERS_SHOWN + 1)) + "."
        for name in receptacles + objects
    ]
    for task_type, (phrasing_a, phrasing_b) in GOAL_TEMPLATES.items():
        _, targets, places = TASK_SPECS[task_type]
        place_names = sorted(places)
        for index, target in enumerate(sorted(targets)):
            place = place_names[index % len(place_names)]
            texts.append(phrasing_a.format(o=target, r=place))
            texts.append(phrasing_b.format(o=target, r=place))
    return texts


@lru_cache(maxsize=4)
def _corpus(tasks_per_split: int, seed: int) -> tuple[str, ...]:
    env = HouseholdEnv()
    tasks = [task for split in SPLITS for task in env.tasks(split, limit=tasks_per_split)]
    golden = collect_golden(env, tasks).trajectories
    texts: list[str] = []
    # the paper pairing (for real LMs) and the compact one (the tiny default)
    for prompt_style, annotation in (("paper", "sentence"), ("compact", "short")):
        for annotated in RuleAnnotator(seed=seed, style=annotation).annotate_all(golden):
            for messages, response in annotated.chat_samples(prompt_style=prompt_style):
                texts.extend(message["content"] for message in messages)
                texts.append(response)
    # the system prompt repeats in every sample; once is enough to learn its words
    unique = list(dict.fromkeys(texts))
    return tuple(unique + household_vocabulary())


def tiny_corpus(tasks_per_split: int = DEFAULT_TASKS_PER_SPLIT, seed: int = 0) -> list[str]:
    """Texts to train the tiny model's tokenizer on (prompts, responses, env vocabulary)."""
    if tasks_per_split < 1:
        raise ValueError(f"tasks_per_split must be >= 1, got {tasks_per_split}")
    return list(_corpus(tasks_per_split, seed))
