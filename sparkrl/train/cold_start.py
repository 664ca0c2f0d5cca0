"""The policy RL starts from: the cold-start SFT model (cached), or the raw model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from rich.console import Console

from sparkrl.config import to_dict
from sparkrl.models.loading import cache_dir, load
from sparkrl.models.policy import Policy
from sparkrl.train.config import TrainConfig
from sparkrl.train.sft import CONFIG_FILE, MODEL_DIR, SFTConfig, run_sft


def cold_start_config(config: TrainConfig, output_dir: str = "") -> SFTConfig:
    """The SFT run a train config asks for."""
    cold = config.cold_start
    return SFTConfig(model=config.model, env=config.env, trajectories=cold.trajectories, epochs=cold.epochs,
                     lr=cold.lr, batch_size=cold.batch_size, seed=config.seed, output_dir=output_dir,
                     threads=config.threads)


def cached_sft_dir(sft: SFTConfig) -> Path:
    """Where the SFT of ``sft`` is cached: keyed by every field that changes its result."""
    identity = {k: v for k, v in to_dict(sft).items() if k not in ("output_dir", "resume", "threads", "progress")}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    model = Path(sft.model).name or sft.model
    return cache_dir() / "sft" / f"{sft.env}-{model}-{key}"


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
