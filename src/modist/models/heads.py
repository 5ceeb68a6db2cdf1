"""Projection heads mapping pooled features to the contrastive embedding space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectionHead(nn.Module):
    """Linear -> ReLU -> Linear -> L2 normalisation (the MoDist release: 2048 -> 128).

    Example:
        >>> head = ProjectionHead(64, hidden_dim=32, out_dim=8)
        >>> z = head(torch.randn(4, 64))
        >>> torch.allclose(z.norm(dim=1), torch.ones(4))
        True
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 128, batch_norm: bool = False):
        super().__init__()
        # Batch norm after the hidden layer (as in MoCo v3 / SimCLR v2) removes the common
        # component that makes freshly initialised embeddings nearly parallel.
        hidden_norm: list[nn.Module] = [nn.BatchNorm1d(hidden_dim)] if batch_norm else []
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), *hidden_norm, nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(x), dim=1)
