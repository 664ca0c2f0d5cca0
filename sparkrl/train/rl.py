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
from sparkrl.envs.registry import env_label
from sparkrl.envs.base import Task, TextEnv
from sparkrl.eval.evaluate import SplitResult, evaluate
from sparkrl.eval.stats import gain_text, paired_gain, success_text
from sparkrl.eval.plots import plot_run
from sparkrl.progress import Heartbeat
from sparkrl.rollout.spark import RolloutStats, agent_fields, spark_rollout
from sparkrl.rollout.tree import save_forests
from sparkrl.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from sparkrl.train.config import TrainConfig
from sparkrl.train.group_filter import GroupCounts, filter_groups
from sparkrl.train.learner import attach_reference_logprobs, build_rows, update_policy
from sparkrl.train.run_log import RunLog
from sparkrl.train.safeguards import NonFiniteGuard, TrainingDiverged, restore_metrics, warmup_scheduler


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
    return Path("runs") / f"{config.algo}-{env_label(config.env)}-{model}-s{config.seed}"


def _write_config(config: TrainConfig, run_dir: Path, command: str) -> None:
    text = f"# {command}\n" + yaml.safe_dump(to_dict(config), sort_keys=False)
    (run_dir / "config.yaml").write_text(text, encoding="utf-8")


def _evaluate(policy: Any, env: TextEnv, config: TrainConfig, seed: int, label: str) -> dict[str, SplitResult]:
    policy.model.eval()
    results, _ = evaluate(policy, env, lambda task: env.spawn(), config.eval.splits, config.eval.games,
                          config.eval.temperature, config.eval.max_new_tokens, seed, agent_fields(config.rollout),
                          label)
    return results


def _evaluate_start(policy: Any, env: TextEnv, config: TrainConfig, console: Console) -> dict[str, SplitResult]:
    """The "before RL" evaluation, reused from the starting model's cache when it was made."""
    from sparkrl.train.cold_start import cached_start_eval_file

    cache = cached_start_eval_file(config)
    if cache is not None and cache.exists():
        try:
            results = {k: SplitResult(**v) for k, v in json.loads(cache.read_text(encoding="utf-8")).items()}
            console.print(f"before-RL evaluation: reusing {cache}")
            return results
        except (ValueError, TypeError) as error:
            console.print(f"[yellow]ignoring unreadable cached evaluation {cache}: {error}[/yellow]")
    results = _evaluate(policy, env, config, config.seed, "before-RL evaluation")
    if cache is not None:
        staging = cache.with_suffix(".tmp")
        staging.write_text(json.dumps({k: dataclasses.asdict(v) for k, v in results.items()}), encoding="utf-8")
        staging.replace(cache)
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
        "prefill_tokens": stats.prefill_tokens,
        "env_steps": stats.env_steps,
        "rollout_seconds": stats.generation_seconds + stats.env_seconds,
        "generation_seconds": stats.generation_seconds,
        "env_seconds": stats.env_seconds,
        "update_seconds": update_seconds,
        "env_failures": stats.env_failures,
        "env_retries": stats.env_retries,
        "skipped_tasks": len(stats.skipped_tasks),
        "skipped_task_errors": list(stats.skipped_tasks),
        **update,
    }


def _print_summary(console: Console, before: dict[str, SplitResult] | None,
                   after: dict[str, SplitResult]) -> None:
    table = Table(title="success rate [95% Wilson interval] (one sample per game, T=0.4, no branching)")
    table.add_column("split")
    table.add_column("games", justify="right")
    if before is not None:
        table.add_column("before RL", justify="right")
    table.add_column("after RL", justify="right")
    if before is not None:
        table.add_column("gain [paired 95% CI]", justify="right")
    # Envs with partial credit (WebShop's purchase score) report the mean score beside success.
    show_score = any(abs(result.score - result.success) > 1e-9 for result in after.values())
    if show_score:
        table.add_column("score (after)", justify="right")
    table.add_column("invalid", justify="right")
    table.add_column("inadmissible", justify="right")
    table.add_column("explore", justify="right")
    for split, result in after.items():
        if result.games == 0:  # a split the env does not have (WebShop's L2)
            continue
        cells = [split, str(result.games)]
        if before is not None:
            cells += [success_text(before[split].success, before[split].games),
                      success_text(result.success, result.games),
                      gain_text(paired_gain(before[split].wins, result.wins))]
        else:
            cells.append(success_text(result.success, result.games))
        if show_score:
            cells.append(f"{result.score:.3f}")
        cells += [f"{result.invalid_rate:.1%}", f"{result.inadmissible_rate:.1%}", f"{result.explore_ratio:.1%}"]
        table.add_row(*cells)
    console.print(table)


def _report_resume(console: Console, run_dir: Path, found: tuple[Path, dict[str, Any]] | None) -> None:
    """Say which checkpoint a resume uses and why any newer one was passed over."""
    for reason in found[1]["skipped"] if found else []:
        console.print(f"[yellow]unusable checkpoint, falling back to the previous one: {reason}[/yellow]")
    if found is None:
        console.print(f"[yellow]{run_dir} has no usable checkpoint: starting the run over from iteration 0[/yellow]")
    else:
        console.print(f"resuming {run_dir} from {found[0].name}")


def _warn_faults(console: Console, iteration: int, stats: RolloutStats, record: dict[str, Any]) -> None:
    """Put env faults and skipped updates on the console (they are in the metrics record too)."""
    for line in stats.skipped_tasks:
        console.print(f"[yellow]iter {iteration}: skipped task after env failures: {line}[/yellow]")
    if stats.env_failures and not stats.skipped_tasks:
        console.print(f"[yellow]iter {iteration}: {stats.env_failures} env failures recovered by "
                      f"{stats.env_retries} retries[/yellow]")
    if record["nonfinite_update"]:
        console.print(f"[yellow]iter {iteration}: skipped {int(record['skipped_steps'])} optimizer step(s) "
                      f"with a NaN/inf loss or gradient ({record['nonfinite_streak']} iterations in a row)[/yellow]")


def _save(run_dir: Path, iteration: int, policy: Any, console: Console, state: dict[str, Any]) -> Path | None:
    """Checkpoint; a state that must not be kept (non-finite weights) is reported, not written."""
    try:
        return save_checkpoint(run_dir, iteration, policy.model, policy.tokenizer, state)
    except CheckpointError as error:
        console.print(f"[bold red]iter {iteration}: {error}[/bold red]")
        return None


def _policy_and_reference(config: TrainConfig, found: tuple[Path, dict[str, Any]] | None,
                          console: Console) -> tuple[Any, Any]:
    """The policy to train (from the checkpoint ``found`` if any) and its KL reference: a frozen
    copy of the starting policy, or with LoRA the same model with its adapters disabled. Both
    sit on the first GPU when CUDA is present."""
    from sparkrl.models.loading import load
    from sparkrl.train.cold_start import initial_policy

    def start() -> Any:
        policy = initial_policy(config, console)
        policy.model.to(device)
        return policy

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if config.lora_r > 0:
        from sparkrl.models.lora import AdapterDisabledReference, apply_lora, load_adapter_weights

        policy = apply_lora(start(), config.lora_r, config.lora_alpha, config.lora_targets)
        if found is not None:
            load_adapter_weights(policy, found[0] / "model")
        return policy, AdapterDisabledReference(policy)
    if found is not None:
        policy = load(str(found[0] / "model"), device=device, threads=config.threads or None)
    else:
        policy = start()
    reference = start() if found else copy.deepcopy(policy)
    reference.model.requires_grad_(False)
    return policy, reference


def _env_workers(config: TrainConfig) -> Any:
    """Ray env workers serving the rollouts' envs when ``config.workers > 1``, else None."""
    if config.workers <= 1:
        return None
    from sparkrl.distributed.ray_envs import RayEnvFactory

    return RayEnvFactory(config.env, {"max_steps": config.rollout.max_steps}, config.workers,
                         call_timeout=config.worker_timeout)


@dataclasses.dataclass
class _Run:
    """Everything one run holds between iterations (what a checkpoint saves, and the handles)."""

    config: TrainConfig
    run_dir: Path
    console: Console
    env: TextEnv
    env_factory: Any
    policy: Any
    reference: Any
    engine: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    guard: NonFiniteGuard
    sampler: TaskSampler
    rng: random.Random
    log: RunLog
    start: int = 0
    before: dict[str, SplitResult] | None = None

    def close(self) -> None:
        self.log.close()
        self.env.close()
        if self.env_factory:
            self.env_factory.close()


def _results(results: dict[str, SplitResult] | None) -> dict[str, Any] | None:
    return {k: dataclasses.asdict(v) for k, v in results.items()} if results is not None else None


def _setup(config: TrainConfig, resume: bool, command: str, console: Console) -> _Run:
    """The run folder, env, policy and its KL reference, optimizer and schedule; restored from
    the newest checkpoint on ``resume``, else evaluated once before RL."""
    from sparkrl.models.vllm_engine import select_engine

    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    if not resume and (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume or choose --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_config(config, run_dir, command)

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    env = make(config.env, max_steps=config.rollout.max_steps)
    found = latest_checkpoint(run_dir) if resume else None
    policy, reference = _policy_and_reference(config, found, console)
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad], lr=config.optim.lr,
                                  weight_decay=config.optim.weight_decay)
    engine = select_engine(policy, config.engine, lambda line: console.print(line, markup=False))
    env_factory = _env_workers(config)
    scheduler = warmup_scheduler(optimizer, config.optim.warmup_iterations)
    guard = NonFiniteGuard(config.optim.max_nonfinite_updates)
    sampler = TaskSampler(env.tasks("train"), config.seed)
    if resume:
        _report_resume(console, run_dir, found)
        restore_metrics(run_dir / "metrics.jsonl", found[1]["metrics"] if found else [])
    log = RunLog(run_dir, config.logger, config.wandb_project, to_dict(config))
    run = _Run(config, run_dir, console, env, env_factory, policy, reference, engine, optimizer, scheduler,
               guard, sampler, rng, log)
    if found is not None:
        state = found[1]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        guard.streak = state["nonfinite_streak"]
        restore_rng_state(rng, state["rng"])
        sampler.restore(state["sampler"])
        run.start = state["iteration"]
        run.before = {k: SplitResult(**v) for k, v in state["before"].items()} if state["before"] else None
        return run
    if config.eval.splits:
        run.before = _evaluate_start(policy, env, config, console)
        log.write({"kind": "eval", "iteration": 0, "tag": "before", "results": _results(run.before)})
    # The cold-start SFT and the before-RL evaluation draw from torch's RNG only when they are
    # not cached: re-seed so a seed gives the same RL run either way.
    torch.manual_seed(config.seed)
    return run


def _rollout(run: _Run, iteration: int, stats: RolloutStats, groups: GroupCounts) -> tuple[list, list]:
    """This iteration's forests, and the groups the update trains on (dynamic sampling may drop
    zero-variance groups, and ``resample`` roll out more tasks to replace them)."""
    config, make_env = run.config, run.env_factory or (lambda task: run.env.spawn())
    progress = Heartbeat(f"iter {iteration} rollout").games(config.tasks_per_iteration, config.rollout.max_steps)
    run.policy.model.eval()
    with torch.no_grad():
        forests = spark_rollout(run.engine, run.sampler.next(config.tasks_per_iteration), make_env,
                                config.rollout, run.rng, stats, progress)
        trained = filter_groups(forests, config.dynamic_sampling, groups)
        while (config.dynamic_sampling == "resample" and len(trained) < config.tasks_per_iteration
               and groups.rounds < config.resample_rounds):
            groups.rounds += 1
            extra = spark_rollout(run.engine, run.sampler.next(config.tasks_per_iteration - len(trained)),
                                  make_env, config.rollout, run.rng, stats, progress)
            forests += extra
            trained += filter_groups(extra, config.dynamic_sampling, groups)
    return forests, trained


def _update(run: _Run, trained: list) -> dict[str, float]:
    """Advantages → rows (with the reference's log-probs for the KL term) → PPO epochs."""
    config, temperature = run.config, run.config.rollout.temperature or 1.0
    rows = build_rows(trained, config.estimator, config.advantage)
    if config.loss.kl_coef > 0:
        run.reference.model.eval()
        attach_reference_logprobs(run.reference, rows, temperature, config.optim.micro_batch_tokens)
    update = update_policy(
        run.policy, run.optimizer, rows, config.loss, temperature=temperature,
        epochs=config.optim.ppo_epochs, minibatches=config.optim.minibatches,
        grad_clip=config.optim.grad_clip, micro_batch_tokens=config.optim.micro_batch_tokens, rng=run.rng,
    )
    run.scheduler.step()
    if run.engine is not run.policy:
        run.engine.sync_weights(run.policy.model)
    return update


def _iteration(run: _Run, iteration: int) -> None:
    """One RL iteration: rollout, update, metrics and trees, optional evaluation, checkpoint."""
    config, stats, groups = run.config, RolloutStats(), GroupCounts()
    forests, trained = _rollout(run, iteration, stats, groups)
    started = time.perf_counter()
    update = _update(run, trained)
    record = _iteration_record(iteration, forests, stats, update, time.perf_counter() - started)
    record.update(groups.as_metrics())
    record.update(run.guard.observe(iteration, update))
    run.log.write(record)
    _warn_faults(run.console, iteration, stats, record)
    (run.run_dir / "trees").mkdir(exist_ok=True)
    save_forests(forests, run.run_dir / "trees" / f"iter-{iteration:06d}.jsonl")
    run.console.print(
        f"iter {iteration}/{config.iterations}  success {record['success']:.2f}  "
        f"leaves/task {record['leaves_per_task']:.1f}  explore {record['explore_ratio']:.2f}  "
        f"invalid {record['invalid_rate']:.2f}  loss {record.get('loss', 0.0):+.4f}  "
        f"rollout {record['rollout_seconds']:.1f}s  update {record['update_seconds']:.1f}s"
    )
    done = iteration == config.iterations
    if config.eval_every and iteration % config.eval_every == 0 and not done:
        results = _evaluate(run.policy, run.env, config, config.seed, f"iter {iteration} evaluation")
        run.log.write({"kind": "eval", "iteration": iteration, "tag": "during", "results": _results(results)})
        run.log.image("learning_curves", plot_run(run.run_dir))
    if done or run.guard.tripped or (config.save_every and iteration % config.save_every == 0):
        saved = _save(run.run_dir, iteration, run.policy, run.console, {
            "iteration": iteration, "optimizer": run.optimizer.state_dict(), "rng": rng_state(run.rng),
            "sampler": run.sampler.state(), "before": _results(run.before) if run.before else None,
            "scheduler": run.scheduler.state_dict(), "nonfinite_streak": run.guard.streak,
            "metrics": run.log.records(),
        })
        if run.guard.tripped:
            message = run.guard.message(iteration, saved, run.run_dir)
            run.console.print(f"[bold red]{message}[/bold red]")
            raise TrainingDiverged(message)


def _finish(run: _Run) -> None:
    """The after-RL evaluation, summary.json, the learning curves and the summary table."""
    config = run.config
    after = _evaluate(run.policy, run.env, config, config.seed, "after-RL evaluation") if config.eval.splits else {}
    run.log.write({"kind": "eval", "iteration": config.iterations, "tag": "after", "results": _results(after)})
    summary = {"before": _results(run.before) if run.before else None, "after": _results(after)}
    (run.run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    run.log.image("learning_curves", plot_run(run.run_dir))
    _print_summary(run.console, run.before, after)


def train(config: TrainConfig, *, resume: bool = False, command: str = "sparkrl train",
          console: Console | None = None) -> Path:
    """Run ``config`` to the end (or continue a run folder with ``resume``); returns the run folder."""
    run = _setup(config, resume, command, console or Console())
    try:
        for iteration in range(run.start + 1, config.iterations + 1):
            _iteration(run, iteration)
        _finish(run)
    finally:
        run.close()
    return run.run_dir
