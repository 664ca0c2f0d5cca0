"""Conformance and fork-determinism checker for ``TextEnv`` implementations.

``check_env(env)`` plays real games and verifies, per game:

- the contract's types (observation text, admissible actions, goal; step results);
- unknown actions answer without raising and without ending the episode;
- **fork determinism**: at a random depth the env is forked twice; one fork is driven down a
  different path, then the parent and the other fork get the same actions and must produce
  identical observations, rewards and ends (so the parent never sees a fork's steps);
- truncation at ``max_steps``;
- the expert, when the env has one, wins the game;

and, across the env, that split task lists are deterministic and pairwise disjoint.
Failures name the game and step; the checker never stops at the first broken game.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sparkrl.envs.base import SPLITS, Observation, StepResult, Task, TextEnv

UNKNOWN_PROBE_ACTION = "xyzzy frobnicate the quux"


@dataclass(frozen=True)
class CheckFailure:
    """One violated rule: which game, at which step, and what went wrong."""

    task_id: str
    step: int | None
    message: str

    def __str__(self) -> str:
        where = f"step {self.step}" if self.step is not None else "setup"
        return f"{self.task_id} @ {where}: {self.message}"


@dataclass
class CheckReport:
    """What ``check_env`` saw. ``ok`` is true when nothing failed."""

    env_name: str
    games: int = 0
    steps: int = 0
    forks: int = 0
    expert_games: int = 0
    expert_wins: int = 0
    games_per_split: dict[str, int] = field(default_factory=dict)
    failures: list[CheckFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        splits = ", ".join(f"{name}={count}" for name, count in self.games_per_split.items())
        expert = (
            f"expert won {self.expert_wins}/{self.expert_games}"
            if self.expert_games
            else "no expert"
        )
        status = "PASS" if self.ok else f"FAIL ({len(self.failures)} failures)"
        return (
            f"check-env {self.env_name}: {status} — {self.games} games ({splits}), "
            f"{self.steps} steps, {self.forks} forks, {expert}"
        )


class _Violation(Exception):
    def __init__(self, step: int | None, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def _check_observation(observation: object, step: int | None) -> Observation:
    if not isinstance(observation, Observation):
        raise _Violation(step, f"expected an Observation, got {type(observation).__name__}")
    if not isinstance(observation.text, str) or not observation.text.strip():
        raise _Violation(step, "observation text is empty or not a string")
    if not isinstance(observation.goal, str) or not observation.goal.strip():
        raise _Violation(step, "observation goal is empty or not a string")
    actions = observation.admissible_actions
    if not isinstance(actions, list) or not all(isinstance(a, str) and a for a in actions):
        raise _Violation(step, "admissible_actions must be a list of non-empty strings")
    return observation


def _check_result(result: object, step: int) -> StepResult:
    if not isinstance(result, StepResult):
        raise _Violation(step, f"expected a StepResult, got {type(result).__name__}")
    _check_observation(result.observation, step)
    if result.won and not result.terminated:
        raise _Violation(step, "won is true but terminated is false")
    if result.terminated and result.truncated:
        raise _Violation(step, "terminated and truncated are both true")
    return result


def _signature(result: StepResult) -> tuple:
    """What must match between a fork and its parent after the same action."""
    obs = result.observation
    return (obs.text, tuple(obs.admissible_actions), result.reward, result.terminated,
            result.truncated, result.won)


def _choose(rng: random.Random, observation: Observation) -> str:
    return rng.choice(observation.admissible_actions) if observation.admissible_actions else "look"


def _check_fork_determinism(
    env: TextEnv, rng: random.Random, observation: Observation, horizon: int, report: CheckReport
) -> StepResult | None:
    """Fork twice at the env's current state; drive one fork elsewhere; then the parent and the
    other fork get the same actions and must agree step by step. Returns the parent's last result."""
    depth = env.num_steps
    diverging, twin = env.fork(), env.fork()
    report.forks += 1
    last = None
    try:
        if twin.actions != env.actions or twin.done != env.done:
            raise _Violation(depth, "fork() did not copy the action history and state")
        # A detour through an unknown action and random moves must not leak into the parent.
        detour = diverging.step(UNKNOWN_PROBE_ACTION)
        for _ in range(rng.randint(0, 3)):
            if diverging.done:
                break
            detour = diverging.step(_choose(rng, detour.observation))
        report.steps += diverging.num_steps - depth
        for offset in range(horizon):
            if env.done:
                break
            action = _choose(rng, observation)
            last = _check_result(env.step(action), depth + offset)
            twin_result = _check_result(twin.step(action), depth + offset)
            report.steps += 2
            if _signature(last) != _signature(twin_result):
                raise _Violation(
                    depth + offset,
                    f"fork diverged from parent after action {action!r}: "
                    f"{last.observation.text[:80]!r} vs {twin_result.observation.text[:80]!r}",
                )
            observation = last.observation
    finally:
        diverging.close()
        twin.close()
    return last


def _check_game(env: TextEnv, task: Task, rng: random.Random, report: CheckReport) -> None:
    _check_observation(env.reset(task), None)
    if env.num_steps != 0 or env.done:
        raise _Violation(None, "reset() did not start a fresh episode")

    last = _check_result(env.step(UNKNOWN_PROBE_ACTION), 0)
    report.steps += 1
    if last.terminated or last.reward != 0:
        raise _Violation(0, "an unknown action ended the episode or was rewarded")

    # Every game forks right after the probe, and again at a random depth if it lives that long.
    fork_depths = {1, rng.randint(2, max(2, env.max_steps // 2))}
    while not env.done:
        if env.num_steps in fork_depths:
            fork_depths.discard(env.num_steps)
            last = _check_fork_determinism(env, rng, last.observation, horizon=3, report=report) or last
            continue
        last = _check_result(env.step(_choose(rng, last.observation)), env.num_steps)
        report.steps += 1
        if last.done != env.done:
            raise _Violation(env.num_steps, "StepResult.done disagrees with env.done")
    if env.num_steps > env.max_steps:
        raise _Violation(env.num_steps, f"episode ran past max_steps={env.max_steps}")
    if env.num_steps < env.max_steps and not last.terminated:
        raise _Violation(env.num_steps, "episode ended before max_steps without terminating")


EXPERT_HORIZON = 300
"""Steps the expert gets: it must be able to win, and some gold paths (ScienceWorld's) are
longer than the training horizon K."""


def _check_expert(env: TextEnv, task: Task, report: CheckReport) -> None:
    expert_env = env.spawn()
    expert_env.max_steps = max(env.max_steps, EXPERT_HORIZON)
    try:
        observation = expert_env.reset(task)
        try:
            expert = expert_env.expert()
        except NotImplementedError:
            return
        report.expert_games += 1
        result = None
        while not expert_env.done:
            result = expert_env.step(expert.act(observation).action)
            report.steps += 1
            observation = result.observation
        if result is None or not result.won:
            raise _Violation(expert_env.num_steps, f"the expert did not win (actions: {expert_env.actions})")
        report.expert_wins += 1
    finally:
        expert_env.close()


def _check_splits(env: TextEnv, splits: list[str]) -> list[CheckFailure]:
    failures = []
    seen: dict[str, str] = {}
    for split in splits:
        first = env.tasks(split)
        if [t.task_id for t in first] != [t.task_id for t in env.tasks(split)]:
            failures.append(CheckFailure(split, None, "tasks(split) is not deterministic"))
        for task in first:
            if task.split != split or task.env != env.name:
                failures.append(CheckFailure(task.task_id, None, f"task mislabelled for {split}"))
            if task.task_id in seen and seen[task.task_id] != split:
                failures.append(
                    CheckFailure(task.task_id, None, f"task in both {seen[task.task_id]} and {split}")
                )
            seen[task.task_id] = split
    return failures


def check_env(
    env: TextEnv,
    games: int = 20,
    splits: list[str] | None = None,
    seed: int = 0,
    expert: bool = True,
) -> CheckReport:
    """Play ``games`` games per split (random admissible actions, a fork check in each) and the
    expert on each, returning every violation found. ``splits`` defaults to all four."""
    splits = list(splits or SPLITS)
    report = CheckReport(env_name=env.name)
    report.failures.extend(_check_splits(env, splits))
    rng = random.Random(seed)
    for split in splits:
        tasks = env.tasks(split)[:games]
        report.games_per_split[split] = len(tasks)
        for task in tasks:
            report.games += 1
            try:
                _check_game(env, task, rng, report)
                if expert:
                    _check_expert(env, task, report)
            except _Violation as violation:
                report.failures.append(CheckFailure(task.task_id, violation.step, violation.message))
            except Exception as error:  # noqa: BLE001 — an env crash is a finding, not a checker crash
                report.failures.append(
                    CheckFailure(task.task_id, env.num_steps, f"{type(error).__name__}: {error}")
                )
    return report
