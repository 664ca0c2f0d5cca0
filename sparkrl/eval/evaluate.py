"""Evaluation under the paper's protocol: one sample per game, temperature 0.4, no branching.

All games of all requested splits advance in lock-step through the same rollout code as
training (M = N = 1, trigger ``none``), so evaluation is batched for free.

Metrics per split (and per task type): success rate; mean generated tokens per trajectory;
explore ratio (steps with an ``<explore>`` block ÷ steps); invalid rate (invalid-format steps ÷
steps); repetitive-action ratio (steps whose (observation, action) pair already occurred earlier
in the same trajectory ÷ steps — a loop detector); score (mean episode return: the sum of the
env's rewards; WebShop's 0..1 purchase score, whose ×100 is the paper's "score").
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Mapping

from sparkrl.envs.base import Task, TextEnv
from sparkrl.eval.stats import wilson_interval
from sparkrl.progress import Heartbeat
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, SamplingPolicy, spark_rollout
from sparkrl.rollout.tree import TaskForest


@dataclass
class SplitResult:
    """Evaluation figures of one split."""

    games: int = 0
    success: float = 0.0
    tokens_per_trajectory: float = 0.0
    steps_per_trajectory: float = 0.0
    explore_ratio: float = 0.0
    invalid_rate: float = 0.0
    repetition_ratio: float = 0.0
    success_by_type: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    inadmissible_rate: float = 0.0
    """Share of the valid steps whose action was not among the listed admissible commands (steps
    where the env lists none are not counted; invalid responses are ``invalid_rate``'s)."""
    wins: dict[str, bool] = field(default_factory=dict)
    """Task id -> won, so two evaluations on the same games can be paired."""

    @property
    def success_interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the success rate."""
        return wilson_interval(round(self.success * self.games), self.games)


def _trajectory_figures(forest: TaskForest) -> dict[str, float]:
    path = forest.path(forest.leaves()[0])
    seen, repeats = set(), 0
    for node in path:
        key = (node.observation, node.action)
        repeats += key in seen
        seen.add(key)
    return {
        "won": float(path[-1].won),
        "score": float(sum(n.reward for n in path)),
        "tokens": float(sum(len(n.response_ids) for n in path)),
        "steps": float(len(path)),
        "explore": float(sum(n.explore for n in path)),
        "invalid": float(sum(not n.valid for n in path)),
        "repeats": float(repeats),
        "inadmissible": float(sum(n.valid and n.info.get("admissible") is False for n in path)),
        "listed": float(sum(n.valid and n.info.get("admissible") is not None for n in path)),
    }


def summarise(forests: Sequence[TaskForest]) -> SplitResult:
    """Aggregate single-trajectory forests of one split."""
    if not forests:
        return SplitResult()
    figures = [_trajectory_figures(f) for f in forests]
    steps = sum(f["steps"] for f in figures) or 1.0
    by_type: dict[str, list[float]] = defaultdict(list)
    for forest, fig in zip(forests, figures):
        by_type[forest.task_type].append(fig["won"])
    return SplitResult(
        games=len(forests),
        success=sum(f["won"] for f in figures) / len(figures),
        tokens_per_trajectory=sum(f["tokens"] for f in figures) / len(figures),
        steps_per_trajectory=steps / len(figures),
        explore_ratio=sum(f["explore"] for f in figures) / steps,
        invalid_rate=sum(f["invalid"] for f in figures) / steps,
        repetition_ratio=sum(f["repeats"] for f in figures) / steps,
        success_by_type={t: sum(v) / len(v) for t, v in sorted(by_type.items())},
        score=sum(f["score"] for f in figures) / len(figures),
        inadmissible_rate=sum(f["inadmissible"] for f in figures) / (sum(f["listed"] for f in figures) or 1.0),
        wins={forest.task_id: bool(fig["won"]) for forest, fig in zip(forests, figures)},
    )


def evaluate(
    policy: SamplingPolicy,
    env: TextEnv,
    make_env: Callable[[Task], TextEnv],
    splits: Sequence[str],
    games: int,
    temperature: float = 0.4,
    max_new_tokens: int = 96,
    seed: int = 0,
    agent: Mapping[str, Any] | None = None,
    label: str = "evaluation",
) -> tuple[dict[str, SplitResult], list[TaskForest]]:
    """Play the first ``games`` games (0 = all) of each split once; return results and forests.

    ``agent`` holds the policy's prompt/action settings (``sparkrl.rollout.spark.agent_fields``);
    ``label`` names the phase in the plain progress lines printed when output is not a terminal.
    """
    tasks = [task for split in splits for task in (env.tasks(split)[:games] if games else env.tasks(split))]
    config = RolloutConfig(num_leaves=1, num_roots=1, trigger="none", max_steps=env.max_steps,
                           temperature=temperature, max_new_tokens=max_new_tokens, **(agent or {}))
    progress = Heartbeat(label).games(len(tasks), env.max_steps)
    forests = spark_rollout(policy, tasks, make_env, config, random.Random(seed), RolloutStats(), progress)
    results = {split: summarise([f for f in forests if f.split == split]) for split in splits}
    return results, forests
