"""Middlebury colour coding of optical flow (Baker et al., IJCV 2011, ``colorcode.cpp``).

Hue encodes direction and saturation encodes magnitude: zero flow is white, flow of the
normalising magnitude is fully saturated, longer flow is darkened by 25 %. The wheel has
55 colours in six ramps (red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11,
blue-magenta 13, magenta-red 6). Direction ``(+1, 0)`` (pointing right) is red, ``(0, +1)``
(down in image coordinates) is yellow-green, left is cyan, up is blue-violet.

Example:
    >>> import numpy as np
    >>> flow_to_color(np.zeros((1, 1, 2), np.float32))[0, 0].tolist()
    [255, 255, 255]
"""

from __future__ import annotations

import numpy as np

from modist.errors import FlowError
from modist.flow.metrics import known_flow_mask

_RAMPS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))


def color_wheel() -> np.ndarray:
    """The 55x3 Middlebury colour wheel as float RGB in [0, 255]."""
    ry, yg, gc, cb, bm, mr = (n for _, n in _RAMPS)
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3))
    i = 0
    wheel[i : i + ry, 0] = 255
    wheel[i : i + ry, 1] = np.floor(255 * np.arange(ry) / ry)
    i += ry
    wheel[i : i + yg, 0] = 255 - np.floor(255 * np.arange(yg) / yg)
    wheel[i : i + yg, 1] = 255
    i += yg
    wheel[i : i + gc, 1] = 255
    wheel[i : i + gc, 2] = np.floor(255 * np.arange(gc) / gc)
    i += gc
    wheel[i : i + cb, 1] = 255 - np.floor(255 * np.arange(cb) / cb)
    wheel[i : i + cb, 2] = 255
    i += cb
    wheel[i : i + bm, 2] = 255
    wheel[i : i + bm, 0] = np.floor(255 * np.arange(bm) / bm)
    i += bm
    wheel[i : i + mr, 2] = 255 - np.floor(255 * np.arange(mr) / mr)
    wheel[i : i + mr, 0] = 255
    return wheel


_WHEEL = color_wheel()


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code float ``[H, W, 2]`` flow as uint8 ``[H, W, 3]`` RGB.

    Magnitudes are divided by ``max_flow`` (default: the largest known magnitude in
    ``flow``, so the longest vector is fully saturated). Unknown flow (non-finite or
    > 1e9) is black.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise FlowError(f"flow_to_color: expected flow of shape [H, W, 2], got {flow.shape}")
    known = known_flow_mask(flow)
    u = np.where(known, flow[..., 0], 0.0)
    v = np.where(known, flow[..., 1], 0.0)
    rad = np.sqrt(u**2 + v**2)
    if max_flow is None:
        max_flow = float(rad.max()) if rad.size else 0.0
    rad = rad / max(float(max_flow), np.finfo(np.float32).eps)

    ncols = len(_WHEEL)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 (and +1) = pointing right
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = ((1 - f) * _WHEEL[k0] + f * _WHEEL[k1]) / 255.0
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    out = np.floor(255 * col).astype(np.uint8)
    out[~known] = 0
    return out
