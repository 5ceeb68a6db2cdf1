"""Learning-rate schedules: multipliers of the base rate (:func:`lr_factor`, :func:`cosine_factor`) and
PySlowFast's rate itself (:func:`pyslowfast_lr`)."""

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


def cosine_factor(step: int, total_steps: int) -> float:
    """``(1 + cos(pi * step / total_steps)) / 2``: a half cosine from 1 at step 0 to 0 at ``total_steps``.

    The curve of :func:`lr_factor` without warm-up, evaluated as ``(pi * step) / total_steps``
    where :func:`lr_factor` takes ``pi * (step / total_steps)``; the two can differ in the last
    bit. The linear probe and the detection head were trained with this form, so their
    numbers reproduce with it.

    Example:
        >>> cosine_factor(0, 4), cosine_factor(2, 4), cosine_factor(4, 4)
        (1.0, 0.5, 0.0)
        >>> cosine_factor(5, 11), lr_factor(5, 11)
        (0.5711574191366425, 0.5711574191366426)
    """
    return 0.5 * (1 + math.cos(math.pi * step / total_steps))


def pyslowfast_lr(epoch: float, *, base_lr: float, epochs: float, warmup_epochs: float = 0.0,
                  warmup_start_lr: float = 0.0) -> float:
    """PySlowFast's cosine learning rate at fractional ``epoch`` (``slowfast/utils/lr_policy.py``).

    ``base_lr * (1 + cos(pi * epoch / epochs)) / 2``; during warm-up a line from
    ``warmup_start_lr`` (epoch 0) to the cosine's value at ``warmup_epochs``.

    Example:
        >>> [round(pyslowfast_lr(e, base_lr=0.01, epochs=10, warmup_epochs=1.7, warmup_start_lr=0.001), 6)
        ...  for e in (0, 0.85, 1.7, 5, 10)]
        [0.001, 0.005152, 0.009304, 0.005, 0.0]
    """
    def cosine(e: float) -> float:
        return base_lr * (math.cos(math.pi * e / epochs) + 1.0) * 0.5

    if epoch < warmup_epochs:
        end = cosine(warmup_epochs)
        return epoch * (end - warmup_start_lr) / warmup_epochs + warmup_start_lr
    return cosine(epoch)
