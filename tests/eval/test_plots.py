import math

from sparkrl.eval.plots import RUN_PLOT, Curve, plot_curves, plot_final, plot_run
from sparkrl.eval.stats import Interval

from tests.eval.metrics_files import write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_run_plot_is_a_png_in_the_run_folder(tmp_path):
    run_dir = write_run(tmp_path / "run", [0.1, 0.3, 0.2], {"L0": 0.5, "L1": 0.25})
    path = plot_run(run_dir)
    assert path == run_dir / RUN_PLOT and path.read_bytes().startswith(PNG_MAGIC)
    assert not list(run_dir.glob(".*.tmp"))


def test_nothing_logged_draws_nothing(tmp_path):
    assert plot_run(tmp_path) is None


def test_comparison_figures(tmp_path):
    curves = {"spark": Curve([8, 16], [0.1, 0.2], [0.0, 0.1], [0.2, 0.3]), "grpo": Curve([8, 16], [0.1, 0.1])}
    assert plot_curves(tmp_path / "c.png", curves, "x", "y", "t").read_bytes().startswith(PNG_MAGIC)
    finals = {"spark": {"L0": Interval(0.5, 0.1, 3)}, "grpo": {"L0": Interval(0.4, math.nan, 1), "L1": Interval(0.2, 0.0, 3)}}
    assert plot_final(tmp_path / "f.png", finals, "t").read_bytes().startswith(PNG_MAGIC)
