"""The optimisation loop evaluation trains with: the linear probe, finetuning and the detection head.

Each caller keeps what is its own (how batches are drawn, the loss, what a step records);
:func:`fit` owns the order of a step, the same for all of them:

1. the next batch is drawn (only now: nothing is drawn beyond the last step);
2. every parameter group's rate becomes ``lr(step)``, when a schedule is given;
3. ``loss_fn(batch)`` gives the loss (and, optionally, values to record);
4. with ``finite_loss``, a non-finite loss stops the run in one line;
5. gradients are reset (to None), back-propagated, and the optimiser steps;
6. ``record`` turns the step into a history row.

Example:
    >>> w = torch.zeros(1, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=1.0)
    >>> history = fit(lambda target: ((w - target) ** 2).sum(), [torch.ones(1)] * 3, optimizer=opt,
    ...               lr=lambda step: 0.25)
    >>> [(h["step"], h["loss"], h["lr"]) for h in history], w.item()
    ([(1, 1.0, 0.25), (2, 0.25, 0.25), (3, 0.0625, 0.25)], 0.875)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from modist.errors import DataError

B = TypeVar("B")


@dataclass(frozen=True)
class StepResult:
    """One optimiser step, as :func:`fit`'s ``record`` sees it."""

    index: int  # 0-based
    loss: torch.Tensor
    lr: float | None  # the rate the step used; None when fit was given no schedule
    logs: dict[str, float] = field(default_factory=dict)  # what loss_fn returned beside the loss


def default_record(step: StepResult) -> dict:
    """``{"step": index + 1, "loss": ..., **logs, "lr": ...}`` (``lr`` only when scheduled)."""
    row = {"step": step.index + 1, "loss": step.loss.item(), **step.logs}
    if step.lr is not None:
        row["lr"] = step.lr
    return row


def fit(
    loss_fn: Callable[[B], torch.Tensor | tuple[torch.Tensor, dict[str, float]]],
    batches: Iterable[B],
    *,
    optimizer: torch.optim.Optimizer,
    steps: int | None = None,
    lr: Callable[[int], float] | None = None,
    record: Callable[[StepResult], dict | None] = default_record,
    finite_loss: bool = False,
    progress: bool = False,
    desc: str = "fit",
) -> list[dict]:
    """Take one optimiser step per batch, ``steps`` of them (None: until ``batches`` ends); return the history.

    ``lr(step)`` (0-based) is the rate of that step, written into every parameter group; without
    it the optimiser's rates are left alone. ``loss_fn`` returns the loss, or ``(loss, logs)``
    with plain numbers for the record. ``record`` returns the history row of a step (None keeps
    nothing). With ``finite_loss`` a loss that is not finite raises :class:`DataError` naming
    ``desc`` and the step; ``desc`` also labels the progress bar.
    """
    history: list[dict] = []
    if steps is not None:
        # Asks for no batch past the last step (none at all for 0): a loader or RNG stream is left exactly there.
        batches = itertools.islice(batches, steps) if steps > 0 else ()
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    for index, batch in enumerate(batches):
        rate = None
        if lr is not None:
            rate = lr(index)
            for group in optimizer.param_groups:
                group["lr"] = rate
        out = loss_fn(batch)
        loss, logs = out if isinstance(out, tuple) else (out, {})
        if finite_loss and not torch.isfinite(loss):
            raise DataError(f"{desc}: the loss became {loss.item()} at step {index + 1}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        row = record(StepResult(index, loss.detach(), rate, logs))
        if row is not None:
            history.append(row)
        if progress:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return history
