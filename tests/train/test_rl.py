import dataclasses
import json

import pytest

from sparkrl.config import ConfigError, from_dict
from sparkrl.envs import make
from sparkrl.rollout.spark import RolloutConfig
from sparkrl.rollout.tree import load_forests
from sparkrl.train.config import ColdStartConfig, EvalConfig, TrainConfig, apply_algo
from sparkrl.train.rl import TaskSampler, train


def tiny_config(run_dir, iterations=2):
    return TrainConfig(
        iterations=iterations, tasks_per_iteration=2, save_every=1, threads=1, run_dir=str(run_dir),
        rollout=RolloutConfig(num_leaves=4, num_roots=2, max_steps=5, max_new_tokens=24),
        cold_start=ColdStartConfig(trajectories=4, epochs=1),
        eval=EvalConfig(splits=("L0",), games=2, max_new_tokens=24),
    )


def test_train_writes_metrics_trees_checkpoints_and_resumes(tmp_path):
    run_dir = train(tiny_config(tmp_path / "run"))
    lines = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in lines if r["kind"] == "iteration"]
    assert [r["iteration"] for r in iterations] == [1, 2]
    for key in ("success", "explore_ratio", "branches", "leaves_per_task", "generated_tokens", "env_steps",
                "invalid_rate", "rollout_seconds", "update_seconds", "grad_norm", "rows", "row_copies"):
        assert key in iterations[0], key
    assert all(2 <= r["leaves_per_task"] <= 4 for r in iterations)
    assert [r["tag"] for r in lines if r["kind"] == "eval"] == ["before", "after"]
    forests = load_forests(run_dir / "trees" / "iter-000001.jsonl")
    assert len(forests) == 2 and all(2 <= len(f.leaves()) <= 4 for f in forests)
    assert (run_dir / "checkpoints" / "iter-000002" / "trainer.pt").exists()
    assert json.loads((run_dir / "summary.json").read_text())["after"]["L0"]["games"] == 2
    assert (run_dir / "config.yaml").read_text().startswith("# ")

    with pytest.raises(FileExistsError):
        train(tiny_config(run_dir))
    train(tiny_config(run_dir, iterations=3), resume=True)
    lines = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines if r["kind"] == "iteration"] == [1, 2, 3]


def test_task_sampler_is_seeded_and_restorable():
    tasks = make("household").tasks("train")[:5]
    first = TaskSampler(tasks, seed=3)
    batch = first.next(7)
    assert len(batch) == 7 and set(t.task_id for t in batch[:5]) == set(t.task_id for t in tasks)
    second = TaskSampler(tasks, seed=3)
    second.restore(first.state())
    assert second.next(4) == first.next(4)


def test_algo_switch_keeps_the_budget():
    grpo = apply_algo(TrainConfig(), "grpo")
    assert grpo.rollout.trigger == "none" and grpo.rollout.num_roots == grpo.rollout.num_leaves == 8
    assert grpo.estimator == "grpo"
    spark = apply_algo(grpo, "spark")
    assert spark.rollout.trigger == "explore" and spark.rollout.num_roots == 4 and spark.estimator == "spark"


def test_train_config_rejects_bad_nested_values_by_path():
    with pytest.raises(ConfigError, match="rollout.num_roots"):
        from_dict(TrainConfig, {"rollout": {"num_roots": 0}})
    with pytest.raises(ConfigError, match="optim.lr: -1"):
        from_dict(TrainConfig, {"optim": {"lr": -1}})
    with pytest.raises(ConfigError, match="splits: 'L9'"):
        dataclasses.replace(TrainConfig(), eval=EvalConfig(splits=("L9",)))


def test_a_seed_gives_the_same_run_whether_or_not_the_cold_start_was_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKRL_CACHE", str(tmp_path / "cache"))

    def iteration_records(run_dir):
        records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in records if r["kind"] == "iteration"]

    fresh = train(tiny_config(tmp_path / "fresh", iterations=1))  # runs the SFT
    cached = train(tiny_config(tmp_path / "cached", iterations=1))  # reuses it
    assert iteration_records(fresh) == iteration_records(cached)


def test_the_summary_shows_the_score_only_for_partial_credit_envs():
    import io

    from rich.console import Console

    from sparkrl.eval.evaluate import SplitResult
    from sparkrl.train.rl import _print_summary

    def table(score: float) -> str:
        console = Console(file=io.StringIO(), width=200)
        result = SplitResult(games=2, success=0.5, score=score, wins={"a": True, "b": False})
        _print_summary(console, None, {"L0": result})
        return console.file.getvalue()

    assert "score (after)" in table(0.75) and "0.750" in table(0.75)
    assert "score" not in table(0.5)
