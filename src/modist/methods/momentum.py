"""Momentum (EMA) key encoders."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def make_momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy that is updated only by :func:`momentum_update`."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """``target = momentum * target + (1 - momentum) * online`` for parameters; buffers copied."""
    t_params = [p.data for p in target.parameters()]
    o_params = [p.data for p in online.parameters()]
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)
    for t_buf, o_buf in zip(target.buffers(), online.buffers()):
        t_buf.copy_(o_buf)


def cosine_momentum(base: float, step: int, total_steps: int) -> float:
    """BYOL's schedule: momentum rises from ``base`` to 1 along a half cosine."""
    if total_steps <= 0:
        return base
    progress = min(step / total_steps, 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0
