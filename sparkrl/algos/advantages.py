"""Advantage estimators over a task's trajectory forest, registered by name.

Every estimator is a pure function ``fn(forest, rows, config) -> list[np.ndarray]``: for each
``StepRow`` (a node shared by ``row.multiplicity`` leaves) it returns one advantage per copy,
aligned with ``row.leaf_ids``. The learner may then compute a shared row once (see
``sparkrl.algos.losses``) and still equal the duplicated-rows computation exactly.

Notation: a group G is one task's forest; L its training leaves (real leaves, plus padding
copies when padding is on); for a leaf l, ``won(l)`` ∈ {0, 1}; for a step s, ``inv(s)`` ∈ {0, 1}
is its invalid-format flag; ``R(l) = r_win·won(l) − p·Σ_{s∈path(l)} inv(s)`` its return
(r_win = 10, p = 0.1). ``norm(x | X) = (x − mean(X)) / (std(X) + ε)`` with Bessel's std and
ε = 1e-6, as in verl/verl-agent; a group of one normalises to 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparkrl.config import option, validate
from sparkrl.rollout.tree import StepRow, TaskForest


@dataclass(frozen=True)
class AdvantageConfig:
    """Constants of the estimators (defaults: spark-method.md §4 and the GiGPO paper)."""

    success_reward: float = option(10.0, "r_win: score of a successful trajectory", low=0.0)
    invalid_penalty: float = option(0.1, "p: penalty of one invalid-format step", low=0.0)
    eps: float = option(1e-6, "ε in the normalisation denominator", low=0.0)
    step_weight: float = option(1.0, "ω: weight of gigpo's step term and tree's branch term", low=0.0)
    gamma: float = option(0.95, "γ: discount of the step returns in gigpo", low=0.0, high=1.0)

    def __post_init__(self) -> None:
        validate(self)


AdvantageFn = Callable[[TaskForest, list[StepRow], AdvantageConfig], list[np.ndarray]]
ADVANTAGE_ESTIMATORS: dict[str, AdvantageFn] = {}


def register_advantage(name: str) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator: make ``fn`` available as ``compute_advantages(..., estimator=name)``."""

    def decorate(fn: AdvantageFn) -> AdvantageFn:
        if name in ADVANTAGE_ESTIMATORS:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        ADVANTAGE_ESTIMATORS[name] = fn
        return fn

    return decorate


def compute_advantages(
    forest: TaskForest, estimator: str, config: AdvantageConfig | None = None
) -> tuple[list[StepRow], list[np.ndarray]]:
    """Rows of ``forest`` and their per-copy advantages under the named estimator."""
    if estimator not in ADVANTAGE_ESTIMATORS:
        raise KeyError(f"unknown estimator {estimator!r}; known: {sorted(ADVANTAGE_ESTIMATORS)}")
    rows = forest.step_rows()
    return rows, ADVANTAGE_ESTIMATORS[estimator](forest, rows, config or AdvantageConfig())


def _normaliser(values: np.ndarray, eps: float) -> Callable[[np.ndarray], np.ndarray]:
    if values.size < 2:
        return lambda x: np.zeros_like(x, dtype=np.float64)
    mean, std = values.mean(), values.std(ddof=1)
    return lambda x: (x - mean) / (std + eps)


def _leaf_returns(forest: TaskForest, config: AdvantageConfig) -> dict[int, float]:
    returns = {}
    for leaf in set(forest.training_leaves()):
        invalid = sum(not node.valid for node in forest.path(leaf))
        returns[leaf] = config.success_reward * forest.won(leaf) - config.invalid_penalty * invalid
    return returns


def _episode_advantages(
    forest: TaskForest, config: AdvantageConfig, returns: dict[int, float] | None = None
) -> dict[int, float]:
    returns = _leaf_returns(forest, config) if returns is None else returns
    group = np.array([returns[leaf] for leaf in forest.training_leaves()], dtype=np.float64)
    norm = _normaliser(group, config.eps)
    return {leaf: float(norm(np.array(value))) for leaf, value in returns.items()}


@register_advantage("spark")
def spark_advantages(
    forest: TaskForest, rows: list[StepRow], config: AdvantageConfig
) -> list[np.ndarray]:
    """Spark (spark-method.md §4): every copy of step s in leaf l scores

        score(s, l) = r_win·won(l) − p·inv(s)

    and is normalised over all step copies of the group:
    ``A(s, l) = norm(score(s, l) | {score(s', l') : s' ∈ path(l'), l' ∈ L})``.
    Longer trajectories weigh more, the known bias of the paper's release.
    """
    scores = [
        np.array(
            [config.success_reward * forest.won(leaf) - config.invalid_penalty * (not forest.nodes[row.node_id].valid)
             for leaf in row.leaf_ids],
            dtype=np.float64,
        )
        for row in rows
    ]
    norm = _normaliser(np.concatenate(scores) if scores else np.zeros(0), config.eps)
    return [norm(score) for score in scores]


@register_advantage("grpo")
def grpo_advantages(
    forest: TaskForest, rows: list[StepRow], config: AdvantageConfig
) -> list[np.ndarray]:
    """GRPO, episode level (Shao et al. 2024; verl-agent's step-independent rollout):
    ``A(s, l) = norm(R(l) | {R(l') : l' ∈ L})`` broadcast to every step of l."""
    episode = _episode_advantages(forest, config)
    return [np.array([episode[leaf] for leaf in row.leaf_ids], dtype=np.float64) for row in rows]


@register_advantage("gigpo")
def gigpo_advantages(
    forest: TaskForest, rows: list[StepRow], config: AdvantageConfig
) -> list[np.ndarray]:
    """GiGPO (Feng et al. 2025): ``A(s, l) = A_E(l) + ω·A_S(s, l)``.

    A_E is the GRPO episode term. For the step term, the step copies of the group are grouped
    by their anchor state (identical observation text at prompt time); each copy's discounted
    return from s along path(l), ``G(s, l) = Σ_{k ≥ s} γ^(k−s) r_k`` with
    ``r_k = −p·inv(k)`` plus ``r_win·won(l)`` on the last step, is normalised within its anchor
    group: ``A_S(s, l) = norm(G(s, l) | anchor group of s)`` (0 for a group of one).
    """
    episode = _episode_advantages(forest, config)
    returns: dict[tuple[int, int], float] = {}
    for leaf in set(forest.training_leaves()):
        path = forest.path(leaf)
        future = 0.0
        for index in range(len(path) - 1, -1, -1):
            node = path[index]
            reward = -config.invalid_penalty * (not node.valid)
            if index == len(path) - 1:
                reward += config.success_reward * forest.won(leaf)
            future = reward + config.gamma * future
            returns[(node.node_id, leaf)] = future
    anchors: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        anchor = forest.nodes[row.node_id].observation
        anchors[anchor].extend(returns[(row.node_id, leaf)] for leaf in row.leaf_ids)
    norms = {anchor: _normaliser(np.array(values), config.eps) for anchor, values in anchors.items()}
    result = []
    for row in rows:
        norm = norms[forest.nodes[row.node_id].observation]
        step = norm(np.array([returns[(row.node_id, leaf)] for leaf in row.leaf_ids]))
        result.append(np.array([episode[leaf] for leaf in row.leaf_ids]) + config.step_weight * step)
    return result


@register_advantage("tree")
def tree_advantages(
    forest: TaskForest, rows: list[StepRow], config: AdvantageConfig
) -> list[np.ndarray]:
    """Tree baseline (ours): credit each branch decision against its siblings.

    ``V(n) = mean_{l ∈ leaves(n)} R(l)`` is the mean return of the subtree under node n. A node
    whose parent branched (or a root, whose siblings are the other roots) has siblings S(n)
    (its parent's children, n included) and a branch term ``D(n) = V(n) − mean_{c ∈ S(n)} V(c)``;
    a node without siblings has ``D(n) = 0``. Then

        A(s, l) = A_E(l) + ω·D(s) / (std_{l' ∈ L} R(l') + ε)

    so at a fork the branch that did better than its siblings gets extra credit for the step
    where it diverged, on the same scale as the GRPO episode term A_E.
    """
    returns = _leaf_returns(forest, config)
    episode = _episode_advantages(forest, config, returns)
    leaf_values = np.array([returns[leaf] for leaf in forest.training_leaves()], dtype=np.float64)
    scale = (leaf_values.std(ddof=1) if leaf_values.size > 1 else 0.0) + config.eps
    value = {
        node_id: float(np.mean([returns[leaf] for leaf in forest.descendant_leaves(node_id)]))
        for node_id in forest.nodes
    }
    branch_term: dict[int, float] = {}
    for node_id, node in forest.nodes.items():
        siblings = forest.root_ids if node.parent_id is None else forest.nodes[node.parent_id].children
        if len(siblings) > 1 and leaf_values.size > 1:
            branch_term[node_id] = (value[node_id] - np.mean([value[c] for c in siblings])) / scale
        else:
            branch_term[node_id] = 0.0
    return [
        np.array([episode[leaf] for leaf in row.leaf_ids]) + config.step_weight * branch_term[row.node_id]
        for row in rows
    ]
