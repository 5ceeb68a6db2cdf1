"""RoIAlign in plain torch, with the semantics of torchvision's ``roi_align(..., aligned=True)``.

torchvision is not on every install path of modist, and the op is small: each output bin of a
box averages ``sampling_ratio`` x ``sampling_ratio`` bilinear samples placed at the centres of a
regular grid inside the bin (``sampling_ratio <= 0``: ``ceil(box side / output side)`` per axis,
per box, as torchvision does). With ``aligned=True`` box coordinates are shifted by -0.5 so that a
pixel's centre is at ``i + 0.5``, and boxes are not forced to be at least one pixel. Samples
further than one pixel outside the map are 0; those between -1 and 0 read the border (the
detectron2/torchvision kernel).

Bilinear sampling on a separable grid is a product of per-axis weights, so the whole op is
``Ay @ F @ Ax^T`` with one small interpolation matrix per axis and box: differentiable in the
features, and exact against the reference kernel.

Example:
    >>> import torch
    >>> ramp = (torch.arange(6.0)[None, :] + 10 * torch.arange(6.0)[:, None])[None, None]  # f(y, x) = x + 10 y
    >>> roi_align(ramp, torch.tensor([[0, 1.0, 1.0, 3.0, 3.0]]), (2, 2), sampling_ratio=2).squeeze().tolist()
    [[11.0, 12.0], [21.0, 22.0]]
"""

from __future__ import annotations

import math

import torch


def _axis_weights(start: float, length: float, bins: int, grid: int, size: int, *,
                  dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[bins, size] mean bilinear weights of the ``grid`` samples of each bin along one axis."""
    weights = torch.zeros(bins, size, dtype=dtype, device=device)
    if grid <= 0:
        return weights  # the reference kernel divides an empty sum by 1
    step = length / bins
    offsets = (torch.arange(grid, dtype=torch.float64) + 0.5) * step / grid
    pos = start + torch.arange(bins, dtype=torch.float64)[:, None] * step + offsets[None, :]  # [bins, grid]
    inside = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    frac = torch.where(at_edge, torch.zeros_like(pos), pos - low.to(pos.dtype))
    w_low, w_high = (1.0 - frac) * inside, frac * inside
    rows = torch.arange(bins)[:, None].expand(bins, grid)
    acc = torch.zeros(bins, size, dtype=torch.float64)
    acc.index_put_((rows.reshape(-1), low.reshape(-1)), w_low.reshape(-1), accumulate=True)
    acc.index_put_((rows.reshape(-1), high.reshape(-1)), w_high.reshape(-1), accumulate=True)
    return (acc / grid).to(dtype=dtype, device=device)


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int], *,
              spatial_scale: float = 1.0, sampling_ratio: int = 0, aligned: bool = True) -> torch.Tensor:
    """Pooled features [K, C, ph, pw] of ``rois`` [K, 5] = (batch index, x1, y1, x2, y2) over ``features`` [N, C, H, W].

    Box coordinates are in input pixels; ``spatial_scale`` maps them onto the feature map.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be [N, C, H, W], got {tuple(features.shape)}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must be [K, 5] (batch index, x1, y1, x2, y2), got {tuple(rois.shape)}")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    n, c, h, w = features.shape
    k = rois.shape[0]
    if k == 0:
        return features.new_zeros(0, c, ph, pw)
    offset = 0.5 if aligned else 0.0
    boxes = rois.detach().to(torch.float64).cpu()
    ay, ax = [], []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) * spatial_scale - offset for v in b[1:])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:  # the legacy op forces boxes to span at least one pixel
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gy = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gx = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        ay.append(_axis_weights(y1, rh, ph, gy, h, dtype=features.dtype, device=features.device))
        ax.append(_axis_weights(x1, rw, pw, gx, w, dtype=features.dtype, device=features.device))
    index = boxes[:, 0].long().to(features.device)
    if index.min() < 0 or index.max() >= n:
        raise ValueError(f"roi batch indices must be in [0, {n}), got {boxes[:, 0].tolist()}")
    return torch.einsum("kph,kchw,kqw->kcpq", torch.stack(ay), features[index], torch.stack(ax))


__all__ = ["roi_align"]
