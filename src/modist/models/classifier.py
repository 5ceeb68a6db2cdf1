"""A backbone with a linear classifier on its pooled features."""

from __future__ import annotations

import torch
from torch import nn


class VideoClassifier(nn.Module):
    """Backbone -> dropout -> linear classifier; clips [N, C, T, H, W] to logits [N, num_classes].

    ``backbone`` must return [N, backbone.out_dim] features (e.g. :class:`~modist.models.ResNet3d`).

    Example:
        >>> from modist.models import build_backbone
        >>> model = VideoClassifier(build_backbone("r3d_tiny", base_width=4), num_classes=5)
        >>> model(torch.zeros(2, 3, 4, 16, 16)).shape
        torch.Size([2, 5])
    """

    def __init__(self, backbone: nn.Module, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(backbone.out_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.backbone(x)))
