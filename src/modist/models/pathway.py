"""A pathway = backbone + projection head (visual on RGB, motion on flow encodings)."""

from __future__ import annotations

import torch
from torch import nn

from modist.models.encoder_io import EncoderSpec
from modist.models.heads import ProjectionHead
from modist.models.resnet3d import ResNet3d


class Pathway(nn.Module):
    """Encodes a clip [N, C, T, H, W] into an L2-normalised embedding.

    ``spec`` says how to rebuild the backbone alone, which is what a run exports.
    """

    def __init__(self, backbone: ResNet3d, head: ProjectionHead, spec: EncoderSpec | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def build_pathway(
    arch: str,
    in_channels: int,
    *,
    width_divisor: float = 1.0,
    base_width: int = 16,
    modality: str = "rgb",
    proj_hidden: int = 2048,
    embed_dim: int = 128,
    head_bn: bool = False,
    conv1_temporal_stride: int = 1,
) -> Pathway:
    """A backbone of ``arch`` with a projection head to ``embed_dim``.

    ``conv1_temporal_stride`` is the stem's temporal stride (``model.conv1_temporal_stride``).

    Example:
        >>> p = build_pathway("r3d_tiny", 2, width_divisor=4, base_width=8, modality="motion", embed_dim=16)
        >>> p(torch.zeros(2, 2, 4, 32, 32)).shape, p.spec.in_channels
        (torch.Size([2, 16]), 2)
    """
    spec = EncoderSpec(arch, in_channels, width_divisor=width_divisor, base_width=base_width, modality=modality,
                       conv1_temporal_stride=conv1_temporal_stride)
    backbone = spec.build()
    return Pathway(backbone, ProjectionHead(backbone.out_dim, proj_hidden, embed_dim, batch_norm=head_bn), spec)
