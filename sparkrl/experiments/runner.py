"""`sparkrl eval`: evaluate any model or checkpoint under the paper's protocol, optionally with
pass@k and test-time branching, and report it as a JSON-ready dict and a printed table.

The model comes from a run folder (its newest complete checkpoint, or a chosen one; env and
protocol defaults from its ``config.yaml``), a checkpoint folder, any ``load()`` spec, or an
OpenAI-compatible endpoint (``openai:MODEL``, ``sparkrl.models.api_policy``; with ``--run`` the
run's prompt and protocol settings are used, e.g. for that run's checkpoint served by vLLM).
The report says which: ``"source": "local"`` or ``"api"`` (with the endpoint's counters).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sparkrl.config import ConfigError, load_yaml, option, to_dict, validate
from sparkrl.envs.base import SPLITS, TextEnv
from sparkrl.eval.evaluate import evaluate
from sparkrl.eval.passk import mean_pass_at_k, sample_games, wins_per_game
from sparkrl.eval.test_time import BranchingConfig, branching_evaluate
from sparkrl.rollout.spark import SamplingPolicy
from sparkrl.train.config import TrainConfig


@dataclass(frozen=True)
class EvalRequest:
    """What to measure. Defaults are the paper's protocol: one sample per game, T = 0.4, no
    branching."""

    splits: tuple[str, ...] = option(("L0", "L1", "L2"), "splits to evaluate")
    games: int = option(30, "games per split (0 = the whole split)", low=0)
    temperature: float = option(0.4, "sampling temperature", low=0.0)
    max_new_tokens: int = option(64, "longest response in tokens", low=1)
    max_steps: int = option(30, "K: horizon in env steps", low=1)
    seed: int = option(0, "seed of sampling", low=0)
    samples: int = option(0, "n: samples per game for pass@k (0 = no pass@k)", low=0)
    ks: tuple[int, ...] = option((1,), "k values of pass@k (each <= samples)")
    branching: BranchingConfig | None = option(None, "test-time branching tree shape (None = off)")

    def __post_init__(self) -> None:
        validate(self)
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise ConfigError(f"splits: {unknown[0]!r} is not a split; choose from {', '.join(SPLITS)}")
        if self.samples and any(not 1 <= k <= self.samples for k in self.ks):
            raise ConfigError(f"ks: every k must lie in [1, samples={self.samples}], got {list(self.ks)}")


@dataclass(frozen=True)
class ModelSource:
    """A resolved model to evaluate: the ``load()`` spec, a label, and the run config if any."""

    spec: str
    label: str
    config: TrainConfig | None = None
    source: str = "local"
    """``local`` (a model sparkrl loads) or ``api`` (``openai:MODEL``, served elsewhere)."""


def _run_config(run_dir: Path) -> TrainConfig | None:
    path = run_dir / "config.yaml"
    return load_yaml(TrainConfig, path) if path.exists() else None


def resolve_source(run: str | None, checkpoint: str | None, model: str | None) -> ModelSource:
    """The model named by ``--run`` (newest complete checkpoint), ``--checkpoint`` (an
    ``iter-N`` folder or its ``model`` folder) or ``--model`` (any ``load()`` spec, or
    ``openai:MODEL``, which may come with ``--run`` for that run's prompt and protocol)."""
    from sparkrl.models.api_policy import api_model_name, is_api_spec
    from sparkrl.train.checkpoint import latest_checkpoint

    if is_api_spec(model):
        api_model_name(model)
        if checkpoint is not None:
            raise ConfigError("--model openai:MODEL excludes --checkpoint (serve the checkpoint, then give "
                              "--run for its run's settings)")
        if run is None:
            return ModelSource(model, f"{model} (API)", source="api")
        if not (Path(run) / "config.yaml").is_file():
            raise ConfigError(f"--run: {run} is not a run folder (no config.yaml)")
        return ModelSource(model, f"{model} (API, settings of {run})", _run_config(Path(run)), source="api")
    if model is not None:
        if run is not None or checkpoint is not None:
            raise ConfigError("--model excludes --run and --checkpoint")
        return ModelSource(model, model)
    if run is None and checkpoint is None:
        raise ConfigError("give --run DIR, --checkpoint DIR or --model SPEC")
    if checkpoint is not None:
        folder = Path(checkpoint)
        model_dir = folder / "model" if (folder / "model").is_dir() else folder
        if not (model_dir / "config.json").is_file():
            raise ConfigError(f"--checkpoint: {folder} holds no model (expected {folder}/model/config.json)")
        # A checkpoint's model lives at RUN/checkpoints/iter-N/model: its run config is 3 levels up.
        run_dir = Path(run) if run else model_dir.parents[2] if len(model_dir.parents) > 2 else None
        config = _run_config(run_dir) if run_dir else None
        return ModelSource(str(model_dir), str(model_dir), config)
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"--run: {run_dir} is not a run folder (no config.yaml)")
    found = latest_checkpoint(run_dir)
    if found is None:
        raise ConfigError(f"--run: {run_dir}/checkpoints holds no complete checkpoint; "
                          "evaluate the starting model with --model instead")
    config = _run_config(run_dir)
    model_dir = found[0] / "model"
    if config is not None and config.lora_r > 0:
        model_dir = _merged_lora_folder(run_dir, found[0])
    return ModelSource(str(model_dir), f"{run_dir} @ {found[0].name}", config)


def _merged_lora_folder(run_dir: Path, checkpoint: Path) -> Path:
    """A LoRA checkpoint holds adapters only: evaluate the merged model ``sparkrl export``
    writes (into a temporary folder that lives as long as the process)."""
    import tempfile

    from sparkrl.export import export_run

    out = Path(tempfile.mkdtemp(prefix="sparkrl-eval-")) / "model"
    export_run(run_dir, out, checkpoint=checkpoint)
    return out


def run_evaluation(policy: SamplingPolicy, env: TextEnv, request: EvalRequest,
                   agent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure ``request`` asks for, per split, as plain data. ``agent``: the policy's
    prompt/action settings (``agent_fields`` of its run's rollout config; None = the defaults)."""
    tasks = {split: env.tasks(split)[:request.games] if request.games else env.tasks(split)
             for split in request.splits}
    results, _ = evaluate(policy, env, lambda task: env.spawn(), request.splits, request.games,
                          request.temperature, request.max_new_tokens, request.seed, agent)
    report: dict[str, Any] = {split: dataclasses.asdict(result) for split, result in results.items()}
    if request.samples:
        every_task = [task for split in request.splits for task in tasks[split]]
        forests = sample_games(policy, every_task, lambda task: env.spawn(), request.samples, request.max_steps,
                               request.temperature, request.max_new_tokens, request.seed, agent=agent)
        for split in request.splits:
            wins = wins_per_game([f for f in forests if f.split == split])
            report[split]["pass_at_k"] = {str(k): v for k, v in mean_pass_at_k(wins, request.samples, request.ks).items()}
            report[split]["samples"] = request.samples
    if request.branching is not None:
        every_task = [task for split in request.splits for task in tasks[split]]
        branched = branching_evaluate(policy, every_task, lambda task: env.spawn(), request.branching,
                                      request.max_steps, request.temperature, request.max_new_tokens, request.seed,
                                      agent)
        for split in request.splits:
            report[split]["branching"] = dataclasses.asdict(branched[split])
    return report


def evaluation_document(source: ModelSource, env_name: str, request: EvalRequest,
                        splits: dict[str, Any], agent: dict[str, Any] | None = None,
                        api: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``--json`` document: what was evaluated (``source``: local or api), how (the request,
    the agent's prompt/action settings), the per-split figures, and for an API model the
    endpoint's settings and counters (``api``: retries, failures, tokens from ``usage``)."""
    document = {"model": source.spec, "label": source.label, "source": source.source, "env": env_name,
                "request": to_dict(request)}
    if agent is not None:
        document["agent"] = dict(agent)
    document["splits"] = splits
    if api is not None:
        document["api"] = api
    return document


def print_report(console: Console, document: dict[str, Any]) -> None:
    """The per-split table, pass@k and branching if measured, then success per task type."""
    splits: dict[str, Any] = document["splits"]
    request = document["request"]
    scored = any(abs(r["score"] - r["success"]) > 1e-9 for r in splits.values())
    table = Table(title=f"{document['label']} on {document['env']} "
                        f"(one sample per game, T={request['temperature']}, no branching)")
    names = ["split", "games", "success"] + (["score"] if scored else []) + [
        "tokens/traj", "steps/traj", "explore", "repeat", "invalid"]
    for name in names:
        table.add_column(name, justify="left" if name == "split" else "right")
    for split, result in splits.items():
        cells = [split, str(result["games"]), f"{result['success']:.1%}"]
        cells += [f"{result['score']:.3f}"] if scored else []
        cells += [f"{result['tokens_per_trajectory']:.0f}", f"{result['steps_per_trajectory']:.1f}",
                  f"{result['explore_ratio']:.1%}", f"{result['repetition_ratio']:.1%}", f"{result['invalid_rate']:.1%}"]
        table.add_row(*cells)
    console.print(table)
    api = document.get("api")
    if api is not None:
        errors = ", ".join(f"{kind} {count}" for kind, count in api["errors"].items()) or "none"
        console.print(f"API run: {api['model']} at {api['base_url']}: {api['completions']} completions in "
                      f"{api['requests']} requests, {api['api_retries']} retries, {api['api_failures']} failed "
                      f"(scored invalid); errors: {errors}; tokens (from usage): {api['prompt_tokens']} prompt, "
                      f"{api['completion_tokens']} completion"
                      + (f"; {api['missing_usage']} replies without usage" if api["missing_usage"] else ""),
                      markup=False, highlight=False)
        if api.get("notes"):
            for note in api["notes"]:
                console.print(f"note: {note}", markup=False, highlight=False)
    if request["samples"] or request["branching"]:
        console.print(_beyond_one_sample_table(splits, request))
    by_type = Table(title="success by task type")
    by_type.add_column("split")
    by_type.add_column("task type")
    by_type.add_column("success", justify="right")
    if request["branching"]:
        by_type.add_column("branch vote", justify="right")
    for split, result in splits.items():
        for task_type, success in result["success_by_type"].items():
            cells = [split, task_type, f"{success:.1%}"]
            if request["branching"]:
                cells.append(f"{result['branching']['success_by_type'].get(task_type, 0.0):.1%}")
            by_type.add_row(*cells)
    console.print(by_type)


def _beyond_one_sample_table(splits: dict[str, Any], request: dict[str, Any]) -> Table:
    ks = [str(k) for k in request["ks"]] if request["samples"] else []
    branching = request["branching"]
    title = []
    if ks:
        title.append(f"pass@k from n={request['samples']} samples per game")
    if branching:
        title.append(f"test-time branching (N={branching['num_leaves']}, M={branching['num_roots']}, "
                     f"B={branching['branch_factor']}, majority vote)")
    table = Table(title="; ".join(title))
    table.add_column("split")
    for k in ks:
        table.add_column(f"pass@{k}", justify="right")
    if branching:
        for name in ("vote", "oracle", "leaves/game", "tokens/game"):
            table.add_column(name, justify="right")
    for split, result in splits.items():
        cells = [split] + [f"{result['pass_at_k'][k]:.1%}" for k in ks]
        if branching:
            branch = result["branching"]
            cells += [f"{branch['success']:.1%}", f"{branch['oracle_success']:.1%}",
                      f"{branch['leaves_per_game']:.1f}", f"{branch['tokens_per_game']:.0f}"]
        table.add_row(*cells)
    return table
