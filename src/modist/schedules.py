"""Learning-rate schedules as multipliers of the base rate."""

from __future__ import annotations

import math


def lr_factor(step: int, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine") -> float:
    """Linear warm-up to 1, then a half cosine to 0 (or constant).

    Example:
        >>> lr_factor(0, 100, 10), lr_factor(10, 100, 10), round(lr_factor(55, 100, 10), 3)
        (0.1, 1.0, 0.5)
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
