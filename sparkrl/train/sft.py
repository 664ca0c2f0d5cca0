"""Cold-start SFT: teach the policy the response format and the explore/think tags.

spark-method.md section 5: before RL, the policy is fine-tuned on successful expert (golden)
trajectories whose steps carry one-sentence reasons, ``<explore>`` where the expert searches
for something unknown and ``<think>`` otherwise. Each step is one sample, exactly as at
rollout time: the chat prompt with the history window, and the formatted response. The loss is
the token mean of the response's negative log-likelihood, computed by ``Policy.logprobs`` (the
learner's own scoring path), which scores response tokens only: prompt and padding carry none.

Training: AdamW with linear warmup then linear decay, gradient accumulation, length-bucketed
batches (samples of similar length share a batch, so little compute goes to padding), a rich
progress bar, and atomic checkpoints (``sparkrl.train.checkpoint``) that ``resume=True``
continues from. The result is an HF-format folder (``save_pretrained`` model and tokenizer)
next to the config as JSON and a per-step log.

Defaults (tiny model, household, measured on a shared 2-core box): 300 trajectories as in the
paper give 2,330 step samples of ~580 tokens (responses ~38). One optimizer step on 8 samples
takes 0.5 s on one thread and 0.29 s on two, so 3 epochs at batch 8 (876 steps) take 350-450 s
on one thread, about 4 minutes on two cores. Learning rates compared on that data: 3e-3 ended
at loss 0.32, 6e-3 at 0.40; with 120 trajectories batch 8 at 3e-3 reached 0.59 where batch 16
at 2e-3 stayed at 1.0. For a pretrained 135M-1.5B model use the paper's lr 1e-5 and batch 32
(``--lr 1e-5 --batch-size 8 --grad-accum 4``).

Output folder layout::

    model/              the fine-tuned model and tokenizer (what ``run_sft`` returns)
    sft_config.json     the config of the run
    sft_log.jsonl       one record per optimizer step (loss, learning rate, tokens)
    checkpoints/iter-NNNNNN/   model + optimizer, scheduler, step (for ``resume``)
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers import get_linear_schedule_with_warmup

from sparkrl.config import ConfigError, to_dict
from sparkrl.data.annotate import AnnotatedTrajectory, RuleAnnotator
from sparkrl.data.golden import collect_golden, load_jsonl
from sparkrl.progress import Heartbeat
from sparkrl.data.teacher import TeacherAnnotator, TeacherConfig
from sparkrl.envs import make
from sparkrl.models.loading import free_cores, load
from sparkrl.models.policy import Policy
from sparkrl.train.checkpoint import latest_checkpoint, save_checkpoint
from sparkrl.train.sft_config import SFTConfig

CONFIG_FILE = "sft_config.json"
LOG_FILE = "sft_log.jsonl"
MODEL_DIR = "model"

_BUCKET_BATCHES = 16
"""Batches per length bucket: samples are sorted by length within pools of this many batches."""

_RESUMABLE_FIELDS = ("resume", "threads", "progress", "save_every")
"""Fields a resumed run may change; any other difference would change the training itself."""


@dataclass(frozen=True)
class SFTSample:
    """One step to imitate: the prompt's token ids and the response's (ending with EOS)."""

    prompt_ids: list[int]
    response_ids: list[int]

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


def annotated_trajectories(config: SFTConfig, console: Console | None = None) -> list[AnnotatedTrajectory]:
    """Golden trajectories (from ``config.golden`` or played by the env's expert), annotated.

    What was lost on the way (episodes the expert did not win, trajectories the teacher
    annotation dropped) is printed to ``console``.
    """
    console = console or Console()
    if config.golden:
        golden = [t for t in load_jsonl(config.golden) if t.won][: config.trajectories]
    else:
        with make(config.env) as env:
            collection = collect_golden(env, env.tasks("train")[: config.trajectories])
        console.print(f"golden trajectories: {collection.summary()}")
        golden = collection.trajectories
    if not golden:
        raise ValueError("no won golden trajectory to train on")
    if config.annotator == "teacher":
        annotated, stats = TeacherAnnotator(TeacherConfig.from_env()).annotate_all(golden)
        console.print(f"teacher annotation: {stats.summary()}")
        if not annotated:
            raise ValueError("the teacher annotation dropped every trajectory")
        return annotated
    return RuleAnnotator(seed=config.seed, style=config.annotation).annotate_all(golden)


def encode_samples(
    policy: Policy,
    trajectories: Sequence[AnnotatedTrajectory],
    max_length: int,
    prompt_style: str = "paper",
    history_window: int | None = None,
) -> tuple[list[SFTSample], int]:
    """Tokenize every step; returns the samples and how many were dropped as too long.

    The response ends with the tokenizer's EOS (the chat template's end of turn) so the
    policy also learns to stop after the action block.
    """
    eos = policy.tokenizer.eos_token_id
    end = [eos] if eos is not None else []
    samples, dropped = [], 0
    for trajectory in trajectories:
        for messages, response in trajectory.chat_samples(history_window, prompt_style):
            sample = SFTSample(policy.encode(messages), policy.encode_text(response) + end)
            if sample.length > max_length:
                dropped += 1
            else:
                samples.append(sample)
    return samples, dropped


def bucket_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Index batches of similar-length samples, in a seeded random order.

    Samples are shuffled, cut into pools of ``_BUCKET_BATCHES`` batches, sorted by length
    within each pool and cut into batches; the batch order is shuffled again so the length
    does not grow through the epoch.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_size = batch_size * _BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start : start + pool_size], key=lambda index: lengths[index])
        batches.extend(pool[i : i + batch_size] for i in range(0, len(pool), batch_size))
    rng.shuffle(batches)
    return batches


def response_nll(policy: Policy, samples: Sequence[SFTSample]) -> tuple[torch.Tensor, int]:
    """Summed negative log-likelihood of the samples' response tokens, and their count."""
    scored = policy.logprobs([(sample.prompt_ids, sample.response_ids) for sample in samples])
    return -scored.logprobs.sum(), int(scored.mask.sum())


def _epoch_groups(lengths: Sequence[int], config: SFTConfig, epoch: int) -> list[list[list[int]]]:
    """The optimizer steps of ``epoch``: groups of ``grad_accum`` micro-batches of indices."""
    batches = bucket_batches(lengths, config.batch_size, seed=config.seed * 100_003 + epoch)
    return [batches[i : i + config.grad_accum] for i in range(0, len(batches), config.grad_accum)]


def _optimizer_step(
    policy: Policy,
    optimizer: torch.optim.Optimizer,
    micro_batches: list[list[SFTSample]],
    grad_clip: float,
) -> dict[str, float]:
    """One update on the token mean over all micro-batches; returns its figures."""
    tokens = sum(len(s.response_ids) for batch in micro_batches for s in batch)
    real = sum(s.length for batch in micro_batches for s in batch)
    padded = sum(len(batch) * max(s.length for s in batch) for batch in micro_batches)
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for batch in micro_batches:
        nll, _ = response_nll(policy, batch)
        (nll / tokens).backward()
        total += float(nll.detach())
    norm = torch.nn.utils.clip_grad_norm_(
        policy.model.parameters(), grad_clip if grad_clip > 0 else float("inf")
    )
    optimizer.step()
    return {"loss": total / tokens, "grad_norm": float(norm), "tokens": tokens, "padding": 1 - real / padded}


def _check_resumable(config: SFTConfig, output_dir: Path) -> None:
    saved = json.loads((output_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    current = to_dict(config)
    changed = [k for k in current if k not in _RESUMABLE_FIELDS and saved.get(k) != current[k]]
    if changed:
        raise ConfigError(
            f"cannot resume {output_dir}: {', '.join(changed)} differ from the saved run "
            f"(only {', '.join(_RESUMABLE_FIELDS)} may change)"
        )


def _checkpoint_due(config: SFTConfig, step: int, steps_per_epoch: int, total_steps: int) -> bool:
    if step == total_steps:
        return True
    if config.save_every:
        return step % config.save_every == 0
    return step % steps_per_epoch == 0


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]SFT[/] epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


def run_sft(config: SFTConfig, console: Console | None = None) -> Path:
    """Run (or, with ``config.resume``, continue) the SFT; returns the fine-tuned model folder.

    Raises ``FileExistsError`` when ``output_dir`` already holds a run and ``resume`` is off.
    """
    console = console or Console()
    threads = config.threads or free_cores()
    output_dir = Path(config.output_dir)
    checkpoint = latest_checkpoint(output_dir) if config.resume else None
    if checkpoint is None and not config.resume and (output_dir / CONFIG_FILE).exists():
        raise FileExistsError(f"{output_dir} already holds an SFT run; pass resume or another output_dir")
    if checkpoint is not None:
        _check_resumable(config, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / CONFIG_FILE).write_text(json.dumps(to_dict(config), indent=2) + "\n", encoding="utf-8")

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    policy = load(str(checkpoint[0] / MODEL_DIR) if checkpoint else config.model, threads=threads)
    trajectories = annotated_trajectories(config, console)
    max_length = min(config.max_length, policy.max_positions or config.max_length)
    samples, dropped = encode_samples(policy, trajectories, max_length, config.prompt_style, config.history_window)
    if not samples:
        raise ValueError(f"every sample is longer than max_length={max_length} tokens")
    lengths = [sample.length for sample in samples]
    steps_per_epoch = math.ceil(math.ceil(len(samples) / config.batch_size) / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    step = 0
    if checkpoint is not None:
        folder, state = checkpoint
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        console.print(f"resuming SFT from {folder.name} (step {step}/{total_steps})")
    console.print(
        f"SFT on {len(trajectories)} trajectories: {len(samples)} step samples "
        f"({dropped} over {max_length} tokens dropped), {total_steps} optimizer steps, {threads} threads"
    )

    policy.model.train()
    loss = float("nan")
    heartbeat = Heartbeat("SFT", stream=console.file, enabled=config.progress and not console.is_terminal)
    with _progress(console, config.progress) as progress, (output_dir / LOG_FILE).open("a") as log:
        bar = progress.add_task("sft", total=total_steps, completed=step, epoch=1, loss="-")
        for epoch in range(step // steps_per_epoch, config.epochs):
            groups = _epoch_groups(lengths, config, epoch)
            for group in groups[step - epoch * steps_per_epoch :]:
                lr = scheduler.get_last_lr()[0]
                figures = _optimizer_step(
                    policy, optimizer, [[samples[i] for i in batch] for batch in group], config.grad_clip
                )
                scheduler.step()
                step += 1
                loss = figures["loss"]
                record = {"step": step, "epoch": epoch + 1, "lr": lr, **figures}
                log.write(json.dumps(record) + "\n")
                progress.update(bar, completed=step, epoch=epoch + 1, loss=f"{loss:.3f}")
                heartbeat.beat(lambda: f"step {step}/{total_steps}, epoch {epoch + 1}, loss {loss:.3f}")
                if _checkpoint_due(config, step, steps_per_epoch, total_steps):
                    log.flush()
                    trainer_state = {
                        "step": step,
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "torch_rng": torch.get_rng_state(),
                    }
                    save_checkpoint(output_dir, step, policy.model, policy.tokenizer, trainer_state)
    policy.model.eval()
    model_dir = policy.save(output_dir / MODEL_DIR)
    seconds = time.perf_counter() - started
    summary = {
        "trajectories": len(trajectories),
        "samples": len(samples),
        "dropped_samples": dropped,
        "steps": total_steps,
        "final_loss": loss,
        "seconds": seconds,
        "threads": threads,
    }
    (output_dir / "sft_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    console.print(f"SFT done in {seconds:.0f}s, final loss {loss:.3f}: {model_dir}")
    return model_dir
