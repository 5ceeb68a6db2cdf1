"""Confidence intervals for results that are averaged over a few seeds.

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
