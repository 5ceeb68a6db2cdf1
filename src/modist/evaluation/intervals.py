"""Confidence intervals: t-intervals over a few seeds, percentile bootstrap over videos.

Example:
    >>> d = paired_difference([0.5, 0.6, 0.7], [0.4, 0.4, 0.5])
    >>> round(d.mean, 3), round(d.half_width, 3), d.n
    (0.167, 0.143, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Two-sided 95 % quantiles of Student's t, t_{0.975}(df) for df = 1..30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """t_{0.975}(df); beyond 30 degrees of freedom a Cornish-Fisher expansion around 1.96.

    Example:
        >>> t_quantile_975(2), round(t_quantile_975(1000), 3)
        (4.303, 1.962)
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values, their sample standard deviation and a 95 % t-interval half-width
    (``nan`` for a single value)."""

    mean: float
    std: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def mean_interval(values) -> Interval:
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    if x.size == 1:
        return Interval(float(x[0]), math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    return Interval(float(x.mean()), std, t_quantile_975(x.size - 1) * std / math.sqrt(x.size), int(x.size))


def paired_difference(a, b) -> Interval:
    """Mean of ``a[i] - b[i]`` (paired, e.g. by seed) with its 95 % t-interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}")
    return mean_interval(a - b)


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean of ``n`` values and the 2.5 / 97.5 percentiles of its bootstrap distribution."""

    mean: float
    low: float
    high: float
    n: int
    resamples: int
    seed: int


def bootstrap_interval(values, *, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> BootstrapInterval:
    """Percentile bootstrap of the mean: ``values`` (one per video) resampled with replacement.

    Seeded, so a result file reproduces exactly. For per-video accuracies 0 and 1 the
    resampled means are 0, 0.5 and 1 with probabilities 1/4, 1/2, 1/4, so the interval is [0, 1]:

    Example:
        >>> b = bootstrap_interval([0.0, 1.0])
        >>> b.mean, b.low, b.high, b.n
        (0.5, 0.0, 1.0, 2)
        >>> bootstrap_interval([3.0, 3.0, 3.0]).low
        3.0
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return BootstrapInterval(float(x.mean()), float(low), float(high), int(x.size), resamples, seed)
