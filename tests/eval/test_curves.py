import json
import math

import pytest

from sparkrl.eval.curves import budget_to_reach, cumulative, mean_curve, read_metrics, smooth

from tests.eval.metrics_files import evaluation, iteration, write_run


def test_resumed_records_replace_earlier_ones_and_a_cut_line_is_skipped(tmp_path):
    lines = [json.dumps(r) for r in (
        evaluation(0, "before", L0=0.0), iteration(1, 0.1), iteration(2, 0.2), iteration(3, 0.9),
    )]
    lines.append('{"kind": "iteration", "iter')  # killed mid-write
    lines += [json.dumps(r) for r in (iteration(3, 0.3), iteration(4, 0.4), evaluation(4, "after", L0=0.5, L1=0.25))]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    metrics = read_metrics(path)
    assert metrics.iteration_numbers() == [1, 2, 3, 4]
    assert metrics.series("success") == [0.1, 0.2, 0.3, 0.4]
    assert metrics.skipped_lines == 1
    assert metrics.final_evaluation() == {"L0": {"success": 0.5, "games": 10}, "L1": {"success": 0.25, "games": 10}}
    assert metrics.evaluation_success() == {"L0": [(0, 0.0), (4, 0.5)], "L1": [(4, 0.25)]}


def test_budgets_accumulate(tmp_path):
    metrics = read_metrics(write_run(tmp_path, [0.0, 0.5, 1.0], {"L0": 1.0}, trajectories=6, tokens=50) / "metrics.jsonl")
    assert metrics.cumulative_trajectories() == [6, 12, 18]
    assert metrics.cumulative_tokens() == [50, 100, 150]


def test_missing_file_reads_as_an_unfinished_run(tmp_path):
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert metrics.iterations == [] and metrics.final_evaluation() is None


def test_cumulative_smooth_and_mean():
    assert cumulative([1.0, math.nan, 2.0]) == [1.0, 1.0, 3.0]
    assert smooth([0.0, 0.3, 0.6, 0.9], 3) == pytest.approx([0.0, 0.15, 0.3, 0.6])
    assert smooth([1.0, 2.0], 1) == [1.0, 2.0]
    with pytest.raises(ValueError):
        smooth([1.0], 0)
    assert mean_curve([[1.0, 2.0, 3.0], [3.0, 4.0]]) == [2.0, 3.0]


def test_budget_to_reach_is_the_first_crossing():
    assert budget_to_reach([0.1, 0.5, 0.4, 0.6], [8, 16, 24, 32], 0.5) == 16
    assert budget_to_reach([0.1, 0.2], [8, 16], 0.5) is None
