"""Spark's dynamic-branching rollout — Algorithm 1 of the paper, top to bottom.

For every task of a batch:

1. **Roots.** Start M trajectories from the task's initial state (one env reset, M−1 forks).
2. **Lock-step.** All active trajectories of all tasks take a step together: one batched
   policy call, then one env step each.
3. **Branch.** A trajectory whose step fires the trigger and is not done forks
   ``min(B − 1, N − allocated)`` children: each copies the parent's exact token prefix (its tree
   node), its prompt history and its env state (``env.fork()``); they diverge at the next
   decision. When several trajectories of a task fire together, the remaining budget goes to
   them in random order.
4. **Budget.** ``allocated`` counts every trajectory the task ever had; once it reaches N,
   branching stops silently and all trajectories continue linearly until done or K steps.

Padding the group to N leaves is optional (off by default) and padded copies are flagged in
``TaskForest.padded_leaf_ids``. With trigger ``none`` and M = N this is plain GRPO sampling;
with M = N = 1 and no trigger it is the evaluation protocol (one sample per game).

Env faults (``sparkrl.rollout.env_runner``): the env steps of one lock-step run one by one or
concurrently (``env_workers``); a reset, step or fork that raises or runs past
``step_timeout_s`` is retried ``env_retries`` times on an env rebuilt by replaying the action
prefix, which leaves the forest exactly as without the fault. A task whose env keeps failing is
skipped: its forest is left out of the result and listed in ``RolloutStats.skipped_tasks``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from sparkrl.agent.parser import parse_response
from sparkrl.agent.prompt import PROMPT_STYLES, History, build_messages
from sparkrl.envs.base import Observation, Task, TextEnv
from sparkrl.rollout.env_runner import EnvRunner, Stepped, TaskFailed
from sparkrl.rollout.tree import StepNode, TaskForest
from sparkrl.config import ConfigError, option, validate
from sparkrl.rollout.triggers import TRIGGERS, StepSignal, Trigger, make_trigger


class SampledResponse(Protocol):
    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    text: str
    head_entropy: float


class SamplingPolicy(Protocol):
    """The part of ``sparkrl.models.Policy`` a rollout needs."""

    def encode(self, messages: list[dict[str, str]]) -> list[int]: ...

    def sample(
        self,
        prompts: Sequence[list[int]],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
    ) -> Sequence[SampledResponse]: ...
    """With ``rollout.constrain_actions`` it is also called with ``actions=`` (one admissible
    list per prompt) and its responses carry ``action_mask`` (see ``sparkrl.models.constrained``)."""


@dataclass(frozen=True)
class RolloutConfig:
    """Shape of the rollout (defaults: spark-method.md §3)."""

    num_leaves: int = option(8, "N: per-task budget of trajectories (leaves)", low=1)
    num_roots: int = option(4, "M: independent trajectories started from the initial state", low=1)
    branch_factor: int = option(2, "B: branches at a fork (the parent plus B − 1 children)", low=1)
    max_steps: int = option(30, "K: horizon in env steps", low=1)
    trigger: str = option("explore", "branch trigger", choices=TRIGGERS)
    trigger_probability: float = option(
        0.3, "branch rate of the `fixed` trigger and p0 of the `entropy` trigger", low=0.0, high=1.0
    )
    temperature: float = option(1.0, "sampling temperature (0 = greedy)", low=0.0)
    top_p: float = option(1.0, "nucleus sampling mass", low=0.0, high=1.0)
    max_new_tokens: int = option(512, "longest response in tokens", low=1)
    history_window: int = option(5, "past (observation, action) pairs shown in each prompt", low=0)
    prompt_style: str = option("paper", "prompt layout: paper (the paper's wording) or compact (small models)",
                               choices=PROMPT_STYLES)
    constrain_actions: bool = option(
        False, "decode the <action> span only to admissible commands (token trie; the learner re-applies the mask)"
    )
    reject_chinese: bool = option(
        True, "a response with a Chinese character in a block is invalid (the release's projection rule)"
    )
    pad_to_budget: bool = option(False, "duplicate random leaves so each group has exactly N (flagged)")
    env_workers: int = option(1, "threads stepping the envs of one lock-step (1 = one by one, in-thread)", low=1)
    step_timeout_s: float = option(
        0.0, "give up an env step after this many seconds and retry it on a rebuilt env (0 = never)", low=0.0
    )
    env_retries: int = option(
        2, "retries of a failed env call on an env rebuilt by replay before the task is skipped", low=0
    )

    def __post_init__(self) -> None:
        validate(self)
        if self.num_roots > self.num_leaves:
            raise ConfigError(
                f"num_roots: M={self.num_roots} must be <= num_leaves N={self.num_leaves}"
            )
        if self.trigger != "none" and self.num_roots < self.num_leaves and self.branch_factor < 2:
            raise ConfigError(
                f"branch_factor: B={self.branch_factor} must be >= 2 when trigger "
                f"{self.trigger!r} is to branch (M < N)"
            )


AGENT_FIELDS = ("history_window", "prompt_style", "constrain_actions", "reject_chinese")
"""The ``RolloutConfig`` fields that fix how the agent reads its prompt and writes its action:
evaluating a policy must use the ones it was trained with."""


def agent_fields(config: RolloutConfig) -> dict[str, Any]:
    """``AGENT_FIELDS`` of ``config``, as keyword arguments for another ``RolloutConfig``."""
    return {name: getattr(config, name) for name in AGENT_FIELDS}


@dataclass
class RolloutStats:
    """What one rollout cost."""

    policy_calls: int = 0
    env_steps: int = 0
    forks: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0
    prefill_tokens: int = 0
    """Prompt tokens a prefix-sharing engine forwards: each distinct prompt of a policy call once
    (fork children and their parent, and a task's roots at its first step, share prompts)."""
    generation_seconds: float = 0.0
    env_seconds: float = 0.0
    env_failures: int = 0
    """Env calls (reset, step, fork) that raised or ran past ``step_timeout_s``."""
    env_retries: int = 0
    """Retries of failed env calls on envs rebuilt by replay."""
    skipped_tasks: list[str] = field(default_factory=list)
    """One line per task skipped after every retry failed: task id and last error. Its forest
    is left out of the rollout's result."""
    env_errors: list[str] = field(default_factory=list)
    """One line per failed env call."""


@dataclass
class _Branch:
    """One active trajectory: where it is in its task's tree and in its env."""

    task_index: int
    env: TextEnv
    history: History
    observation: Observation
    last_node_id: int | None = None
    first_head_entropy: float | None = None
    done: bool = False


@dataclass
class _TaskState:
    forest: TaskForest
    allocated: int
    next_node_id: int = 0
    branches: list[_Branch] = field(default_factory=list)
    failure: str | None = None
    """Why the task was skipped (its env kept failing); None while it is healthy."""

    def fail(self, failure: TaskFailed, stats: RolloutStats) -> None:
        """Skip the task: stop all its branches and count it."""
        if self.failure is None:
            self.failure = str(failure)
            stats.skipped_tasks.append(self.failure)
        for branch in self.branches:
            branch.done = True


def spark_rollout(
    policy: SamplingPolicy,
    tasks: Sequence[Task],
    make_env: Callable[[Task], TextEnv],
    config: RolloutConfig,
    rng: random.Random,
    stats: RolloutStats | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[TaskForest]:
    """Roll out every task of ``tasks`` as a Spark forest (see the module docstring).

    ``on_step(steps, active)``, when given, is called after every lock-step (progress reports)."""
    stats = stats if stats is not None else RolloutStats()
    trigger: Trigger = make_trigger(config.trigger, config.trigger_probability)
    runner = EnvRunner(make_env, config.max_steps, config.env_workers, config.step_timeout_s,
                       config.env_retries)
    try:
        states = [_start_roots(index, task, runner, config, stats) for index, task in enumerate(tasks)]
        active = [branch for state in states for branch in state.branches]
        steps = 0
        while active:
            step_nodes = _step_all(policy, active, states, runner, config, stats)
            fired = [
                (branch, node)
                for branch, node in zip(active, step_nodes)
                if node is not None and not branch.done and trigger.fires(_signal(branch, node), rng)
            ]
            rng.shuffle(fired)
            for branch, node in fired:
                _branch(branch, node, states[branch.task_index], runner, config, stats)
            active = [branch for state in states for branch in state.branches if not branch.done]
            steps += 1
            if on_step is not None:
                on_step(steps, len(active))
    finally:
        runner.close()
        stats.env_failures += runner.failures
        stats.env_retries += runner.retried
        stats.env_errors.extend(runner.errors)

    for state in states:
        for branch in state.branches:
            runner.close_quietly(branch.env)
        if config.pad_to_budget and state.failure is None:
            _pad(state.forest, config.num_leaves, rng)
    return [state.forest for state in states if state.failure is None]


def _branch(branch: _Branch, node: StepNode, state: _TaskState, runner: EnvRunner,
            config: RolloutConfig, stats: RolloutStats) -> None:
    """Fork ``branch`` after its triggering step ``node``, within the task's budget."""
    children = min(config.branch_factor - 1, config.num_leaves - state.allocated)
    if children <= 0 or state.failure is not None:
        return
    node.branched = True
    state.allocated += children
    stats.forks += children
    for _ in range(children):
        started = time.perf_counter()
        try:
            env = runner.fork(branch.env)
        except TaskFailed as failure:
            state.fail(failure, stats)
            return
        finally:
            stats.env_seconds += time.perf_counter() - started
        state.branches.append(_Branch(branch.task_index, env, branch.history.copy(), branch.observation,
                                      branch.last_node_id, branch.first_head_entropy))


def _start_roots(
    index: int, task: Task, runner: EnvRunner, config: RolloutConfig, stats: RolloutStats,
) -> _TaskState:
    state = _TaskState(TaskForest(task.task_id, task.task_type, task.split), config.num_roots)
    started = time.perf_counter()
    try:
        env, observation = runner.start(task)
        envs = [env] + [runner.fork(env) for _ in range(config.num_roots - 1)]
    except TaskFailed as failure:
        state.fail(failure, stats)
        return state
    finally:
        stats.env_seconds += time.perf_counter() - started
    state.branches = [
        _Branch(index, root_env, History(config.history_window), observation) for root_env in envs
    ]
    return state


def _step_all(
    policy: SamplingPolicy, active: list[_Branch], states: list[_TaskState], runner: EnvRunner,
    config: RolloutConfig, stats: RolloutStats,
) -> list[StepNode | None]:
    """One lock-step: a single batched policy call, then one env step per active branch (through
    ``runner``: concurrent when configured, retried on faults). A branch whose task was skipped
    by a fault gets ``None``."""
    prompts = [
        policy.encode(build_messages(b.observation.goal, b.observation.text,
                                     b.observation.admissible_actions, b.history, style=config.prompt_style))
        for b in active
    ]
    constraint = {"actions": [b.observation.admissible_actions for b in active]} if config.constrain_actions else {}
    started = time.perf_counter()
    responses = policy.sample(prompts, n=1, temperature=config.temperature, top_p=config.top_p,
                              max_new_tokens=config.max_new_tokens, **constraint)
    stats.generation_seconds += time.perf_counter() - started
    stats.policy_calls += 1
    stats.prefill_tokens += sum(len(prompt) for prompt in {tuple(prompt) for prompt in prompts})

    parsed = [parse_response(response.text, config.reject_chinese) for response in responses]
    actions = [p.action or "" for p in parsed]
    started = time.perf_counter()
    outcomes = runner.step([(branch.env, action) for branch, action in zip(active, actions)])
    stats.env_seconds += time.perf_counter() - started

    nodes: list[StepNode | None] = []
    for branch, response, parse, action, outcome in zip(active, responses, parsed, actions, outcomes):
        stats.env_steps += 1
        stats.generated_tokens += len(response.response_ids)
        stats.prompt_tokens += len(response.prompt_ids)
        state = states[branch.task_index]
        if isinstance(outcome, TaskFailed):
            state.fail(outcome, stats)
        if state.failure is not None:
            nodes.append(None)
            continue
        assert isinstance(outcome, Stepped)
        branch.env, result = outcome.env, outcome.result
        depth = 0 if branch.last_node_id is None else state.forest.nodes[branch.last_node_id].depth + 1
        node = state.forest.add(StepNode(
            node_id=state.next_node_id, parent_id=branch.last_node_id, depth=depth,
            prompt_ids=list(response.prompt_ids), response_ids=list(response.response_ids),
            logprobs=list(response.logprobs), observation=branch.observation.text,
            response_text=response.text, action=action, mode=parse.mode, valid=parse.valid,
            explore=parse.explore, reward=result.reward, done=result.done, won=result.won,
            info={"head_entropy": response.head_entropy, "next_observation": result.observation.text,
                  "admissible": _admissible(action, branch.observation.admissible_actions)},
            action_mask=_mask_json(response),
        ))
        state.next_node_id += 1
        branch.history.append(branch.observation.text, action)
        branch.observation = result.observation
        branch.last_node_id = node.node_id
        branch.done = result.done
        if branch.first_head_entropy is None:
            branch.first_head_entropy = response.head_entropy
        nodes.append(node)
    return nodes


def _admissible(action: str, listed: Sequence[str]) -> bool | None:
    """Whether ``action`` is one of the listed admissible commands (None when the env lists none)."""
    return None if not listed else " ".join(action.split()) in {" ".join(a.split()) for a in listed}


def _mask_json(response: SampledResponse) -> list | None:
    mask = getattr(response, "action_mask", None)
    return None if mask is None else mask.to_json()


def _signal(branch: _Branch, node: StepNode) -> StepSignal:
    return StepSignal(node.explore, node.info["head_entropy"], branch.first_head_entropy or 0.0)


def _pad(forest: TaskForest, budget: int, rng: random.Random) -> None:
    leaves = forest.leaves()
    forest.padded_leaf_ids.extend(rng.choice(leaves) for _ in range(budget - len(leaves)))
