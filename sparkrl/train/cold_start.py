"""The policy RL starts from: the cold-start SFT model (cached), or the raw model."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from pathlib import Path

from rich.console import Console

from sparkrl.config import to_dict
from sparkrl.envs.registry import env_label
from sparkrl.models.loading import cache_dir, load
from sparkrl.models.policy import Policy
from sparkrl.rollout.spark import agent_fields
from sparkrl.train.config import TrainConfig
from sparkrl.train.sft import CONFIG_FILE, MODEL_DIR, SFTConfig, run_sft


def cold_start_config(config: TrainConfig, output_dir: str = "") -> SFTConfig:
    """The SFT run a train config asks for."""
    cold = config.cold_start
    return SFTConfig(model=config.model, env=config.env, trajectories=cold.trajectories, epochs=cold.epochs,
                     lr=cold.lr, batch_size=cold.batch_size, annotation=cold.annotation,
                     prompt_style=config.rollout.prompt_style, history_window=config.rollout.history_window,
                     seed=config.seed, output_dir=output_dir, threads=config.threads)


SFT_DATA_MODULES = ("sparkrl.agent.prompt", "sparkrl.agent.compact", "sparkrl.data.annotate", "sparkrl.data.golden", "sparkrl.train.sft")
"""Modules whose code decides what the SFT trains on and how: part of the cache key, so editing
the prompt or the annotation templates retrains instead of reusing a stale model."""


def _code_digest(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in modules:
        digest.update(Path(importlib.import_module(name).__file__ or name).read_bytes())
    return digest.hexdigest()[:12]


def cached_sft_dir(sft: SFTConfig) -> Path:
    """Where the SFT of ``sft`` is cached: keyed by every field that changes its result and by
    the code of ``SFT_DATA_MODULES``."""
    identity = {k: v for k, v in to_dict(sft).items() if k not in ("output_dir", "resume", "threads", "progress")}
    identity["code"] = _code_digest(SFT_DATA_MODULES)
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    model = Path(sft.model).name or sft.model
    return cache_dir() / "sft" / f"{env_label(sft.env)}-{model}-{key}"


def initial_policy(config: TrainConfig, console: Console) -> Policy:
    """Load the cold-started policy, running the SFT once per distinct SFT config."""
    if not config.cold_start.enabled:
        return load(config.model, threads=config.threads or None)
    target = cached_sft_dir(cold_start_config(config))
    model_dir = target / MODEL_DIR
    if (model_dir / "config.json").exists():
        console.print(f"cold start: reusing cached SFT model {model_dir}")
    else:
        # An SFT interrupted in the cache folder is resumed rather than refused.
        sft = dataclasses.replace(cold_start_config(config, str(target)),
                                  resume=(target / CONFIG_FILE).exists())
        model_dir = run_sft(sft, console)
    return load(str(model_dir), threads=config.threads or None)


def starting_model_dir(config: TrainConfig) -> Path | None:
    """The folder of the model RL starts from when it is a fixed file set (the cached SFT, or a
    local model folder), else None (a model built or downloaded by name)."""
    if config.cold_start.enabled:
        return cached_sft_dir(cold_start_config(config)) / MODEL_DIR
    folder = Path(config.model)
    return folder if folder.is_dir() else None


def cached_start_eval_file(config: TrainConfig) -> Path | None:
    """Where the "before RL" evaluation of the starting model is kept, keyed by everything that
    decides it (env, horizon, eval protocol, seed): every run and every `compare` arm that starts
    from the same model then evaluates it once."""
    folder = starting_model_dir(config)
    if folder is None:
        return None
    identity = {"env": config.env, "max_steps": config.rollout.max_steps, "eval": to_dict(config.eval),
                "seed": config.seed, **agent_fields(config.rollout),
                "code": _code_digest(("sparkrl.eval.evaluate", "sparkrl.rollout.spark", "sparkrl.agent.prompt",
                                     "sparkrl.agent.compact", "sparkrl.models.constrained"))}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return folder.parent / f"start-eval-{key}.json"
