"""Test-time branching ("Spark inference"): explore a tree of futures on forks of the game,
then commit to one action sequence chosen by a step-wise majority vote and play it on a fresh
env. The score is what that committed play achieves; no leaf's reward is ever read to choose.

1. **Explore.** Roll out a Spark forest for the game exactly as in training — M roots, budget N
   leaves, a fork into B branches whenever a step holds an ``<explore>`` block — but on forks of
   the env (a simulator), at the evaluation temperature.
2. **Vote.** Build the committed plan one action at a time. The *voters* are the leaves whose
   action sequence starts with the plan so far and is longer than it (one vote per leaf); the
   next action is the most common next action among them (actions compared after lower-casing
   and collapsing whitespace; a tie goes to the action whose first voter comes first in the
   forest's leaf order, i.e. the earliest-created trajectory). Only the voters that chose it stay
   voters. The plan ends when no voter has a further action.
3. **Commit.** A fresh env is reset on the game and plays the plan until it is done or the plan
   ends; success (and score) is that play's outcome.

Rewards, ``won`` flags and termination of the leaves are never consulted, so the procedure is
deployable wherever the env can be forked; with a deterministic env the committed play ends
exactly like the leaves it followed. ``oracle_success`` (some leaf won) is reported beside it as
the upper bound a perfect verifier would reach; it is not a deployable score.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Mapping
from dataclasses import dataclass, field

from sparkrl.config import ConfigError, option, validate
from sparkrl.envs.base import Task, TextEnv
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, SamplingPolicy, spark_rollout
from sparkrl.rollout.tree import TaskForest


@dataclass(frozen=True)
class BranchingConfig:
    """Shape of the exploration tree at inference."""

    num_leaves: int = option(8, "N: leaves explored per game", low=1)
    num_roots: int = option(1, "M: independent starts; 1 = branch only at <explore> steps", low=1)
    branch_factor: int = option(2, "B: branches at a fork", low=2)

    def __post_init__(self) -> None:
        validate(self)
        if self.num_roots > self.num_leaves:
            raise ConfigError(f"num_roots: M={self.num_roots} must be <= num_leaves N={self.num_leaves}")


@dataclass
class BranchingResult:
    """Test-time branching figures of one split."""

    games: int = 0
    success: float = 0.0
    score: float = 0.0
    oracle_success: float = 0.0
    leaves_per_game: float = 0.0
    forks_per_game: float = 0.0
    tokens_per_game: float = 0.0
    plan_steps: float = 0.0
    success_by_type: dict[str, float] = field(default_factory=dict)


def _normalise(action: str | None) -> str:
    return " ".join((action or "").lower().split())


def vote_plan(forest: TaskForest) -> list[str]:
    """The committed action sequence of ``forest`` by step-wise majority over its leaves
    (see the module docstring for the exact rule)."""
    paths = [[node.action or "" for node in forest.path(leaf)] for leaf in forest.leaves()]
    keys = [[_normalise(action) for action in path] for path in paths]
    voters = list(range(len(paths)))
    plan: list[str] = []
    while True:
        step = len(plan)
        voters = [i for i in voters if len(keys[i]) > step]
        if not voters:
            return plan
        counts = Counter(keys[i][step] for i in voters)
        top = max(counts.values())
        winner = next(i for i in voters if counts[keys[i][step]] == top)
        plan.append(paths[winner][step])
        voters = [i for i in voters if keys[i][step] == keys[winner][step]]


def play_plan(env: TextEnv, task: Task, plan: Sequence[str], max_steps: int) -> tuple[bool, float, int]:
    """Reset ``env`` on ``task`` and play ``plan`` until done; returns (won, score, steps)."""
    env.max_steps = max_steps
    env.reset(task)
    won, score, steps = False, 0.0, 0
    for action in plan:
        result = env.step(action)
        score += result.reward
        steps += 1
        won = result.won
        if result.done:
            break
    return won, score, steps


def branching_evaluate(
    policy: SamplingPolicy,
    tasks: Sequence[Task],
    make_env: Callable[[Task], TextEnv],
    config: BranchingConfig,
    max_steps: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    agent: Mapping[str, Any] | None = None,
) -> dict[str, BranchingResult]:
    """Explore, vote and commit on every task (see the module docstring); results per split.
    ``agent``: the policy's prompt/action settings (``sparkrl.rollout.spark.agent_fields``)."""
    rollout = RolloutConfig(num_leaves=config.num_leaves, num_roots=config.num_roots,
                            branch_factor=config.branch_factor, trigger="explore", max_steps=max_steps,
                            temperature=temperature, max_new_tokens=max_new_tokens, **(agent or {}))
    forests = spark_rollout(policy, tasks, make_env, rollout, random.Random(seed), RolloutStats())
    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    types: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for task, forest in zip(tasks, forests):
        plan = vote_plan(forest)
        env = make_env(task)
        try:
            won, score, steps = play_plan(env, task, plan, max_steps)
        finally:
            env.close()
        figures = forest.stats()
        rows[task.split].append({
            "won": float(won), "score": score, "oracle": float(figures["success"] > 0),
            "leaves": figures["leaves"], "forks": figures["forks"],
            "tokens": figures["generated_tokens"], "plan_steps": float(steps),
        })
        types[task.split][task.task_type].append(float(won))
    return {
        split: BranchingResult(
            games=len(split_rows), success=_mean(split_rows, "won"), score=_mean(split_rows, "score"),
            oracle_success=_mean(split_rows, "oracle"), leaves_per_game=_mean(split_rows, "leaves"),
            forks_per_game=_mean(split_rows, "forks"), tokens_per_game=_mean(split_rows, "tokens"),
            plan_steps=_mean(split_rows, "plan_steps"),
            success_by_type={t: sum(v) / len(v) for t, v in sorted(types[split].items())},
        )
        for split, split_rows in rows.items()
    }


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return sum(row[key] for row in rows) / len(rows)
