import math

import pytest

from sparkrl.eval.stats import difference_ci, mean_ci, t_quantile_975


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (30, 2.0423),
                                          (31, 2.0395), (60, 2.0003), (120, 1.9799), (10_000, 1.9602)])
def test_t_quantiles_match_the_tables(df, expected):
    assert t_quantile_975(df) == pytest.approx(expected, abs=2e-4)


def test_fractional_degrees_of_freedom_round_down_and_zero_is_rejected():
    assert t_quantile_975(2.9) == t_quantile_975(2)
    with pytest.raises(ValueError):
        t_quantile_975(0.5)


def test_mean_ci_is_the_t_interval():
    interval = mean_ci([0.5, 0.6, 0.7])
    assert interval.mean == pytest.approx(0.6)
    assert interval.half_width == pytest.approx(4.3027 * 0.1 / math.sqrt(3), rel=1e-4)
    assert interval.text() == "60.0 ± 24.8"


def test_a_single_seed_has_no_interval():
    interval = mean_ci([0.4])
    assert interval.mean == 0.4 and math.isnan(interval.half_width)
    assert interval.text() == "40.0"


def test_welch_difference_by_hand():
    first, second = [0.8, 0.9, 1.0], [0.1, 0.3, 0.5, 0.7]
    difference = difference_ci(first, second)
    a, b = 0.01 / 3, (0.2 ** 2 * 5 / 3) / 4  # variances of the means
    df = (a + b) ** 2 / (a ** 2 / 2 + b ** 2 / 3)
    assert difference.mean == pytest.approx(0.9 - 0.4)
    assert difference.half_width == pytest.approx(t_quantile_975(df) * math.sqrt(a + b))
    assert difference.low > 0


def test_identical_constant_seeds_give_a_zero_width_difference():
    difference = difference_ci([0.5, 0.5], [0.5, 0.5])
    assert difference.mean == 0 and difference.half_width == 0
    assert math.isnan(difference_ci([0.5], [0.2, 0.3]).half_width)


def test_wilson_interval_matches_the_textbook_values():
    from sparkrl.eval.stats import wilson_interval, wilson_text

    low, high = wilson_interval(30, 100)  # Wilson (1927); e.g. statsmodels proportion_confint
    assert abs(low - 0.2189) < 1e-3 and abs(high - 0.3958) < 1e-3
    assert wilson_interval(0, 20)[0] == 0.0 and 0.15 < wilson_interval(0, 20)[1] < 0.17
    assert wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_text(30, 100) == "30% [22, 40]"
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_paired_difference_uses_the_per_game_differences():
    from sparkrl.eval.stats import paired_difference_ci

    before = [0, 0, 1, 1, 0, 0, 1, 0, 0, 0] * 5
    after = [1, 0, 1, 1, 1, 0, 1, 0, 1, 0] * 5
    interval = paired_difference_ci(before, after)
    assert abs(interval.mean - 0.3) < 1e-12 and interval.n == 50
    assert interval.low > 0  # 15 of 50 games gained, none lost
    with pytest.raises(ValueError):
        paired_difference_ci([1], [1, 0])
