import dataclasses
import json

import pytest
import yaml
from rich.console import Console

from sparkrl.config import ConfigError, to_dict
from sparkrl.experiments.compare import OVERALL, ComparePlan, collect, efficiency, ensure_run, run_config, verdict
from sparkrl.experiments.report import PLOTS, write_report
from sparkrl.train.config import TrainConfig

from tests.eval.metrics_files import write_run

SPARK = [0.2, 0.5, 0.6, 0.7]
GRPO = [0.1, 0.2, 0.3, 0.4]


def make_plan(tmp_path, seeds=(0, 1, 2)):
    return ComparePlan(name="t", base=TrainConfig(iterations=4), algos=("spark", "grpo"), seeds=seeds,
                       runs_root=str(tmp_path))


def fill(plan, spark_finals=(0.8, 0.85, 0.9), grpo_finals=(0.3, 0.35, 0.4)):
    for seed, (s, g) in zip(plan.seeds, zip(spark_finals, grpo_finals)):
        write_run(plan.run_dir("spark", seed), SPARK, {"L0": s, "L1": s - 0.2}, trajectories=6)
        write_run(plan.run_dir("grpo", seed), GRPO, {"L0": g, "L1": g - 0.2}, trajectories=8)


def test_statistics_over_seeds(tmp_path):
    plan = make_plan(tmp_path)
    fill(plan)
    summaries, missing = collect(plan)
    assert missing == []
    spark, grpo = summaries["spark"], summaries["grpo"]
    assert spark.final["L0"].mean == pytest.approx(0.85) and spark.final["L0"].n == 3
    assert spark.final[OVERALL].mean == pytest.approx(0.75)
    assert spark.trajectories == [6, 12, 18, 24] and grpo.total_trajectories == 32
    assert grpo.success_smoothed == pytest.approx([0.1, 0.15, 0.2, 0.3])
    figures = efficiency(spark, grpo)
    # grpo's final smoothed success 0.3; spark's smoothed curve (0.2, 0.35, …) reaches it at iteration 2
    assert figures["target"] == pytest.approx(0.3)
    assert figures["trajectories_to_target"] == 12 and figures["trajectory_ratio"] == pytest.approx(12 / 32)
    assert figures["token_ratio"] == pytest.approx(1.0)
    assert efficiency(grpo, grpo)["trajectory_ratio"] == 1.0
    assert verdict(spark, grpo)["text"].startswith("spark beat grpo at equal budget")


def test_verdict_without_a_difference_or_with_one_seed(tmp_path):
    plan = make_plan(tmp_path)
    fill(plan, spark_finals=(0.3, 0.5, 0.4), grpo_finals=(0.4, 0.3, 0.5))
    summaries, _ = collect(plan)
    assert verdict(summaries["spark"], summaries["grpo"])["text"].startswith("No significant difference")
    single = make_plan(tmp_path / "one", seeds=(0,))
    fill(single)
    summaries, _ = collect(single)
    result = verdict(summaries["spark"], summaries["grpo"])
    assert result["ci95_half_width"] is None and result["text"].startswith("Undecided")


def test_report_files_and_unfinished_runs(tmp_path):
    plan = make_plan(tmp_path)
    fill(plan)
    write_run(plan.run_dir("grpo", 2), GRPO[:2], {"L0": 0.0}, finished=False)
    path, document = write_report(plan, "sparkrl compare --test")
    text = path.read_text()
    assert "**spark beat grpo at equal budget" in text and "`sparkrl compare --test`" in text
    assert str(plan.run_dir("grpo", 2)) in text
    assert json.loads((plan.folder / "summary.json").read_text()) == document
    assert document["results"]["grpo"]["seeds"] == [0, 1]
    for name in ("trajectories", "tokens", "eval", "final"):
        assert (plan.folder / PLOTS[name]).exists(), name


def test_runs_share_the_budget_and_the_initial_model(tmp_path):
    plan = make_plan(tmp_path)
    spark = run_config(plan, "spark", 1, "/cache/sft/model")
    grpo = run_config(plan, "grpo", 1, "/cache/sft/model")
    for config in (spark, grpo):
        assert config.model == "/cache/sft/model" and not config.cold_start.enabled and config.seed == 1
        assert config.rollout.num_leaves == plan.base.rollout.num_leaves and config.iterations == 4
    assert spark.rollout.trigger == "explore" and grpo.rollout.trigger == "none"
    assert run_config(plan, "grpo", 0, None).model == plan.base.model


def test_a_finished_run_is_reused_and_a_different_config_is_refused(tmp_path):
    plan = make_plan(tmp_path)
    config = run_config(plan, "spark", 0, None)
    run_dir = write_run(config.run_dir, SPARK, {"L0": 0.5})
    (run_dir / "config.yaml").write_text("# cmd\n" + yaml.safe_dump(to_dict(config)))
    assert ensure_run(config, "cmd", Console(quiet=True)) == "reused"
    longer = dataclasses.replace(config, iterations=5)
    with pytest.raises(ConfigError, match="iterations is 4, this comparison wants 5"):
        ensure_run(longer, "cmd", Console(quiet=True))


def test_plan_rejects_bad_algorithms_and_seeds(tmp_path):
    with pytest.raises(ConfigError, match="'ppo'"):
        ComparePlan(name="x", base=TrainConfig(), algos=("spark", "ppo"))
    with pytest.raises(ConfigError, match="seeds"):
        ComparePlan(name="x", base=TrainConfig(), seeds=(1, 1))
    with pytest.raises(ConfigError, match="reference: 'grpo'"):
        ComparePlan(name="x", base=TrainConfig(), algos=("spark", "fixed"))


def test_pooled_and_game_paired_figures(tmp_path):
    """With per-game wins in the final evaluations, the report pools seeds (Wilson) and pairs
    the algorithms game by game."""
    from sparkrl.experiments.compare import paired_game_difference, pooled_success

    plan = make_plan(tmp_path, seeds=(0, 1))
    for seed in plan.seeds:
        for algo, won in (("spark", {"a": True, "b": True, "c": False, "d": True}),
                          ("grpo", {"a": True, "b": False, "c": False, "d": False})):
            run_dir = write_run(plan.run_dir(algo, seed), SPARK, {"L0": 0.0}, trajectories=6)
            records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            records[-1]["results"]["L0"].update(success=sum(won.values()) / 4, games=4, wins=won)
            (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summaries, _ = collect(plan)
    pooled = pooled_success(summaries["spark"])["L0"]
    assert (pooled["wins"], pooled["games"]) == (6, 8) and pooled["low"] < 0.75 < pooled["high"]
    paired = paired_game_difference(summaries["spark"], summaries["grpo"])
    assert paired["L0"].mean == pytest.approx(0.5) and paired["L0"].n == 8 and paired[OVERALL].n == 8
    report = write_report(plan, "sparkrl compare")[0].read_text()
    assert "Pooled over seeds" in report and "+50.0" in report
