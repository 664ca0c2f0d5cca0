"""The tiny default model: a byte-level BPE tokenizer trained on a text corpus plus a small,
randomly initialised Llama-style causal LM, built locally with no download.

Sized so that training on a laptop CPU is quick: with the default ``TinySpec`` one
8 x 600-token forward+backward pass takes well under a second on one core. The tokenizer
speaks ChatML and keeps the Spark tags (``<think>``, ``<explore>``, ``<action>`` and their
closers) as single, non-special tokens, so they are cheap to emit and still decode to text.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

TAG_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<explore>", "</explore>", "<action>", "</action>")
IM_START, IM_END, PAD, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|pad|>", "<|endoftext|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, END_OF_TEXT, IM_START, IM_END)
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
BUILDER_VERSION = 1
"""Bumped whenever ``build_tiny`` changes what it writes, so cached builds are redone."""


@dataclass(frozen=True)
class TinySpec:
    """Shape of the tiny model. ``vocab_size`` is an upper bound: BPE training stops early
    when a small corpus has no more pairs worth merging."""

    vocab_size: int = 2048
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 2
    num_heads: int = 4
    max_positions: int = 4096


def default_corpus() -> list[str]:
    """Rendered prompts and responses of the built-in environments (``sparkrl.data.corpus``)."""
    from sparkrl.data.corpus import tiny_corpus

    return list(tiny_corpus())


def fingerprint(corpus: Iterable[str], seed: int, spec: TinySpec = TinySpec()) -> str:
    """A short hash naming the build that ``build_tiny(corpus, ..., seed, spec)`` produces."""
    digest = hashlib.sha256(json.dumps([BUILDER_VERSION, seed, asdict(spec)]).encode())
    for text in corpus:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()[:16]


def train_tokenizer(corpus: Iterable[str], spec: TinySpec = TinySpec()):
    """A ChatML ``PreTrainedTokenizerFast`` with byte-level BPE trained on ``corpus``.

    Byte-level means every string is encodable; the Spark tags are added as single tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    tokenizer.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in TAG_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=PAD,
        chat_template=CHATML_TEMPLATE,
        model_max_length=spec.max_positions,
    )


def tiny_model(tokenizer, seed: int, spec: TinySpec = TinySpec()) -> torch.nn.Module:
    """A freshly initialised Llama-style causal LM for ``tokenizer`` (float32, tied embeddings)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # fork_rng keeps the caller's global RNG stream untouched by the seeded init.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config).float()


def build_tiny(
    corpus: Iterable[str] | None, out_dir: str | Path, seed: int = 0, spec: TinySpec = TinySpec()
) -> Path:
    """Train the tokenizer on ``corpus`` (default: ``default_corpus()``), initialise the model
    with ``seed`` and write both as a Hugging Face folder at ``out_dir``.

    Deterministic: the same corpus, seed and spec give byte-identical files. The folder is
    written under a temporary name and renamed, so a reader never sees half a build.
    """
    texts = default_corpus() if corpus is None else list(corpus)
    if not any(t.strip() for t in texts):
        raise ValueError("the tokenizer corpus is empty")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)
    try:
        tokenizer = train_tokenizer(texts, spec)
        model = tiny_model(tokenizer, seed, spec)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
