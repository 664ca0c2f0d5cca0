"""Small statistics for comparing runs: Student-t confidence intervals of a mean and of a
difference of means (Welch), the Wilson interval of one success rate, and the interval of a
paired difference (the same games evaluated twice). Pure Python, no SciPy: the 97.5% t quantiles for 1–30
degrees of freedom are tabulated, beyond that a Cornish–Fisher expansion is exact to 1e-4."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
_Z975 = 1.959964


def t_quantile_975(df: float) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (fractional df, as
    Welch's test gives, is rounded down: the conservative side)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    whole = int(math.floor(df))
    if whole <= len(_T975):
        return _T975[whole - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * whole) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * whole**2)


@dataclass(frozen=True)
class Interval:
    """A mean (or a difference of means) with its 95% confidence half-width; ``half_width``
    is NaN when it is undefined (a single value)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def text(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"12.3 ± 4.5"`` (scaled, e.g. to percent); ``"12.3"`` when no interval exists."""
        if math.isnan(self.half_width):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.half_width * scale:.{digits}f}"


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def mean_ci(values: Sequence[float]) -> Interval:
    """Mean of ``values`` with the 95% t interval half-width ``t_{0.975,n-1} · s / √n``."""
    if not values:
        raise ValueError("mean_ci needs at least one value")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return Interval(mean, math.nan, 1)
    return Interval(mean, t_quantile_975(n - 1) * math.sqrt(_variance(values) / n), n)


def difference_ci(first: Sequence[float], second: Sequence[float]) -> Interval:
    """``mean(first) − mean(second)`` with Welch's 95% interval (unequal variances,
    Welch–Satterthwaite degrees of freedom); NaN half-width if either side has one value."""
    if not first or not second:
        raise ValueError("difference_ci needs values on both sides")
    mean = sum(first) / len(first) - sum(second) / len(second)
    if len(first) < 2 or len(second) < 2:
        return Interval(mean, math.nan, min(len(first), len(second)))
    a, b = _variance(first) / len(first), _variance(second) / len(second)
    if a + b == 0:
        return Interval(mean, 0.0, min(len(first), len(second)))
    df = (a + b) ** 2 / (a**2 / (len(first) - 1) + b**2 / (len(second) - 1))
    return Interval(mean, t_quantile_975(df) * math.sqrt(a + b), min(len(first), len(second)))


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a success rate ``successes / n`` (sensible at 0 and n,
    where the normal approximation collapses); ``(0, 1)`` when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    z2 = _Z975**2
    rate = successes / n
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z975 * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_text(successes: int, n: int, digits: int = 0) -> str:
    """``"34% [25, 44]"``: a success rate in percent with its Wilson 95% interval."""
    low, high = wilson_interval(successes, n)
    rate = successes / n if n else 0.0
    return f"{rate * 100:.{digits}f}% [{low * 100:.{digits}f}, {high * 100:.{digits}f}]"


def paired_difference_ci(before: Sequence[float], after: Sequence[float]) -> Interval:
    """``mean(after − before)`` over paired values (the same games twice) with the 95% t
    interval of the per-game differences: far tighter than Welch when the games correlate."""
    if len(before) != len(after):
        raise ValueError(f"paired values need equal lengths, got {len(before)} and {len(after)}")
    return mean_ci([b - a for a, b in zip(before, after)])


def success_text(success: float, games: int) -> str:
    """A split's success rate with its Wilson interval, from the rate and the game count."""
    return wilson_text(round(success * games), games) if games else "-"


def paired_gain(before: Mapping[str, bool], after: Mapping[str, bool]) -> Interval | None:
    """After minus before on the games both evaluations played (``wins``: task id -> won);
    None if they share none."""
    shared = [task for task in after if task in before]
    if not shared:
        return None
    return paired_difference_ci([float(before[t]) for t in shared], [float(after[t]) for t in shared])


def gain_text(gain: Interval | None) -> str:
    """``+10 [-1, +21]`` in points; the mean alone when one game gives no interval."""
    if gain is None:
        return "-"
    if math.isnan(gain.half_width):
        return f"{gain.mean * 100:+.0f}"
    return f"{gain.mean * 100:+.0f} [{gain.low * 100:+.0f}, {gain.high * 100:+.0f}]"
