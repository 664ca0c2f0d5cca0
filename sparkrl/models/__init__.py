"""Policy models: batched sampling with shared-prompt prefill, training log-probs, the tiny
default model and loading by name (``load("tiny")``, ``load("smollm2-135m")``, a folder, a
hub name)."""

from sparkrl.models.loading import GGUF_MODELS, ModelLoadError, cache_dir, free_cores, load, load_folder
from sparkrl.models.policy import FALLBACK_CHAT_TEMPLATE, Policy, TokenLogprobs
from sparkrl.models.sampling import Completion, GenerationStats
from sparkrl.models.tiny import TAG_TOKENS, TinySpec, build_tiny

__all__ = [
    "FALLBACK_CHAT_TEMPLATE",
    "GGUF_MODELS",
    "TAG_TOKENS",
    "Completion",
    "GenerationStats",
    "ModelLoadError",
    "Policy",
    "TinySpec",
    "TokenLogprobs",
    "build_tiny",
    "cache_dir",
    "free_cores",
    "load",
    "load_folder",
]
