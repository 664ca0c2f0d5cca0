"""pass@k with the unbiased estimator (Chen et al., 2021; spark-method.md §6).

Play each game n times independently (n chains, no branching); with c of them won,

    pass@k = 1 − C(n − c, k) / C(n, k)

is the unbiased estimate of "at least one of k fresh samples wins", averaged over games. It is
computed as the product ``1 − Π_{i=n−c+1..n} (1 − k / i)``, which never forms huge binomials.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from sparkrl.envs.base import Task, TextEnv
from sparkrl.rollout.spark import RolloutConfig, RolloutStats, SamplingPolicy, spark_rollout
from sparkrl.rollout.tree import TaskForest


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one game with ``c`` wins among ``n`` samples (needs 1 ≤ k ≤ n)."""
    if not 0 <= c <= n:
        raise ValueError(f"wins c={c} must lie in [0, n={n}]")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must lie in [1, n={n}] (draw at least k samples per game)")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(wins: Sequence[int], n: int, ks: Sequence[int]) -> dict[int, float]:
    """pass@k for each k in ``ks``, averaged over games whose win counts are ``wins``."""
    if not wins:
        return {k: 0.0 for k in ks}
    return {k: sum(pass_at_k(n, c, k) for c in wins) / len(wins) for k in ks}


def sample_games(
    policy: SamplingPolicy,
    tasks: Sequence[Task],
    make_env: Callable[[Task], TextEnv],
    samples: int,
    max_steps: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    stats: RolloutStats | None = None,
    agent: Mapping[str, Any] | None = None,
) -> list[TaskForest]:
    """Play every task ``samples`` times as independent chains (M = N = n, no trigger): one
    forest per task whose leaves are the n samples. ``agent``: the policy's prompt/action
    settings (``sparkrl.rollout.spark.agent_fields``)."""
    config = RolloutConfig(num_leaves=samples, num_roots=samples, trigger="none", max_steps=max_steps,
                           temperature=temperature, max_new_tokens=max_new_tokens, **(agent or {}))
    return spark_rollout(policy, tasks, make_env, config, random.Random(seed), stats)


def wins_per_game(forests: Sequence[TaskForest]) -> list[int]:
    """Number of won samples (leaves) of each game."""
    return [sum(forest.won(leaf) for leaf in forest.leaves()) for forest in forests]
