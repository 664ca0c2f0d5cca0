"""`sparkrl export`: a run's checkpoint as a plain Hugging Face model folder.

The folder loads with ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``
alone (no sparkrl, no peft) and holds:

- ``model.safetensors`` and ``config.json``: the checkpoint's weights; for a LoRA run
  (``lora_r > 0``) the base model with each adapter's update ``B·A·alpha/r`` added
  (``sparkrl.models.lora.merged_weights``, the same merge the vLLM engine syncs);
- the tokenizer with the chat template the run trained with;
- ``generation_config.json``: the run's evaluation sampling (temperature, max_new_tokens, no
  top-k / top-p truncation) stopping at ``</action>``, as an EOS id when ``</action>`` is one
  token of the vocabulary, else as a ``stop_strings`` entry;
- ``README.md``: a model card with the prompt format, the env, the exact training command and
  the evaluation table of the run's ``summary.json``.

The checkpoint is the run's newest complete one (its SHA-256 manifest verified, as
``sparkrl train --resume`` picks it) or the one ``--checkpoint`` names (verified the same way).
The folder is written to a staging folder and renamed into place, so a failed export leaves
nothing behind.

Layering: this module reads train's checkpoints and configs and eval's statistics, so it sits
above both, next to the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sparkrl.agent.prompt import ACTION_TAG, EXPLORE_TAG, THINK_TAG, History, build_messages
from sparkrl.config import load_yaml
from sparkrl.eval.stats import gain_text, paired_gain, success_text
from sparkrl.train.checkpoint import CheckpointError, check_checkpoint, latest_checkpoint
from sparkrl.train.config import TrainConfig

ACTION_END = f"</{ACTION_TAG}>"
CARD_FILE = "README.md"


@dataclass(frozen=True)
class StopSettings:
    """How a plain ``generate`` call stops at ``</action>``."""

    eos_token_id: list[int]
    """The tokenizer's EOS id, plus the ``</action>`` id when it is a single token."""
    action_end_id: int | None
    """The id of ``</action>`` when it is one token, else None."""
    stop_strings: list[str] = field(default_factory=list)
    """``["</action>"]`` when it is not one token (``generate`` then needs ``tokenizer=``)."""

    @property
    def how(self) -> str:
        return "eos_token_id" if self.action_end_id is not None else "stop_strings"


@dataclass(frozen=True)
class ExportResult:
    """What ``export_run`` wrote."""

    out: Path
    checkpoint: Path
    iteration: int
    merged_lora: bool
    stop: StopSettings
    skipped: list[str]
    """Why each newer checkpoint was passed over (corrupt, truncated, ...)."""


def stop_settings(tokenizer: Any) -> StopSettings:
    """Stop at ``</action>``: by EOS id when the tokenizer encodes it as one token both alone
    and after text (an added token, as in the tiny model), else by stop string."""
    eos = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
    alone = list(tokenizer.encode(ACTION_END, add_special_tokens=False))
    after_text = list(tokenizer.encode(f"go{ACTION_END}", add_special_tokens=False))
    if len(alone) == 1 and after_text[-1:] == alone:
        action_end = int(alone[0])
        return StopSettings(eos + ([action_end] if action_end not in eos else []), action_end)
    return StopSettings(eos, None, [ACTION_END])


def training_command(run_dir: Path) -> str | None:
    """The command on the ``# <command>`` header line of the run's ``config.yaml``."""
    first = (run_dir / "config.yaml").read_text(encoding="utf-8").split("\n", 1)[0].strip()
    return (first[1:].strip() or None) if first.startswith("#") else None


def resolve_checkpoint(run_dir: Path, checkpoint: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The checkpoint folder to export and its trainer state: ``checkpoint`` (an ``iter-N``
    folder or its ``model`` folder) verified against its manifest, or the run's newest complete
    one. ``FileNotFoundError`` / ``ValueError`` naming the path when there is none."""
    if checkpoint is not None:
        folder = Path(checkpoint)
        if folder.name == "model" and (folder.parent / "manifest.json").exists():
            folder = folder.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"--checkpoint {folder}: no such folder")
        try:
            state = check_checkpoint(folder)
        except CheckpointError as error:
            raise ValueError(f"--checkpoint {folder} is not a complete checkpoint: {error}") from None
        state["skipped"] = []
        return folder, state
    found = latest_checkpoint(run_dir)
    if found is None:
        root = run_dir / "checkpoints"
        present = sorted(p.name for p in root.glob("iter-*")) if root.is_dir() else []
        detail = f" ({len(present)} folder(s), none passes its manifest check)" if present else ""
        raise FileNotFoundError(f"{root} holds no complete checkpoint{detail}; nothing to export")
    return found


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty; give a new or empty folder")


def _shareable(folder: Path) -> None:
    """Usual permissions under the umask: ``mkdtemp`` makes the folder private (0700) and
    transformers writes ``model.safetensors`` as 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _lora_base_spec(config: TrainConfig, model_dir: Path) -> str:
    """The model the adapters were trained on: the folder peft recorded in
    ``adapter_config.json`` (the cold-start SFT model or the raw model's folder) when it is still
    there, else the one the run's config names now, else ``config.model`` for a model built or
    downloaded by name."""
    from sparkrl.models.lora import ADAPTER_CONFIG
    from sparkrl.train.cold_start import starting_model_dir

    recorded = None
    try:
        recorded = json.loads((model_dir / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        pass
    if recorded and (Path(recorded) / "config.json").is_file():
        return str(recorded)
    start = starting_model_dir(config)
    if start is None:
        return config.model
    if not (start / "config.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} holds LoRA adapters whose base model is missing: neither {recorded} "
            f"(recorded by peft) nor {start} (the run's cold-start model) holds config.json; "
            "rebuild the cold-start model (`sparkrl sft` with the run's settings) first")
    return str(start)


def _merged_lora_model(config: TrainConfig, model_dir: Path) -> tuple[torch.nn.Module, str]:
    """A plain HF model with the checkpoint's adapters merged into their base; the base spec."""
    from transformers import AutoModelForCausalLM

    from sparkrl.models.loading import load
    from sparkrl.models.lora import apply_lora, load_adapter_weights, merged_weights

    base_spec = _lora_base_spec(config, model_dir)
    policy = apply_lora(load(base_spec, threads=config.threads or None), config.lora_r, config.lora_alpha,
                        config.lora_targets)
    load_adapter_weights(policy, model_dir)
    weights = merged_weights(policy.model)
    base = policy.model.get_base_model()
    dtype = next(base.parameters()).dtype
    plain = AutoModelForCausalLM.from_config(base.config, dtype=dtype)
    missing, unexpected = plain.load_state_dict(weights, strict=False)
    tied = {"lm_head.weight"} if getattr(base.config, "tie_word_embeddings", False) else set()
    if unexpected or set(missing) - tied:
        raise ValueError(f"{model_dir}: merged LoRA weights do not fit {base_spec} "
                         f"(missing {sorted(set(missing) - tied)[:5]}, unexpected {sorted(unexpected)[:5]})")
    plain.tie_weights()
    plain.generation_config = base.generation_config
    return plain.eval(), base_spec


def _plain_model(model_dir: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    from sparkrl.models.lora import ADAPTER_WEIGHTS

    if not (model_dir / "config.json").is_file():
        hint = (" (it holds LoRA adapters but the run's config.yaml says lora_r: 0)"
                if (model_dir / ADAPTER_WEIGHTS).is_file() else "")
        raise FileNotFoundError(f"{model_dir}: no config.json, not a model folder{hint}")
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()


def _generation_config(model: torch.nn.Module, tokenizer: Any, config: TrainConfig, stop: StopSettings):
    """The run's evaluation sampling as a ``GenerationConfig``: full-distribution sampling at
    ``eval.temperature`` (greedy at 0), ``eval.max_new_tokens``, stopping at ``</action>``.

    Built fresh rather than from the base model's config: a hub model's own sampling defaults
    (top-k, top-p, repetition penalty) are not what sparkrl sampled with. Only its BOS id is kept."""
    from transformers import GenerationConfig

    generation = GenerationConfig()
    bos = getattr(getattr(model, "generation_config", None), "bos_token_id", None)
    if bos is not None:
        generation.bos_token_id = bos
    generation.eos_token_id = stop.eos_token_id if len(stop.eos_token_id) != 1 else stop.eos_token_id[0]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is not None:
        generation.pad_token_id = int(pad)
    generation.max_new_tokens = config.eval.max_new_tokens
    if config.eval.temperature > 0:
        # sparkrl samples from softmax(logits / T) with no truncation: top_k 0 turns off
        # transformers' default top-k of 50.
        generation.do_sample, generation.temperature, generation.top_k, generation.top_p = (
            True, config.eval.temperature, 0, 1.0)
    else:
        generation.do_sample = False
    if stop.stop_strings:
        generation.stop_strings = list(stop.stop_strings)
    generation.validate(strict=True)
    return generation


def export_run(run_dir: str | Path, out: str | Path, checkpoint: str | Path | None = None) -> ExportResult:
    """Write the plain Hugging Face folder of ``run_dir``'s newest complete checkpoint (or of
    ``checkpoint``) to ``out``, which must not exist or be empty (see the module docstring)."""
    from transformers import AutoTokenizer

    from sparkrl.models.policy import FALLBACK_CHAT_TEMPLATE

    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {run_dir / 'config.yaml'}")
    _check_out(out)
    config = load_yaml(TrainConfig, run_dir / "config.yaml")
    folder, state = resolve_checkpoint(run_dir, checkpoint)
    model_dir = folder / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not tokenizer.chat_template:
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE  # what Policy used while training
    if config.lora_r > 0:
        model, base_spec = _merged_lora_model(config, model_dir)
    else:
        model, base_spec = _plain_model(model_dir), None
    stop = stop_settings(tokenizer)
    model.generation_config = _generation_config(model, tokenizer, config, stop)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    card = model_card(run_dir, folder, int(state.get("iteration", 0)), config, training_command(run_dir),
                      summary, stop, base_spec)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        _shareable(staging)
        _check_out(out)  # nobody wrote there meanwhile
        if out.is_dir():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out, folder, int(state.get("iteration", 0)), config.lora_r > 0, stop,
                        list(state.get("skipped", [])))


# ---------------------------------------------------------------------------------- model card

def _example_messages(style: str, window: int) -> list[dict[str, str]]:
    history = History(window)
    if window:
        history.append("You arrive at countertop 1. On the countertop 1, you see a apple 1.", "take apple 1 from countertop 1")
    return build_messages("put a clean apple in fridge.", "You pick up the apple 1 from the countertop 1.",
                          ["go to countertop 1", "go to fridge 1", "go to sinkbasin 1", "inventory", "look"],
                          history, style)


def _rate(result: dict[str, Any] | None) -> str:
    return success_text(float(result.get("success", 0.0)), int(result.get("games", 0))) if result else "-"


def eval_table(summary: dict[str, Any] | None) -> list[str]:
    """Markdown lines of the before/after evaluation table of a run's ``summary.json``:
    success per split with its Wilson 95% interval (from success and games), the paired gain,
    and the final policy's invalid, inadmissible and explore rates."""
    if summary is None:
        return ["No `summary.json`: the run has not finished, so it has no after-RL evaluation."]
    before, after = summary.get("before") or {}, summary.get("after") or {}
    if not after and not before:
        return ["The run evaluated no split (`eval.splits: []`)."]
    lines = ["| split | games | before RL | after RL | paired gain | invalid (after) | inadmissible (after) | explore (after) |",
             "|---|---|---|---|---|---|---|---|"]
    for split in list(after) + [s for s in before if s not in after]:
        b, a = before.get(split), after.get(split)
        games = (a or b or {}).get("games", 0)
        cells = [split, str(games), _rate(b), _rate(a),
                 gain_text(paired_gain(b.get("wins", {}), a.get("wins", {}))) if a and b else "-"]
        cells += [f"{a.get(key, 0.0):.1%}" if a else "-" for key in ("invalid_rate", "inadmissible_rate", "explore_ratio")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def model_card(run_dir: Path, checkpoint: Path, iteration: int, config: TrainConfig, command: str | None,
               summary: dict[str, Any] | None, stop: StopSettings, lora_base: str | None) -> str:
    """The exported folder's ``README.md``."""
    rollout = config.rollout
    style = rollout.prompt_style
    messages = _example_messages(style, rollout.history_window)
    weights = (f"LoRA adapters (rank {config.lora_r}, alpha {config.lora_alpha:g}, on "
               f"{', '.join(config.lora_targets)}) merged into the base weights of `{lora_base}`"
               if config.lora_r > 0 else "fully fine-tuned weights, as saved")
    if stop.action_end_id is not None:
        stopping = (f"`{ACTION_END}` is a single token (id {stop.action_end_id}), so it is listed in "
                    f"`eos_token_id` ({stop.eos_token_id}): a plain `model.generate(...)` stops right after it.")
    else:
        stopping = (f"`{ACTION_END}` is several tokens in this vocabulary, so `generation_config.json` lists it "
                    f"in `stop_strings`; `model.generate` honours it only when given the tokenizer: "
                    "`model.generate(..., tokenizer=tokenizer)`.")
    sampling = (f"sampling at temperature {config.eval.temperature:g} from the full distribution "
                "(`top_k` 0, `top_p` 1.0)" if config.eval.temperature > 0 else "greedy decoding")
    layout = ("compact: `goal:` line; per past step a `- observation` line and a `> action` line; "
              "`now:` observation; `actions:` lines, where actions differing only in their trailing number "
              "are grouped as `go to cabinet 1|2|3` (`sparkrl.agent.compact`)"
              if style == "compact" else
              "paper: `Goal:` line; `Steps taken: n. The last k:` with `[i] observation` / `> action` pairs; "
              "`Step n. Current observation:`; `Admissible actions:` one per line (`sparkrl.agent.prompt`)")
    final = config.iterations
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        f"tags: [sparkrl, reinforcement-learning, text-agent, {config.env}]",
        "---",
        "",
        f"# {run_dir.name} @ {checkpoint.name}",
        "",
        f"A text-game agent policy trained with sparkrl ({config.algo}; Spark: strategic, policy-aware "
        f"exploration by key-state branching, arXiv 2601.20209), exported by `sparkrl export` from "
        f"`{checkpoint}` (iteration {iteration} of {final}; every file verified against the checkpoint's "
        f"SHA-256 manifest). Weights: {weights}. Loads with `transformers` alone.",
        "",
        "## Training",
        "",
        f"- environment: `{config.env}` (horizon {rollout.max_steps} steps; splits L0 = seen task types and "
        "instances, L1 = seen types, unseen instances, L2 = unseen task types)",
        f"- starting model: `{config.model}`" + (", after a cold-start SFT on annotated expert trajectories"
                                                 if config.cold_start.enabled else ", no cold-start SFT"),
        f"- algorithm: `{config.algo}` (estimator `{config.estimator}`), iterations: {final}, tasks per "
        f"iteration: {config.tasks_per_iteration}, N = {rollout.num_leaves} leaves, M = {rollout.num_roots} roots, "
        f"B = {rollout.branch_factor}, trigger `{rollout.trigger}`, lr {config.optim.lr:g}, seed {config.seed}",
        "- training command (the header of the run's `config.yaml`):",
        "",
        "```bash",
        command or "# unknown: the run's config.yaml has no `# <command>` header",
        "```",
        "",
        "## Prompt format",
        "",
        f"Prompt style: **{style}**. Each step is one independent chat in the tokenizer's chat template "
        "(kept from the run): a system message fixing the response format and a user message with the "
        f"goal, the last {rollout.history_window} (observation, action) pairs, the current observation and "
        "the admissible actions. Earlier reasoning is never replayed.",
        "",
        "System prompt (exact):",
        "",
        "```text",
        messages[0]["content"],
        "```",
        "",
        f"User message layout, {layout}. An illustrative example:",
        "",
        "```text",
        messages[1]["content"],
        "```",
        "",
        "The response is one reasoning block, then one action block, and nothing else:",
        "",
        "```text",
        f"<{THINK_TAG}>...</{THINK_TAG}>      (a routine step: progress and what comes next)",
        f"  or <{EXPLORE_TAG}>...</{EXPLORE_TAG}>  (an uncertain state: places, items or actions worth trying)",
        f"<{ACTION_TAG}>one admissible action, copied verbatim</{ACTION_TAG}>",
        "```",
        "",
        ("The run decoded with constrained actions (the response format and the `<action>` span restricted "
         "to the admissible actions, `sparkrl.models.constrained`); a plain `generate` does not apply that "
         "constraint, so check the action against the admissible list."
         if rollout.constrain_actions else
         "The run decoded freely (no constrained actions)."),
        "",
        "## Generation",
        "",
        f"`generation_config.json`: {sampling}, at most {config.eval.max_new_tokens} new tokens — the run's "
        f"evaluation protocol. Stopping: {stopping}",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tokenizer = AutoTokenizer.from_pretrained(folder)",
        "model = AutoModelForCausalLM.from_pretrained(folder)",
        "messages = [{\"role\": \"system\", \"content\": system_prompt}, {\"role\": \"user\", \"content\": user_message}]",
        "text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)",
        "ids = tokenizer(text, add_special_tokens=False, return_tensors=\"pt\")",
        "out = model.generate(**ids" + (", tokenizer=tokenizer)" if stop.stop_strings else ")"),
        "print(tokenizer.decode(out[0, ids[\"input_ids\"].shape[1]:], skip_special_tokens=True))",
        "```",
        "",
        "## Evaluation",
        "",
    ]
    table = eval_table(summary)
    if len(table) > 1:
        lines += [
            f"From the run's `summary.json`: one sample per game, T = {config.eval.temperature:g}, no branching, "
            f"{config.eval.games or 'all'} games per split; success with its Wilson 95% interval (computed from "
            "success and games); the gain is after minus before on the same games with the 95% interval of the "
            f"paired difference. \"Before RL\" is the starting model, \"after RL\" the policy at iteration {final}.",
            "",
        ]
    lines += table
    if iteration != final and summary is not None:
        lines += ["", f"**Note:** this export is iteration {iteration}, not the final iteration {final} that "
                      "the after-RL column describes."]
    return "\n".join(lines) + "\n"
