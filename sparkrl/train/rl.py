"""The RL loop: collect Spark forests → advantages → policy update, with evaluation before and
after, metrics, tree dumps and checkpoints in one run folder.

Run folder layout::

    config.yaml          the resolved config (header: the command that reproduces it)
    metrics.jsonl        one record per iteration (kind=iteration) and per evaluation (kind=eval)
    tensorboard/         the same scalars for TensorBoard
    trees/iter-NNNNNN.jsonl   the iteration's forests (for `sparkrl view`)
    checkpoints/iter-NNNNNN/  model + trainer state (atomic)
    summary.json         evaluation before/after RL
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from rich.console import Console
from rich.table import Table

from sparkrl.config import to_dict
from sparkrl.envs import make
from sparkrl.envs.base import Task, TextEnv
from sparkrl.eval.evaluate import SplitResult, evaluate
from sparkrl.rollout.spark import RolloutStats, spark_rollout
from sparkrl.rollout.tree import save_forests
from sparkrl.train.checkpoint import latest_checkpoint, restore_rng_state, rng_state, save_checkpoint
from sparkrl.train.config import TrainConfig
from sparkrl.train.learner import attach_reference_logprobs, build_rows, update_policy
from sparkrl.train.run_log import RunLog


class TaskSampler:
    """Seeded pass over the train tasks, reshuffled each epoch; its state is two integers."""

    def __init__(self, tasks: list[Task], seed: int) -> None:
        if not tasks:
            raise ValueError("the train split has no tasks")
        self.tasks, self.seed = tasks, seed
        self.epoch, self.position = 0, 0

    def _order(self) -> list[Task]:
        order = list(self.tasks)
        random.Random(f"{self.seed}-{self.epoch}").shuffle(order)
        return order

    def next(self, count: int) -> list[Task]:
        batch = []
        order = self._order()
        while len(batch) < count:
            if self.position >= len(order):
                self.epoch, self.position = self.epoch + 1, 0
                order = self._order()
            batch.append(order[self.position])
            self.position += 1
        return batch

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def restore(self, state: dict[str, int]) -> None:
        self.epoch, self.position = state["epoch"], state["position"]


def default_run_dir(config: TrainConfig) -> Path:
    model = Path(config.model).name or config.model
    return Path("runs") / f"{config.algo}-{config.env}-{model}-s{config.seed}"


def _write_config(config: TrainConfig, run_dir: Path, command: str) -> None:
    text = f"# {command}\n" + yaml.safe_dump(to_dict(config), sort_keys=False)
    (run_dir / "config.yaml").write_text(text, encoding="utf-8")


def _evaluate(policy: Any, env: TextEnv, config: TrainConfig, seed: int) -> dict[str, SplitResult]:
    policy.model.eval()
    results, _ = evaluate(policy, env, lambda task: env.spawn(), config.eval.splits, config.eval.games,
                          config.eval.temperature, config.eval.max_new_tokens, seed)
    return results


def _iteration_record(iteration: int, forests: list, stats: RolloutStats, update: dict[str, float],
                      update_seconds: float) -> dict[str, Any]:
    per_forest = [forest.stats() for forest in forests]
    leaves = sum(s["leaves"] for s in per_forest)
    steps = sum(s["steps"] for s in per_forest)
    return {
        "kind": "iteration",
        "iteration": iteration,
        "success": sum(s["success"] * s["leaves"] for s in per_forest) / max(leaves, 1),
        "return": sum(s["success"] * s["leaves"] * 10.0 for s in per_forest) / max(leaves, 1),
        "explore_ratio": sum(s["explore_steps"] for s in per_forest) / max(steps, 1),
        "invalid_rate": sum(s["invalid_steps"] for s in per_forest) / max(steps, 1),
        "branches": sum(s["branches"] for s in per_forest),
        "leaves_per_task": leaves / max(len(forests), 1),
        "trajectories": leaves,
        "generated_tokens": stats.generated_tokens,
        "prompt_tokens": stats.prompt_tokens,
        "env_steps": stats.env_steps,
        "rollout_seconds": stats.generation_seconds + stats.env_seconds,
        "generation_seconds": stats.generation_seconds,
        "env_seconds": stats.env_seconds,
        "update_seconds": update_seconds,
        **update,
    }


def _print_summary(console: Console, before: dict[str, SplitResult] | None,
                   after: dict[str, SplitResult]) -> None:
    table = Table(title="success rate (one sample per game, T=0.4, no branching)")
    table.add_column("split")
    table.add_column("games", justify="right")
    if before is not None:
        table.add_column("before RL", justify="right")
    table.add_column("after RL", justify="right")
    table.add_column("invalid", justify="right")
    table.add_column("explore", justify="right")
    for split, result in after.items():
        cells = [split, str(result.games)]
        if before is not None:
            cells.append(f"{before[split].success:.1%}")
        cells += [f"{result.success:.1%}", f"{result.invalid_rate:.1%}", f"{result.explore_ratio:.1%}"]
        table.add_row(*cells)
    console.print(table)


def train(config: TrainConfig, *, resume: bool = False, command: str = "sparkrl train",
          console: Console | None = None) -> Path:
    """Run ``config`` to the end (or continue a run folder with ``resume``); returns the run folder."""
    from sparkrl.models.loading import load
    from sparkrl.train.cold_start import initial_policy

    console = console or Console()
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    if not resume and (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume or choose --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_config(config, run_dir, command)

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    env = make(config.env, max_steps=config.rollout.max_steps)
    found = latest_checkpoint(run_dir) if resume else None
    policy = load(str(found[0] / "model"), threads=config.threads or None) if found else initial_policy(config, console)
    reference = initial_policy(config, console) if found else copy.deepcopy(policy)
    reference.model.requires_grad_(False)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=config.optim.lr,
                                  weight_decay=config.optim.weight_decay)
    sampler = TaskSampler(env.tasks("train"), config.seed)
    log = RunLog(run_dir)
    start = 0
    before: dict[str, SplitResult] | None = None
    if found is not None:
        folder, state = found
        optimizer.load_state_dict(state["optimizer"])
        restore_rng_state(rng, state["rng"])
        sampler.restore(state["sampler"])
        start = state["iteration"]
        before = {k: SplitResult(**v) for k, v in state["before"].items()} if state["before"] else None
        for name in state["skipped"]:
            console.print(f"[yellow]skipped unreadable checkpoint {name}[/yellow]")
        console.print(f"resuming {run_dir} from {folder.name}")
    elif config.eval.splits:
        before = _evaluate(policy, env, config, config.seed)
        log.write({"kind": "eval", "iteration": 0, "tag": "before",
                   "results": {k: dataclasses.asdict(v) for k, v in before.items()}})

    learner_temperature = config.rollout.temperature or 1.0
    for iteration in range(start, config.iterations):
        stats = RolloutStats()
        policy.model.eval()
        with torch.no_grad():
            forests = spark_rollout(policy, sampler.next(config.tasks_per_iteration),
                                    lambda task: env.spawn(), config.rollout, rng, stats)
        started = time.perf_counter()
        rows = build_rows(forests, config.estimator, config.advantage)
        if config.loss.kl_coef > 0:
            reference.model.eval()
            attach_reference_logprobs(reference, rows, learner_temperature, config.optim.micro_batch_tokens)
        update = update_policy(
            policy, optimizer, rows, config.loss, temperature=learner_temperature,
            epochs=config.optim.ppo_epochs, minibatches=config.optim.minibatches,
            grad_clip=config.optim.grad_clip, micro_batch_tokens=config.optim.micro_batch_tokens, rng=rng,
        )
        record = _iteration_record(iteration + 1, forests, stats, update, time.perf_counter() - started)
        log.write(record)
        (run_dir / "trees").mkdir(exist_ok=True)
        save_forests(forests, run_dir / "trees" / f"iter-{iteration + 1:06d}.jsonl")
        console.print(
            f"iter {iteration + 1}/{config.iterations}  success {record['success']:.2f}  "
            f"leaves/task {record['leaves_per_task']:.1f}  explore {record['explore_ratio']:.2f}  "
            f"invalid {record['invalid_rate']:.2f}  loss {record.get('loss', 0.0):+.4f}  "
            f"rollout {record['rollout_seconds']:.1f}s  update {record['update_seconds']:.1f}s"
        )
        done = iteration + 1 == config.iterations
        if config.eval_every and (iteration + 1) % config.eval_every == 0 and not done:
            results = _evaluate(policy, env, config, config.seed)
            log.write({"kind": "eval", "iteration": iteration + 1, "tag": "during",
                       "results": {k: dataclasses.asdict(v) for k, v in results.items()}})
        if done or (config.save_every and (iteration + 1) % config.save_every == 0):
            save_checkpoint(run_dir, iteration + 1, policy.model, policy.tokenizer, {
                "iteration": iteration + 1, "optimizer": optimizer.state_dict(), "rng": rng_state(rng), "sampler": sampler.state(),
                "before": {k: dataclasses.asdict(v) for k, v in before.items()} if before else None,
            })

    after = _evaluate(policy, env, config, config.seed) if config.eval.splits else {}
    log.write({"kind": "eval", "iteration": config.iterations, "tag": "after",
               "results": {k: dataclasses.asdict(v) for k, v in after.items()}})
    summary = {
        "before": {k: dataclasses.asdict(v) for k, v in before.items()} if before else None,
        "after": {k: dataclasses.asdict(v) for k, v in after.items()},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    log.close()
    env.close()
    _print_summary(console, before, after)
    return run_dir
