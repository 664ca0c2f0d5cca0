"""End to end through the command line: a two-algorithm comparison on a tiny budget, reused on
a second call, then `sparkrl eval` on one of its checkpoints with pass@k and branching."""

import json
from pathlib import Path

import torch

from sparkrl.cli import main

TINY = """\
iterations: 1
tasks_per_iteration: 2
threads: 1
save_every: 1
rollout: {num_leaves: 4, num_roots: 2, max_steps: 4, max_new_tokens: 16}
cold_start: {enabled: false}
eval: {splits: [L0], games: 2, max_new_tokens: 16}
"""


def test_compare_then_eval_a_checkpoint(tmp_path, capsys):
    torch.set_num_threads(1)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    argv = ["compare", "--config", str(config), "--algos", "spark,grpo", "--seeds", "1",
            "--runs-root", str(tmp_path / "runs")]
    assert main(argv) == 0
    folder = tmp_path / "runs" / "compare-tiny"
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["results"]) == {"spark", "grpo"} and summary["unfinished_runs"] == []
    assert summary["verdict"]["text"].startswith("Undecided")  # one seed: no interval
    assert "## Verdict" in (folder / "report.md").read_text()
    for algo in ("spark", "grpo"):
        run = folder / f"{algo}-seed0"
        assert (run / "summary.json").exists() and (run / "learning_curves.png").exists()
    capsys.readouterr()

    assert main(argv) == 0
    assert capsys.readouterr().out.count("reusing finished run") == 2

    out = tmp_path / "eval.json"
    assert main(["eval", "--run", str(folder / "spark-seed0"), "--samples", "2", "--k", "1,2", "--branching",
                 "--leaves", "2", "--json", str(out), "--threads", "1"]) == 0
    document = json.loads(out.read_text())
    assert document["env"] == "household-small" and document["label"].endswith("iter-000001")
    result = document["splits"]["L0"]
    assert result["games"] == 2 and set(result["pass_at_k"]) == {"1", "2"}
    assert result["branching"]["games"] == 2 and result["pass_at_k"]["1"] <= result["pass_at_k"]["2"]
    assert "success by task type" in capsys.readouterr().out


def test_eval_names_what_is_missing(tmp_path, capsys):
    assert main(["eval", "--run", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["eval", "--model", "tiny", "--samples", "2", "--k", "3"]) == 2
    assert "ks: every k must lie in [1, samples=2]" in capsys.readouterr().err


def test_eval_of_a_lora_run_scores_its_merged_model(tmp_path, capsys):
    from sparkrl.experiments.runner import resolve_source

    torch.set_num_threads(1)
    config = tmp_path / "lora.yaml"
    config.write_text(TINY + "lora_r: 2\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--run-dir", str(run)]) == 0
    source = resolve_source(str(run), None, None)
    assert (Path(source.spec) / "config.json").is_file() and source.label.endswith("iter-000001")
    out = tmp_path / "eval.json"
    assert main(["eval", "--run", str(run), "--games", "1", "--json", str(out), "--threads", "1"]) == 0
    assert json.loads(out.read_text())["splits"]["L0"]["games"] == 1
