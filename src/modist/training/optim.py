"""Optimisers: SGD, AdamW and LARS, with linear learning-rate scaling by batch size."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from modist.config import OptimConfig


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al. 2017).

    The variant of MoCo v3 and BYOL: for a tensor of two or more dimensions,
    ``g <- g + wd * w`` and then ``g <- g * eta * ||w|| / ||g||`` (factor 1 where either
    norm is 0); biases and batch-norm parameters (1-D) get neither decay nor scaling.
    Then ``v <- momentum * v + g`` and ``w <- w - lr * v``.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
        >>> w.grad = torch.tensor([[0.0, 1.0]])                # ||g|| = 1
        >>> LARS([w], lr=1.0, momentum=0.0, eta=0.1).step()
        >>> w.data  # g scaled by 0.1 * 5 / 1
        tensor([[3.0000, 3.5000]])
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim > 1:
                    g = g.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(g)
                    one = torch.ones_like(w_norm)
                    trust = torch.where(w_norm > 0, torch.where(g_norm > 0, group["eta"] * w_norm / g_norm, one), one)
                    g = g.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss


def scaled_lr(cfg: OptimConfig, global_batch: int) -> float:
    """``optim.lr``, times ``global_batch / optim.lr_reference_batch`` when that is set.

    Example:
        >>> scaled_lr(OptimConfig(lr=0.03, lr_reference_batch=256), 512)
        0.06
    """
    if cfg.lr_reference_batch > 0:
        return cfg.lr * global_batch / cfg.lr_reference_batch
    return cfg.lr


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    params = list(params)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "lars":
        return LARS(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, eta=cfg.lars_eta)
    return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
