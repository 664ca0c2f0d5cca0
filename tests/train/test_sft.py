"""Cold-start SFT with the real tiny model on real household expert trajectories."""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
from pathlib import Path

import pytest
import torch

from sparkrl.config import ConfigError, to_dict
from sparkrl.data.annotate import RuleAnnotator
from sparkrl.data.golden import collect_golden
from sparkrl.envs import make
from sparkrl.models.loading import load
from sparkrl.train.sft import (
    CONFIG_FILE,
    LOG_FILE,
    SFTConfig,
    SFTSample,
    bucket_batches,
    encode_samples,
    response_nll,
    run_sft,
)
from sparkrl.train.sft_config import add_sft_arguments, sft_config_from_args


@pytest.fixture(scope="module")
def policy():
    torch.set_num_threads(1)
    return load("tiny", threads=1)


@pytest.fixture(scope="module")
def samples(policy) -> list[SFTSample]:
    env = make("household")
    golden = collect_golden(env, env.tasks("train")[:2]).trajectories
    encoded, dropped = encode_samples(policy, RuleAnnotator().annotate_all(golden), max_length=4096)
    assert dropped == 0
    return encoded


def _sequence_nll(model: torch.nn.Module, ids: list[int], scored_from: int) -> torch.Tensor:
    """NLL of ids[scored_from:] given their prefixes, from one unpadded forward pass."""
    logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    log_probs = torch.log_softmax(logits[:-1], dim=-1)
    targets = torch.tensor(ids[1:])
    token_nll = -log_probs.gather(-1, targets[:, None]).squeeze(-1)
    return token_nll[scored_from - 1 :].sum()


def test_samples_are_prompt_then_formatted_response_ending_in_eos(policy, samples) -> None:
    first = samples[0]
    prompt_text = policy.decode(first.prompt_ids, skip_special_tokens=False)
    assert prompt_text.startswith("<|im_start|>system\n") and prompt_text.endswith("<|im_start|>assistant\n")
    assert first.response_ids[-1] == policy.tokenizer.eos_token_id
    response = policy.decode(first.response_ids)
    assert response.startswith(("<think>", "<explore>")) and response.endswith("</action>")


def test_loss_counts_response_tokens_only(policy, samples) -> None:
    batch = [samples[0], samples[3], samples[5]]  # different prompt lengths: padding is exercised
    assert len({s.length for s in batch}) == 3
    with torch.no_grad():
        nll, tokens = response_nll(policy, batch)
        expected = sum(_sequence_nll(policy.model, s.prompt_ids + s.response_ids, len(s.prompt_ids)) for s in batch)
        whole = sum(_sequence_nll(policy.model, s.prompt_ids + s.response_ids, 1) for s in batch)
    assert tokens == sum(len(s.response_ids) for s in batch)
    torch.testing.assert_close(nll, expected, rtol=1e-4, atol=1e-3)
    assert float(whole) > float(nll) + 100  # the prompt tokens would weigh a lot if they counted


def test_bucket_batches_cover_every_sample_once_with_less_padding() -> None:
    lengths = [random.Random(i).randrange(50, 800) for i in range(500)]
    batches = bucket_batches(lengths, batch_size=16, seed=3)
    assert sorted(i for batch in batches for i in batch) == list(range(500))
    assert bucket_batches(lengths, 16, seed=3) == batches and bucket_batches(lengths, 16, seed=4) != batches

    def padding(split: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in split)

    unsorted = [list(range(i, min(i + 16, 500))) for i in range(0, 500, 16)]
    assert padding(batches) < padding(unsorted) / 3


def _config(output_dir: Path, **overrides: object) -> SFTConfig:
    fields = dict(trajectories=2, epochs=2, batch_size=4, save_every=2, lr=3e-3, warmup_ratio=0.34, threads=1,
                  progress=False, output_dir=str(output_dir))
    fields.update(overrides)
    return SFTConfig(**fields)


def test_run_writes_model_config_log_and_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight = run_sft(_config(tmp_path / "straight"))
    summary = json.loads((tmp_path / "straight" / "sft_summary.json").read_text())
    assert summary["steps"] == 2 * math.ceil(summary["samples"] / 4) >= 6
    log = [json.loads(line) for line in (tmp_path / "straight" / LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, summary["steps"] + 1))
    assert log[-1]["loss"] < log[0]["loss"]
    peak = max(r["lr"] for r in log)
    assert peak == pytest.approx(3e-3) and log[0]["lr"] < peak and log[-1]["lr"] < peak  # warmup, decay
    assert json.loads((tmp_path / "straight" / CONFIG_FILE).read_text()) == to_dict(_config(tmp_path / "straight"))
    tuned = load(str(straight), threads=1)
    assert tuned.tokenizer.eos_token == "<|im_end|>"

    # an interrupted run: same config, its checkpoints after step 2 lost
    interrupted = tmp_path / "interrupted"
    run_sft(_config(interrupted))
    for folder in (interrupted / "checkpoints").glob("iter-*"):
        if folder.name != "iter-000002":
            shutil.rmtree(folder)
    with pytest.raises(FileExistsError):
        run_sft(_config(interrupted))
    with pytest.raises(ConfigError, match="lr"):
        run_sft(_config(interrupted, lr=1e-2, resume=True))
    resumed = load(str(run_sft(_config(interrupted, resume=True, save_every=0))), threads=1)
    resumed_log = (interrupted / LOG_FILE).read_text().splitlines()
    resumed_steps = [json.loads(line)["step"] for line in resumed_log[len(log) :]]
    assert resumed_steps == list(range(3, summary["steps"] + 1))
    for name, weight in tuned.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], weight, rtol=0, atol=0, msg=name)


def test_cli_arguments_build_the_config() -> None:
    parser = argparse.ArgumentParser()
    add_sft_arguments(parser)
    args = parser.parse_args(["--lr", "0.01", "--no-progress", "--annotator", "teacher", "--grad-accum", "4"])
    config = sft_config_from_args(args)
    assert config == SFTConfig(lr=0.01, progress=False, annotator="teacher", grad_accum=4)
    with pytest.raises(SystemExit):
        parser.parse_args(["--annotator", "oracle"])
    with pytest.raises(ConfigError):
        SFTConfig(batch_size=0)
