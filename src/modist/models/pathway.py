"""A pathway = backbone + projection head (visual on RGB, motion on flow encodings)."""

from __future__ import annotations

import torch
from torch import nn

from modist.models.heads import ProjectionHead
from modist.models.resnet3d import ResNet3d, build_backbone


class Pathway(nn.Module):
    """Encodes a clip [N, C, T, H, W] into pooled features and an L2-normalised embedding."""

    def __init__(self, backbone: ResNet3d, head: ProjectionHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def build_pathway(
    arch: str,
    in_channels: int,
    width_divisor: float = 1.0,
    proj_hidden: int = 2048,
    embed_dim: int = 128,
    head_bn: bool = False,
    **backbone_kwargs,
) -> Pathway:
    backbone = build_backbone(arch, in_channels=in_channels, width_divisor=width_divisor, **backbone_kwargs)
    return Pathway(backbone, ProjectionHead(backbone.out_dim, proj_hidden, embed_dim, batch_norm=head_bn))
