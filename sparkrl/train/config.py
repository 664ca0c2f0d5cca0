"""The configuration of a `sparkrl train` run: one typed tree, one YAML file per experiment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sparkrl.algos.advantages import ADVANTAGE_ESTIMATORS, AdvantageConfig
from sparkrl.algos.losses import LossConfig
from sparkrl.config import ConfigError, option, validate
from sparkrl.data.annotate import ANNOTATION_STYLES
from sparkrl.envs.base import SPLITS
from sparkrl.rollout.spark import RolloutConfig
from sparkrl.train.group_filter import DYNAMIC_SAMPLING_MODES
from sparkrl.train.run_log import LOGGERS

ALGOS = ("spark", "grpo", "gigpo", "fixed", "entropy")
ENGINES = ("auto", "hf", "vllm")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Attention and MLP projections of Llama-style models (Llama, Qwen2.5, SmolLM2, Gemma-3)."""


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and update schedule (spark-method.md §4)."""

    lr: float = option(1e-4, "AdamW learning rate (tiny-model default; the paper's is 1e-6 for 1.5B/7B)", low=0.0)
    weight_decay: float = option(0.01, "AdamW weight decay", low=0.0)
    grad_clip: float = option(1.0, "max global gradient norm", low=0.0)
    ppo_epochs: int = option(1, "passes over each iteration's rows", low=1)
    minibatches: int = option(1, "optimizer steps per epoch (rows split evenly)", low=1)
    micro_batch_tokens: int = option(
        8192, "padded tokens per forward/backward chunk (memory bound; does not change the maths)", low=64
    )
    warmup_iterations: int = option(
        0, "linear learning-rate warmup over this many iterations (0 = constant lr)", low=0
    )
    max_nonfinite_updates: int = option(
        3, "stop the run after this many consecutive iterations with a NaN/inf loss or gradient", low=1
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation protocol (spark-method.md §6): one sample per game, no branching."""

    splits: tuple[str, ...] = option(("L0", "L1", "L2"), "splits to evaluate")
    games: int = option(100, "games per split (0 = the whole split); 100 resolves a 10-point paired difference", low=0)
    temperature: float = option(0.4, "sampling temperature", low=0.0)
    max_new_tokens: int = option(64, "longest response in tokens", low=1)

    def __post_init__(self) -> None:
        validate(self)
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise ConfigError(f"splits: {unknown[0]!r} is not a split; choose from {', '.join(SPLITS)}")


@dataclass(frozen=True)
class ColdStartConfig:
    """The cold-start SFT that teaches the reasoning tags before RL (spark-method.md §5).
    The fields a run tunes; the rest are `sparkrl.train.sft.SFTConfig` defaults."""

    enabled: bool = option(True, "run (or reuse the cached) cold-start SFT before RL")
    trajectories: int = option(300, "expert trajectories to annotate and train on (paper: ~300)", low=1)
    epochs: int = option(3, "SFT epochs", low=1)
    lr: float = option(3e-3, "SFT learning rate (tiny model; the paper's 1e-5 is for 1.5B models)", low=0.0)
    batch_size: int = option(8, "SFT samples per optimizer step", low=1)
    annotation: str = option("short", "rule annotation style: short (tiny default) or sentence (real LMs)",
                             choices=ANNOTATION_STYLES)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class TrainConfig:
    """Everything `sparkrl train` needs. Defaults: the tiny demonstration (household-small, tiny
    model, compact prompt, short annotations, constrained actions), Spark. Real LMs take the
    paper's path: `configs/paper/*.yaml` and `configs/smollm2-household.yaml` set the full env,
    the paper prompt, sentence annotations and free-text actions."""

    env: str = option("household-small", "registered environment name (the tiny default plays small rooms)")
    model: str = option("tiny", "model spec: tiny | smollm2-135m | gemma3-270m | HF folder or hub name")
    algo: str = option("spark", "algorithm label written to the run (see `apply_algo`)", choices=ALGOS)
    estimator: str = option("spark", "advantage estimator", choices=tuple(sorted(ADVANTAGE_ESTIMATORS)))
    seed: int = option(0, "seed of task sampling, rollouts and initialisation", low=0)
    iterations: int = option(8, "RL iterations (rollout + update); the paper runs 120", low=0)
    tasks_per_iteration: int = option(4, "tasks (groups) per iteration; the paper uses 16", low=1)
    dynamic_sampling: str = option(
        "off", "DAPO-style filter of groups whose leaves all won or all lost: off | skip | resample",
        choices=DYNAMIC_SAMPLING_MODES,
    )
    resample_rounds: int = option(2, "extra rollout rounds `resample` may take per iteration", low=0)
    run_dir: str = option("", "run folder; empty = runs/<algo>-<env>-<model>-s<seed>")
    save_every: int = option(10, "checkpoint every this many iterations (0 = only at the end)", low=0)
    eval_every: int = option(0, "evaluate every this many iterations (0 = only before and after)", low=0)
    threads: int = option(0, "torch threads (0 = the free cores)", low=0)
    logger: str = option("tensorboard", "metrics sink beside metrics.jsonl: tensorboard, wandb (W&B and "
                         "TensorBoard; $WANDB_MODE=offline for no network) or none", choices=LOGGERS)
    wandb_project: str = option("sparkrl", "W&B project of `logger: wandb` runs")
    workers: int = option(0, "Ray env worker processes stepping envs in parallel (0 or 1 = in-process)", low=0)
    worker_timeout: float = option(
        300.0, "seconds an env worker may take for one call (reset, step, fork) before the run stops", low=1.0
    )
    engine: str = option("auto", "rollout generation: auto = vLLM when CUDA and vllm are present, else HF",
                         choices=ENGINES)
    lora_r: int = option(0, "LoRA rank (peft); 0 = full fine-tuning", low=0)
    lora_alpha: float = option(16.0, "LoRA scale numerator (updates are scaled by alpha / r)", low=0.0)
    lora_targets: tuple[str, ...] = option(LORA_TARGETS, "module names that get LoRA adapters")
    rollout: RolloutConfig = option(
        default_factory=lambda: RolloutConfig(max_new_tokens=64, prompt_style="compact", constrain_actions=True),
        help="rollout shape (tiny default: short responses, compact prompt, admissible actions by construction)",
    )
    advantage: AdvantageConfig = option(default_factory=AdvantageConfig, help="estimator constants")
    loss: LossConfig = option(default_factory=LossConfig, help="loss coefficients")
    optim: OptimConfig = option(default_factory=OptimConfig, help="optimiser")
    cold_start: ColdStartConfig = option(default_factory=ColdStartConfig, help="cold-start SFT")
    eval: EvalConfig = option(default_factory=EvalConfig, help="evaluation protocol")

    def __post_init__(self) -> None:
        validate(self)
        if self.lora_r > 0 and not self.lora_targets:
            raise ConfigError("lora_targets: LoRA (lora_r > 0) needs at least one module name")


def apply_algo(config: TrainConfig, algo: str) -> TrainConfig:
    """Set the trigger, roots and estimator that define ``algo`` at the same budget N:

    spark = explore trigger, M roots, spark estimator; grpo = N independent chains, grpo;
    gigpo = N independent chains, gigpo; fixed / entropy = the paper's trigger ablations with
    Spark's M and estimator.
    """
    if algo not in ALGOS:
        raise ConfigError(f"algo: {algo!r} is not allowed; choose one of {', '.join(ALGOS)}")
    rollout = config.rollout
    if algo in ("grpo", "gigpo"):
        rollout = dataclasses.replace(rollout, trigger="none", num_roots=rollout.num_leaves)
        estimator = algo
    else:
        trigger = "explore" if algo == "spark" else algo
        roots = rollout.num_roots if rollout.num_roots < rollout.num_leaves else RolloutConfig().num_roots
        rollout = dataclasses.replace(rollout, trigger=trigger, num_roots=min(roots, rollout.num_leaves))
        estimator = "spark"
    return dataclasses.replace(config, algo=algo, estimator=estimator, rollout=rollout)
