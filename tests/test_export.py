"""`sparkrl export` on real one-iteration tiny runs (full fine-tuning and LoRA): the folder loads
with transformers alone (checked in a subprocess where importing sparkrl fails) and scores a fixed
prompt + response exactly as the run's checkpoint does through sparkrl; its generation config
stops at </action>; its card names the training command and the prompt format; bad inputs are
refused with one line naming the path."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console

from sparkrl.agent.compact import COMPACT_SYSTEM_PROMPT
from sparkrl.agent.prompt import History, build_messages, format_response
from sparkrl.cli import main
from sparkrl.config import from_dict, load_yaml
from sparkrl.eval.stats import wilson_text
from sparkrl.export import ACTION_END, eval_table, export_run, stop_settings
from sparkrl.models import load
from sparkrl.train.checkpoint import latest_checkpoint
from sparkrl.train.config import TrainConfig
from sparkrl.train.rl import train

# One iteration of one tiny task group, no cold start, no evaluation: a few seconds per run.
# lr 1e-2 so that one update visibly moves the weights (and the LoRA adapters off zero).
CONFIG = """\
iterations: 1
tasks_per_iteration: 1
save_every: 1
threads: 1
rollout:
  num_leaves: 2
  num_roots: 1
  max_steps: 2
  max_new_tokens: 12
optim:
  lr: 0.01
cold_start:
  enabled: false
eval:
  splits: []
"""
COMMAND = {"plain": "sparkrl train --config tiny-export.yaml", "lora": "sparkrl train --config tiny-export.yaml --lora-r 2"}

# Runs in a fresh interpreter where `import sparkrl` fails: the exported folder must load, score
# and generate with transformers alone.
PLAIN_HF = r"""
import json, sys
sys.modules["sparkrl"] = None  # any import of sparkrl now raises ImportError
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LogitsProcessor, LogitsProcessorList

job = json.loads(sys.stdin.read())
torch.set_num_threads(1)


class Force(LogitsProcessor):
    # Forces the new tokens `ids` one by one, then leaves the logits alone.
    def __init__(self, start, ids):
        self.start, self.ids = start, ids

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.start
        if step < len(self.ids):
            scores = torch.full_like(scores, float("-inf"))
            scores[:, self.ids[step]] = 0.0
        return scores


results = {}
for name, folder in job["folders"].items():
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    text = tokenizer.apply_chat_template(job["messages"], tokenize=False, add_generation_prompt=True)
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    response = tokenizer(job["response"], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + response])).logits[0, len(prompt) - 1:-1].float()
        logprobs = torch.log_softmax(logits, -1).gather(-1, torch.tensor(response)[:, None])[:, 0]
        # `<action>`, one word, `</action>`: generate must stop there by the folder's own config.
        forced = tokenizer(job["forced"], add_special_tokens=False)["input_ids"]
        out = model.generate(torch.tensor([prompt]), logits_processor=LogitsProcessorList([Force(len(prompt), forced)]),
                             **({"tokenizer": tokenizer} if model.generation_config.stop_strings else {}))
    results[name] = {
        "prompt_ids": prompt, "response_ids": response, "logprobs": logprobs.tolist(),
        "forced_ids": forced, "generated_ids": out[0, len(prompt):].tolist(),
        "generation_config": GenerationConfig.from_pretrained(folder).to_dict(),
        "action_end_id": tokenizer.convert_tokens_to_ids("</action>"),
        "sparkrl_modules": sorted(m for m in sys.modules if m.startswith("sparkrl") and sys.modules[m] is not None),
    }
print(json.dumps(results))
"""


def _messages(style: str) -> list[dict[str, str]]:
    history = History(5)
    history.append("You arrive at countertop 1. On the countertop 1, you see a apple 1.", "take apple 1 from countertop 1")
    return build_messages("put a clean apple in fridge.", "You pick up the apple 1 from the countertop 1.",
                          ["go to fridge 1", "go to sinkbasin 1", "look"], history, style)


RESPONSE = format_response("explore", "fridge 1 or sinkbasin 1", "go to fridge 1")


def _train(root: Path, name: str, extra: dict) -> Path:
    data = {**yaml.safe_load(CONFIG), **extra, "run_dir": str(root / name)}
    train(from_dict(TrainConfig, data), command=COMMAND[name], console=Console(file=io.StringIO()))
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export-runs")
    made = {"plain": _train(root, "plain", {})}
    try:
        import peft  # noqa: F401
    except ImportError:
        return made
    made["lora"] = _train(root, "lora", {"lora_r": 2})
    return made


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory) -> dict[str, Path]:
    """plain: through the CLI; lora: through ``export_run``."""
    root = tmp_path_factory.mktemp("exported")
    folders = {name: root / name for name in runs}
    assert main(["export", str(runs["plain"]), "--out", str(folders["plain"])]) == 0
    if "lora" in runs:
        result = export_run(runs["lora"], folders["lora"])
        assert result.merged_lora and result.iteration == 1 and result.stop.how == "eos_token_id"
    return folders


@pytest.fixture(scope="module")
def plain_hf(exported) -> dict[str, dict]:
    """What transformers alone makes of each exported folder (one subprocess for both)."""
    job = {"folders": {k: str(v) for k, v in exported.items()}, "messages": _messages("compact"),
           "response": RESPONSE, "forced": "<action>look" + ACTION_END}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    done = subprocess.run([sys.executable, "-c", PLAIN_HF], input=json.dumps(job), capture_output=True, text=True,
                          env=env, cwd=exported["plain"].parent, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _variant(runs, name):
    if name not in runs:
        pytest.skip("LoRA needs peft")
    return runs[name]


def _sparkrl_policy(run_dir: Path, name: str):
    """The run's newest checkpoint as sparkrl itself loads it: ``load`` on the model folder, or
    for LoRA the learner's own resume path (base + adapters, unmerged)."""
    found = latest_checkpoint(run_dir)
    assert found is not None
    if name == "plain":
        return load(str(found[0] / "model"), threads=1)
    from sparkrl.train.rl import _policy_and_reference

    config = load_yaml(TrainConfig, run_dir / "config.yaml")
    policy, _ = _policy_and_reference(config, found, Console(file=io.StringIO()))
    return policy


@pytest.mark.parametrize("name", ["plain", "lora"])
def test_exported_folder_scores_like_the_checkpoint_without_sparkrl(runs, exported, plain_hf, name):
    run_dir = _variant(runs, name)
    hf = plain_hf[name]
    assert hf["sparkrl_modules"] == []
    policy = _sparkrl_policy(run_dir, name)
    prompt, response = policy.encode(_messages("compact")), policy.encode_text(RESPONSE)
    assert hf["prompt_ids"] == prompt, "the chat template did not survive the export"
    assert hf["response_ids"] == response
    with torch.no_grad():
        expected = policy.logprobs([(prompt, response)]).logprobs[0]
    torch.testing.assert_close(torch.tensor(hf["logprobs"]), expected, atol=1e-5, rtol=0)
    # the training moved the weights, so the comparison is not against an untouched base model
    with torch.no_grad():
        base = load("tiny", threads=1).logprobs([(prompt, response)]).logprobs[0]
    assert (expected - base).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["plain", "lora"])
def test_exported_folder_is_plain_safetensors_with_the_tokenizer(runs, exported, name):
    run_dir = _variant(runs, name)
    out = exported[name]
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md"} <= files
    assert not any(f.startswith("adapter_") or f.endswith((".bin", ".pt")) for f in files), files
    assert "auto_map" not in json.loads((out / "config.json").read_text())
    model_dir = latest_checkpoint(run_dir)[0] / "model"
    assert (out / "chat_template.jinja").read_text() == (model_dir / "chat_template.jinja").read_text()
    assert oct((out / "model.safetensors").stat().st_mode & 0o044) == oct(0o044), "weights not readable by others"


@pytest.mark.parametrize("name", ["plain", "lora"])
def test_generation_config_stops_at_action_with_the_eval_sampling(runs, plain_hf, name):
    run_dir = _variant(runs, name)
    config = load_yaml(TrainConfig, run_dir / "config.yaml")
    hf = plain_hf[name]
    generation = hf["generation_config"]
    assert hf["action_end_id"] in generation["eos_token_id"]  # </action> is one token in the tiny vocabulary
    assert generation["temperature"] == config.eval.temperature == 0.4
    assert generation["max_new_tokens"] == config.eval.max_new_tokens
    assert generation["do_sample"] is True and generation["top_k"] == 0
    # model.generate, given only the folder's config, ends right after the forced </action>
    assert hf["generated_ids"] == hf["forced_ids"] and hf["forced_ids"][-1] == hf["action_end_id"]


@pytest.mark.parametrize("name", ["plain", "lora"])
def test_card_names_command_prompt_and_env(runs, exported, name):
    _variant(runs, name)
    card = (exported[name] / "README.md").read_text()
    assert f"```bash\n{COMMAND[name]}\n```" in card
    assert "Prompt style: **compact**" in card and COMPACT_SYSTEM_PROMPT in card
    assert "<explore>...</explore>" in card and "<think>...</think>" in card and "<action>" in card
    assert "`household-small`" in card
    assert "eos_token_id" in card
    assert ("merged into the base weights" in card) == (name == "lora")
    assert "evaluated no split" in card


def test_eval_table_reads_summary_json():
    wins_before = {f"t{i}": i < 3 for i in range(10)}
    wins_after = {f"t{i}": i < 6 for i in range(10)}
    summary = {"before": {"L0": {"games": 10, "success": 0.3, "wins": wins_before}},
               "after": {"L0": {"games": 10, "success": 0.6, "wins": wins_after, "invalid_rate": 0.02,
                                "inadmissible_rate": 0.0, "explore_ratio": 0.25}}}
    lines = eval_table(summary)
    assert lines[0].startswith("| split | games | before RL | after RL | paired gain")
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:4] == ["L0", "10", wilson_text(3, 10), wilson_text(6, 10)]
    assert cells[4].startswith("+30 [") and cells[5:] == ["2.0%", "0.0%", "25.0%"]
    assert "not finished" in eval_table(None)[0]


def test_stop_string_when_action_end_is_several_tokens():
    class Split:
        eos_token_id = 2

        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    stop = stop_settings(Split())
    assert stop.how == "stop_strings" and stop.stop_strings == [ACTION_END] and stop.eos_token_id == [2]


def test_newest_complete_checkpoint_is_exported(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs["plain"], run_dir)
    broken = run_dir / "checkpoints" / "iter-000002"
    shutil.copytree(run_dir / "checkpoints" / "iter-000001", broken)
    weights = broken / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # torn write
    result = export_run(run_dir, tmp_path / "out")
    assert result.checkpoint.name == "iter-000001" and result.skipped and "iter-000002" in result.skipped[0]
    with pytest.raises(ValueError, match="iter-000002 is not a complete checkpoint"):
        export_run(run_dir, tmp_path / "out2", checkpoint=broken)
    assert not (tmp_path / "out2").exists()


def test_refusals_name_the_path(runs, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.yaml").write_text((runs["plain"] / "config.yaml").read_text())
    with pytest.raises(FileNotFoundError, match=f"{bare / 'checkpoints'} holds no complete checkpoint"):
        export_run(bare, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        export_run(tmp_path / "nowhere", tmp_path / "out")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match=f"--out {taken} exists and is not empty"):
        export_run(runs["plain"], taken)
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging folder left behind"

    capsys.readouterr()
    assert main(["export", str(bare), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sparkrl export: ") and str(bare) in err[0]
    assert main(["export", str(runs["plain"]), "--out", str(taken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(taken) in err[0]


def test_an_empty_out_folder_is_used(runs, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = export_run(runs["plain"], out, checkpoint=latest_checkpoint(runs["plain"])[0] / "model")
    assert result.out == out and (out / "model.safetensors").is_file()
    assert not dataclasses.asdict(result)["skipped"]
