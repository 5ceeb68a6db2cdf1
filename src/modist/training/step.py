"""One optimisation step, shared by the trainer and ``modist bench train``.

A step runs ``accumulate`` micro-batches: forward under autocast (bf16/fp16), backward
(scaled for fp16), DDP gradient all-reduce on the last micro-batch only, then the
optimiser, the learning-rate schedule and the method's after-step hook (queue update,
momentum encoders). The method's ``training_step`` runs inside a small module's
``forward`` so that DDP can wrap it.

Example:
    >>> import torch
    >>> from modist.methods.base import Batch, Method
    >>> class Fit(Method):
    ...     def __init__(self):
    ...         super().__init__(); self.w = torch.nn.Parameter(torch.zeros(()))
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
from typing import Callable, Sequence

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


def query_modules_used(method: Method) -> bool:
    """Whether every trainable parameter reaches the loss (else DDP must look for unused ones)."""
    weights = getattr(method, "weights", None)
    if weights is None:
        return True
    visual_used = not getattr(method, "visual", None) or bool(weights.vv or weights.vm)
    motion_used = not getattr(method, "motion", None) or bool(weights.mm or weights.mv)
    return visual_used and motion_used


def compile_pathways(method: Method) -> None:
    """``torch.compile`` each network in place (state-dict keys are unchanged)."""
    for name in ("visual", "motion", "visual_key", "motion_key", "backbone"):
        module = getattr(method, name, None)
        if isinstance(module, nn.Module):
            module.compile()


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
    def __init__(
        self,
        method: Method,
        optimizer: torch.optim.Optimizer,
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
            module = DistributedDataParallel(module, find_unused_parameters=not query_modules_used(method),
                                             **_no_buffer_sync_per_step())
        self.module = module
        self.distributed = distributed

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __call__(self, micro_batches: Sequence[Batch] | Callable[[], Batch], step: int, accumulate: int = 1) -> dict:
        """Run step ``step`` (0-based) over ``micro_batches`` (or ``accumulate`` calls of a batch factory)."""
        get = micro_batches if callable(micro_batches) else iter(micro_batches).__next__
        n = accumulate if callable(micro_batches) else len(micro_batches)
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for i in range(n):
            batch = get()
            last = i == n - 1
            sync = contextlib.nullcontext() if last or not self.distributed else self.module.no_sync()
            with sync:
                with self.autocast():
                    loss, logs = self.module(batch)
                self.scaler.scale(loss / n).backward()
            for key, value in {"loss": loss.item(), **logs}.items():
                totals[key] = totals.get(key, 0.0) + value / n
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        self.method.after_optimizer_step(step + 1, self.total_steps)
        return totals
