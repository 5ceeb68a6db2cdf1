"""A FIFO queue of key embeddings used as InfoNCE negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FeatureQueue(nn.Module):
    """Fixed-size ring buffer of L2-normalised keys; the oldest entries are replaced first.

    Example:
        >>> q = FeatureQueue(dim=2, size=3)
        >>> q.enqueue(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        >>> int(q.ptr)
        2
    """

    def __init__(self, dim: int, size: int):
        super().__init__()
        # Random unit vectors until real keys arrive, as in MoCo.
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        n = keys.shape[0]
        if n > self.size:
            keys, n = keys[-self.size :], self.size
        idx = (self.ptr + torch.arange(n, device=keys.device)) % self.size
        self.keys[idx] = keys.detach().to(self.keys.dtype)
        self.ptr.copy_((self.ptr + n) % self.size)
