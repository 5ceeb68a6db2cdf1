"""Batch norm whose training statistics span the global batch of every rank.

PyTorch's :class:`torch.nn.SyncBatchNorm` runs on CUDA only; :class:`GlobalBatchNorm`
does the same on any backend (CPU + gloo included) with a differentiable all-reduce
of per-channel sums, so distributed runs on CPU and their tests use the same maths.
:func:`convert_sync_bn` picks PyTorch's fused version on CUDA and this one elsewhere.
Outside an initialised process group of two or more ranks both behave as plain
batch norm.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from modist.runtime import distributed_world


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Synchronised batch norm for any tensor rank >= 2 and any process-group backend."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, world = distributed_world()
        if not self.training or world == 1:
            return super().forward(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        count = torch.full((1,), x.numel() / c, dtype=torch.float32, device=x.device)
        # Two passes (mean, then centred squares) rather than E[x^2] - E[x]^2: near-collapsed
        # features have |mean| >> std and the one-pass form loses the variance to cancellation.
        # Both all-reduces sum the ranks' gradients in the backward pass.
        first = _AllReduceSum.apply(torch.cat([xf.sum(dims), count]))
        n = first[-1]
        mean = first[:c] / n
        shape = [1, c] + [1] * (x.dim() - 2)
        centred = xf - mean.view(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked + 1)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=m)
                self.num_batches_tracked.add_(1)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum over ranks is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def convert_sync_bn(module: nn.Module, device_type: str = "cpu") -> nn.Module:
    """Replace every batch-norm layer of ``module`` by a synchronised one, in place.

    Parameters and buffers keep their names and values, so state dicts, momentum
    updates and exported encoders are unchanged.
    """
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            new.to(device=next(child.buffers(), torch.empty(0)).device)
            if child.affine:
                new.weight.requires_grad_(child.weight.requires_grad)
                new.bias.requires_grad_(child.bias.requires_grad)
            setattr(module, name, new)
        else:
            convert_sync_bn(child, device_type)
    return module
