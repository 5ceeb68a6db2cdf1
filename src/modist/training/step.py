"""One optimisation step, shared by the trainer and ``modist bench train``.

A step tells the method it starts, runs its micro-batches (forward under autocast in
bf16/fp16, backward scaled for fp16, DDP's gradient all-reduce on the last micro-batch
only), then the optimiser, the learning-rate schedule and the method's after-step hook
(queue update, momentum encoders). The method's ``training_step`` runs inside a small
module's ``forward`` so that DDP can wrap it. Everything generic code needs to know about
the method comes from its declared parts (:mod:`modist.methods.base`).

Example:
    >>> import torch
    >>> from modist.methods.base import Batch, Method
    >>> class Fit(Method):
    ...     def __init__(self):
    ...         super().__init__(); self.w = torch.nn.Parameter(torch.zeros(()))
    ...     def query_networks(self):
    ...         return {}
    ...     def training_step(self, batch):
    ...         return (self.w - batch.rgb.mean()) ** 2, {}
    >>> m = Fit(); opt = torch.optim.SGD(m.parameters(), lr=0.5)
    >>> step = TrainStep(m, opt, total_steps=1)
    >>> logs = step([Batch(torch.ones(2, 1), None, torch.zeros(1))], 0)
    >>> logs["loss"], round(m.w.item(), 3)
    (1.0, 1.0)
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from modist.methods.base import Batch, Method

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class _StepModule(nn.Module):
    """``forward(batch) = method.training_step(batch)``, the shape DDP needs."""

    def __init__(self, method: Method):
        super().__init__()
        self.method = method

    def forward(self, batch: Batch):
        return self.method.training_step(batch)


def compile_networks(method: Method) -> None:
    """``torch.compile`` the method's query and key networks in place (state-dict keys are unchanged)."""
    for net in [*method.query_networks().values(), *method.key_networks()]:
        net.compile()


def channels_last_views(x: torch.Tensor | None) -> torch.Tensor | None:
    """[V, B, C, T, H, W] stored so that every view ``x[v]`` is channels_last_3d."""
    if x is None:
        return None
    return x.permute(0, 1, 3, 4, 5, 2).contiguous().permute(0, 1, 5, 2, 3, 4)


def _no_buffer_sync_per_step() -> dict:
    # Newer PyTorch renames broadcast_buffers to forward_sync_buffers (and deprecates the old name).
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


class TrainStep:
    """One optimiser step of ``method`` over one or more micro-batches.

    Args:
        method: the method to train.
        optimizer: built over ``method.learnable_params``.
        scheduler: stepped once per optimiser step (None: constant rate).
        total_steps: length of the run, for the method's schedules (momentum).
        precision: ``fp32``, ``bf16`` or ``fp16`` (autocast; fp16 adds a gradient scaler).
        distributed: wrap the method in DDP (a process group must be initialised).
        device: where the batches are.
    """

    def __init__(
        self,
        method: Method,
        optimizer: torch.optim.Optimizer,
        *,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        total_steps: int = 1,
        precision: str = "fp32",
        distributed: bool = False,
        device: torch.device | str = "cpu",
    ):
        self.method = method
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.total_steps = total_steps
        self.device = torch.device(device)
        self.dtype = AUTOCAST_DTYPES[precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=precision == "fp16")
        module: nn.Module = _StepModule(method)
        if distributed:
            # Queues and key encoders are identical on every rank by construction; broadcasting
            # the buffers each step would move the 65,536-row queues for nothing.
            module = DistributedDataParallel(module, find_unused_parameters=not method.all_parameters_used,
                                             **_no_buffer_sync_per_step())
        self.module = module
        self.distributed = distributed

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __call__(self, micro_batches: Iterable[Batch], step: int, *, count: int | None = None) -> dict:
        """Run step ``step`` (0-based) over ``micro_batches``; mean logs over them.

        ``micro_batches`` may be a lazy iterable (batches are then drawn one at a time, so
        only one is in memory); ``count`` is its length where it has no ``len()``.
        """
        n = count if count is not None else len(micro_batches)  # type: ignore[arg-type]
        self.method.on_step_start()
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        seen = 0
        for i, batch in enumerate(micro_batches):
            last = i == n - 1
            sync = contextlib.nullcontext() if last or not self.distributed else self.module.no_sync()
            with sync:
                with self.autocast():
                    loss, logs = self.module(batch)
                self.scaler.scale(loss / n).backward()
            for key, value in {"loss": loss.item(), **logs}.items():
                totals[key] = totals.get(key, 0.0) + value / n
            seen += 1
        if seen != n:
            raise ValueError(f"step {step}: got {seen} micro-batch(es), expected {n}")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        self.method.after_optimizer_step(step + 1, self.total_steps)
        return totals
