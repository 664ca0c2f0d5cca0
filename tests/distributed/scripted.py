"""A seeded policy that plays admissible actions, and a rollout returning comparable trees."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from sparkrl.envs.base import Task, TextEnv
from sparkrl.rollout.spark import RolloutConfig, spark_rollout
from tests.scripted_response import Response


class AdmissiblePolicy:
    """Seeded: picks an admissible action of the prompt (so env state really changes) and
    explores at a fixed rate."""

    def __init__(self, seed: int, explore_rate: float = 0.4):
        self.rng = random.Random(seed)
        self.explore_rate = explore_rate
        self.admissible: dict[tuple, list[str]] = {}

    def encode(self, messages):
        content = messages[-1]["content"]
        ids = [ord(c) % 251 for c in content]
        _, listed, actions = content.partition("Admissible actions:\n")
        self.admissible[tuple(ids)] = actions.splitlines() if listed and actions else ["look"]
        return ids

    def sample(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=512):
        out = []
        for prompt in prompts:
            action = self.rng.choice(self.admissible[tuple(prompt)])
            mode = "explore" if self.rng.random() < self.explore_rate else "think"
            out.append(Response(list(prompt), [self.rng.randrange(100)], [-1.0],
                                f"<{mode}>r</{mode}><action>{action}</action>", self.rng.random()))
        return out


def rollout_trees(tasks: Sequence[Task], make_env: Callable[[Task], TextEnv], seed: int = 3,
                  max_steps: int = 10) -> list[dict[str, Any]]:
    """``TaskForest.to_dict`` of a seeded Spark rollout (N=6, M=2, B=2); forests hold no timings."""
    config = RolloutConfig(num_leaves=6, num_roots=2, branch_factor=2, max_steps=max_steps)
    forests = spark_rollout(AdmissiblePolicy(seed), tasks, make_env, config, random.Random(seed))
    return [forest.to_dict() for forest in forests]
