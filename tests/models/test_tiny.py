"""The tiny default model builder."""

from __future__ import annotations

import pytest

from sparkrl.models import TAG_TOKENS, TinySpec, build_tiny, load_folder
from sparkrl.models.tiny import fingerprint

CORPUS = [
    "You are in the kitchen. You see a fridge 1 and a countertop 2.",
    "<think>The mug is on the countertop.</think><action>take mug 1 from countertop 2</action>",
    "<explore>The key may be in a drawer or a cabinet.</explore><action>open drawer 1</action>",
] * 5


def file_bytes(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_builds_are_deterministic(tmp_path):
    first = build_tiny(CORPUS, tmp_path / "a", seed=0)
    again = build_tiny(CORPUS, tmp_path / "b", seed=0)
    other_seed = build_tiny(CORPUS, tmp_path / "c", seed=1)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(file_bytes(first))
    assert file_bytes(first) == file_bytes(again)
    assert file_bytes(first)["model.safetensors"] != file_bytes(other_seed)["model.safetensors"]
    assert file_bytes(first)["tokenizer.json"] == file_bytes(other_seed)["tokenizer.json"]
    assert fingerprint(CORPUS, 0) == fingerprint(list(CORPUS), 0) != fingerprint(CORPUS, 1)


def test_tokenizer_keeps_the_tags_whole_and_decodable(tmp_path):
    policy = load_folder(build_tiny(CORPUS, tmp_path / "m", seed=0))
    for tag in TAG_TOKENS:
        ids = policy.encode_text(tag)
        assert len(ids) == 1
        assert policy.decode(ids, skip_special_tokens=True) == tag
    text = "<explore>Maybe a drawer.</explore><action>open drawer 1</action>"
    assert policy.decode(policy.encode_text(text)) == text
    assert policy.decode(policy.encode_text("unseen words: zebra ÿ 🙂")) == "unseen words: zebra ÿ 🙂"
    assert policy.tokenizer.eos_token == "<|im_end|>"
    assert policy.eos_ids == {policy.tokenizer.convert_tokens_to_ids("<|im_end|>")}


def test_model_shape_follows_the_spec(tmp_path):
    spec = TinySpec(hidden_size=64, intermediate_size=128, num_layers=3, num_heads=2, max_positions=2048)
    policy = load_folder(build_tiny(CORPUS, tmp_path / "m", seed=0, spec=spec))
    config = policy.model.config
    assert (config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (64, 3, 2048)
    assert config.vocab_size == len(policy.tokenizer)
    assert policy.model.lm_head.weight.data_ptr() == policy.model.model.embed_tokens.weight.data_ptr()


def test_default_model_size(tmp_path):
    policy = load_folder(build_tiny(CORPUS, tmp_path / "m", seed=0))
    parameters = sum(p.numel() for p in policy.model.parameters())
    assert 300_000 < parameters < 3_000_000
    assert policy.max_positions >= 2048


def test_empty_corpus_is_refused(tmp_path):
    with pytest.raises(ValueError, match="corpus is empty"):
        build_tiny(["", "  "], tmp_path / "m", seed=0)
