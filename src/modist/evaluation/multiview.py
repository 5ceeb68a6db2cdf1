"""Multi-view testing: temporal x spatial views of a video and how their outputs combine.

A video is tested on ``T`` uniformly spaced clips (temporal views, chosen by
:class:`~modist.data.clips.MultiClipDataset`) times ``S`` square crops of side
``min(H, W)`` placed evenly along the long side (spatial views: left / centre / right
for landscape frames, top / centre / bottom for portrait; ``S = 1`` is the centre crop),
each resized to the crop size. View ``v`` of a video is temporal view ``v // S`` at
spatial position ``v % S``.

Combining views (``N`` videos, ``V`` views):

* classifier outputs: ``p(c | video) = 1/V * sum_v softmax(z_v)_c`` (the mean of the
  per-view class probabilities, PySlowFast's ensemble);
* features: ``f(video) = 1/V * sum_v f_v``.

Example:
    >>> import torch
    >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])  # 1 video, 2 views, 2 classes
    >>> [round(p, 4) for p in average_view_probs(logits)[0].tolist()]
    [0.6904, 0.3096]
"""

from __future__ import annotations

import numpy as np
import torch

from modist.data.augment import PairedAugment
from modist.data.clips import ClipBatch
from modist.flow.inputs import InputPipeline


class SpatialCrop(PairedAugment):
    """The deterministic crop of spatial view ``position`` out of ``num_positions``."""

    def __init__(self, crop_size: int, position: int = 0, num_positions: int = 1):
        super().__init__(crop_size, train=False)
        if not 0 <= position < num_positions:
            raise ValueError(f"spatial view {position} outside 0..{num_positions - 1}")
        self.position = position
        self.num_positions = num_positions

    def _sample_boxes(self, n: int, h, w, device) -> tuple[torch.Tensor, torch.Tensor]:
        # h, w: each clip's own frame size (float [n], or one number for all): padded clips of
        # a batch are placed along their own long side.
        h = torch.as_tensor(h, dtype=torch.float32, device=device).expand(n)
        w = torch.as_tensor(w, dtype=torch.float32, device=device).expand(n)
        side = torch.minimum(h, w)
        frac = 0.5 if self.num_positions == 1 else self.position / (self.num_positions - 1)
        box = torch.stack([(w - side) * frac, (h - side) * frac, side, side], dim=1)
        return box, torch.zeros(n, dtype=torch.bool, device=device)


class ViewPipeline:
    """Like :class:`~modist.flow.inputs.InputPipeline`, with ``spatial_views`` crops per clip.

    ``batch.rgb`` is [B, T, F, H, W, 3] (T temporal views); the output is
    [T * S, B, C, F, crop, crop], view ``t * S + s``.
    """

    def __init__(self, crop_size: int, spatial_views: int = 1, *, encoding: str = "flow_edges",
                 max_flow: float = 20.0, edge_max: float = 10.0):
        if spatial_views < 1:
            raise ValueError("spatial_views must be >= 1")
        self.spatial_views = spatial_views
        self.pipelines = [InputPipeline(SpatialCrop(crop_size, s, spatial_views), encoding, max_flow, edge_max)
                          for s in range(spatial_views)]

    def __call__(self, batch: ClipBatch, device: torch.device,
                 with_motion: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        outs = [p(batch, device, with_motion) for p in self.pipelines]
        rgb = _interleave([o[0] for o in outs])
        motion = _interleave([o[1] for o in outs]) if with_motion else None
        return rgb, motion


def _interleave(views: list[torch.Tensor]) -> torch.Tensor:
    """[T, B, ...] per spatial position -> [T * S, B, ...] with the spatial index fastest."""
    stacked = torch.stack(views, dim=1)  # [T, S, B, ...]
    return stacked.flatten(0, 1)


def average_view_probs(logits: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Mean over views of the softmax of ``logits`` [N, V, C] -> [N, C]."""
    logits = torch.as_tensor(logits, dtype=torch.float32)
    return logits.softmax(dim=-1).mean(dim=1)


def average_view_features(features: np.ndarray) -> np.ndarray:
    """Mean over views of ``features`` [N, V, D] -> [N, D]."""
    return np.asarray(features, dtype=np.float32).mean(axis=1)
