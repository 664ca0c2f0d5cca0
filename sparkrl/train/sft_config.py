"""The cold-start SFT's configuration and its command-line flags (no torch import, so the CLI
can build its parser instantly)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass

from sparkrl.agent.prompt import PROMPT_STYLES
from sparkrl.config import option, validate
from sparkrl.data.annotate import ANNOTATION_STYLES


@dataclass(frozen=True)
class SFTConfig:
    """A cold-start SFT run. Defaults fit the tiny model on a 2-core laptop in minutes."""

    model: str = option("tiny", "model spec for sparkrl.models.load: tiny, a GGUF name, an HF folder")
    env: str = option("household", "registered env whose expert plays the golden trajectories")
    trajectories: int = option(
        300, "train-split tasks the expert plays (won ones are kept); ~300 as in the paper", low=1
    )
    golden: str = option("", "JSONL of golden trajectories to train on instead of playing the expert")
    annotator: str = option(
        "rule", "who writes the reasons: rule (built in) or teacher (SPARKRL_TEACHER_* endpoint)",
        choices=("rule", "teacher"),
    )
    annotation: str = option(
        "sentence", "rule annotation style: sentence (templated sentences) or short (a few words)",
        choices=ANNOTATION_STYLES,
    )
    prompt_style: str = option(
        "paper", "prompt style of the samples; must match the RL rollout's: paper or compact",
        choices=PROMPT_STYLES,
    )
    history_window: int = option(5, "past (observation, action) pairs in each sample's prompt", low=0)
    lr: float = option(
        3e-3, "peak AdamW learning rate (tiny model; use the paper's 1e-5 for 135M-1.5B models)",
        low=0.0,
    )
    epochs: int = option(3, "passes over the samples", low=1)
    batch_size: int = option(8, "samples per forward/backward micro-batch", low=1)
    grad_accum: int = option(
        1, "micro-batches per optimizer step (effective batch = batch_size x this)", low=1
    )
    warmup_ratio: float = option(
        0.05, "fraction of optimizer steps spent warming the learning rate up", low=0.0, high=1.0
    )
    weight_decay: float = option(0.01, "AdamW weight decay", low=0.0)
    grad_clip: float = option(1.0, "max global gradient norm (0 = no clipping)", low=0.0)
    max_length: int = option(
        2048, "longest sample in tokens (prompt + response); longer ones are dropped", low=8
    )
    seed: int = option(0, "seed of annotation, batch order and initialisation", low=0)
    output_dir: str = option("runs/sft-household-tiny", "folder for the model, config, log and checkpoints")
    resume: bool = option(False, "continue from the newest checkpoint in output_dir")
    save_every: int = option(0, "checkpoint every this many optimizer steps (0 = at each epoch end)", low=0)
    threads: int = option(0, "torch threads (0 = the free cores)", low=0)
    progress: bool = option(True, "show a progress bar")

    def __post_init__(self) -> None:
        validate(self)



def add_sft_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per ``SFTConfig`` field (booleans get ``--x/--no-x``)."""
    hints = typing.get_type_hints(SFTConfig)
    for field in dataclasses.fields(SFTConfig):
        flag = "--" + field.name.replace("_", "-")
        help_text = field.metadata.get("help", "")
        if hints[field.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help_text)
        else:
            parser.add_argument(
                flag,
                type=hints[field.name],
                default=field.default,
                choices=field.metadata.get("choices"),
                help=f"{help_text} (default: {field.default})",
            )


def sft_config_from_args(args: argparse.Namespace) -> SFTConfig:
    """The ``SFTConfig`` parsed by a parser that ``add_sft_arguments`` set up."""
    return SFTConfig(**{field.name: getattr(args, field.name) for field in dataclasses.fields(SFTConfig)})

