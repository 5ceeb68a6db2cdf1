"""Action detection on a video backbone: per-person RoI features -> multi-label action logits.

The head follows PySlowFast's AVA head for a single pathway: the last stage's map is averaged
over time, each person box is RoIAligned (``aligned=True``) to ``resolution`` x ``resolution``,
max-pooled over space, then dropout and one linear layer; sigmoid scores, trained with binary
cross-entropy (an AVA box may carry several actions).

:func:`dilate_last_stage` gives the SlowFast AVA backbone convention (last stage at spatial
stride 1 with dilation 2, doubling the map's resolution) by changing only conv strides, dilations
and paddings in place: every parameter keeps its key and shape, so pretrained weights still load.

Example:
    >>> import torch
    >>> from modist.models.resnet3d import r3d_tiny
    >>> det = ActionDetector(r3d_tiny(base_width=4), num_classes=3, resolution=2)
    >>> boxes = torch.tensor([[0, 0.1, 0.1, 0.6, 0.9], [0, 0.5, 0.2, 0.9, 0.8]])  # batch index, x1, y1, x2, y2
    >>> det(torch.zeros(1, 3, 4, 32, 32), boxes).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

import torch
from torch import nn

from modist.models.roi_align import roi_align


class RoIActionHead(nn.Module):
    """Temporal mean, RoIAlign, spatial max, dropout, linear: [N, C, T, H, W] + boxes -> [K, classes] logits."""

    def __init__(self, in_dim: int, num_classes: int, *, resolution: int = 7, sampling_ratio: int = 0,
                 dropout: float = 0.5):
        super().__init__()
        self.resolution = resolution
        self.sampling_ratio = sampling_ratio
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``boxes`` [K, 5]: batch index, then x1, y1, x2, y2 normalised to [0, 1]."""
        fmap = features.mean(dim=2)
        h, w = fmap.shape[-2:]
        scale = boxes.new_tensor([1.0, w, h, w, h])
        pooled = roi_align(fmap, boxes * scale, self.resolution, sampling_ratio=self.sampling_ratio, aligned=True)
        return self.fc(self.dropout(pooled.amax(dim=(2, 3))))


class ActionDetector(nn.Module):
    """A backbone with ``forward_features`` plus :class:`RoIActionHead`."""

    def __init__(self, backbone: nn.Module, num_classes: int, **head):
        super().__init__()
        self.backbone = backbone
        self.head = RoIActionHead(backbone.out_dim, num_classes, **head)

    def forward(self, clips: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(clips), boxes)


def dilate_last_stage(backbone: nn.Module, dilation: int = 2) -> nn.Module:
    """Spatial stride 1 and spatial dilation ``dilation`` in the last residual stage, in place.

    Example:
        >>> import torch
        >>> from modist.models.resnet3d import r3d_tiny
        >>> net = r3d_tiny(base_width=4)
        >>> keys = {k: v.shape for k, v in net.state_dict().items()}
        >>> before = net.forward_features(torch.zeros(1, 3, 4, 32, 32)).shape[-1]
        >>> after = dilate_last_stage(net).forward_features(torch.zeros(1, 3, 4, 32, 32)).shape[-1]
        >>> before, after, keys == {k: v.shape for k, v in net.state_dict().items()}
        (2, 4, True)
    """
    for conv in backbone.stages[-1].modules():
        if not isinstance(conv, nn.Conv3d):
            continue
        kt, kh, kw = conv.kernel_size
        conv.stride = (conv.stride[0], 1, 1)
        if kh > 1 or kw > 1:
            conv.dilation = (conv.dilation[0], dilation, dilation)
            conv.padding = (conv.padding[0], dilation * (kh // 2), dilation * (kw // 2))
    return backbone


__all__ = ["ActionDetector", "RoIActionHead", "dilate_last_stage"]
