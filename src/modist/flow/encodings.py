"""Motion encodings: what the motion pathway sees instead of raw flow.

Torch functions work on batched flow ``[..., 2, H, W]`` (any leading dims, CPU or GPU,
any float dtype) and return ``[..., C, H, W]``:

=============  ===  ============================================================
encoding       C    formula (m = max_flow, e = edge_max)
=============  ===  ============================================================
``dxdy``       2    ``clamp(flow, -m, m) / m``  in [-1, 1]
``magnitude``  1    ``min(sqrt(dx^2 + dy^2), m) / m``  in [0, 1]
``flow_edges`` 1    ``min(sqrt(Gx^2 + Gy^2 + 1e-6), e) / e`` in [0, 1], where Gx, Gy are
                    the normalised 3x3 Sobel responses of the flow magnitude (kernel
                    ``[[-1,0,1],[-2,0,2],[-1,0,1]] / 8`` and its transpose, replicate
                    padding): ``kornia.filters.Sobel()`` at its defaults, as the
                    authors' ``misc.py`` (fanyix/RAFT, mode ``flow_edge``) calls it
=============  ===  ============================================================

Flow edges vanish for uniform (camera) translation and light up at motion boundaries.
The normalised kernel estimates the derivative itself: a magnitude ramp of slope ``s``
px/px gives ``G = s`` (the unnormalised kernel gives ``8 s`` and saturates the clamp 8x
sooner). The ``1e-6`` inside the square root is kornia's, so flat regions give
``sqrt(1e-6) / e = 1e-4``, not 0. The sign and orientation of kornia's kernels do not
matter: only ``Gx^2 + Gy^2`` is used.

The names and channel counts are :data:`modist.choices.MOTION_ENCODINGS`.

Numpy storage forms (channel-last ``[..., H, W, 2]`` flow, as estimators return it):

* :func:`quantize_flow`: ``q = round((clip(f, -m, m) + m) * 255 / (2 m))`` as uint8,
  m = 20 by default (TV-L1 JPEG practice); :func:`dequantize_flow` inverts it as
  ``f = q * 2 m / 255 - m``, so the round trip error is at most ``m / 255`` px
  (0.078 px for m = 20) inside the clip range.
* :func:`flow_edges_uint8`: ``floor(flow_edges * 255)``, i.e. ``floor(min(G, 10) * 25.5)``,
  the authors' 0..255 storage: they cast with ``astype(np.uint8)``, which truncates.
  (They divide by ``10 + 1e-8``; on a float32 tensor that scalar is 10.0 exactly.)

Example:
    >>> import torch
    >>> flow = torch.zeros(4, 2, 8, 8); flow[:, 0] = 40.0
    >>> encode_motion(flow, "dxdy")[0, :, 0, 0].tolist()
    [1.0, 0.0]
    >>> round(float(encode_motion(flow, "flow_edges").max()), 6)  # uniform motion: sqrt(1e-6) / 10
    0.0001
    >>> ramp = torch.arange(8.0).expand(8, 8)  # magnitude grows 1 px per column
    >>> edges = encode_motion(torch.stack([ramp, 0 * ramp])[None], "flow_edges")
    >>> round(float(edges[0, 0, 4, 4]), 4)  # G = slope = 1 -> 1 / edge_max
    0.1
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from modist.choices import MOTION_ENCODINGS
from modist.errors import FlowError

# kornia.filters.Sobel's default eps, inside the square root (it keeps the gradient finite at 0).
SOBEL_EPS = 1e-6


def motion_channels(kind: str) -> int:
    """Number of channels :func:`encode_motion` produces for ``kind``."""
    try:
        return MOTION_ENCODINGS[kind]
    except KeyError:
        raise FlowError(f"unknown motion encoding {kind!r}; choose from {', '.join(MOTION_ENCODINGS)}") from None


def _check_flow(flow: torch.Tensor) -> None:
    if not isinstance(flow, torch.Tensor) or flow.ndim < 3 or flow.shape[-3] != 2:
        shape = tuple(flow.shape) if hasattr(flow, "shape") else type(flow).__name__
        raise FlowError(f"expected a flow tensor of shape [..., 2, H, W], got {shape}")


def flow_magnitude(flow: torch.Tensor) -> torch.Tensor:
    """``sqrt(dx^2 + dy^2)`` as ``[..., 1, H, W]``."""
    _check_flow(flow)
    # Not linalg.vector_norm over dim -3: on CPU that strided reduction is ~40x slower (8 ms a 340x256 frame).
    dx, dy = flow.unbind(dim=-3)
    return torch.sqrt(dx * dx + dy * dy).unsqueeze(-3)


def sobel_magnitude(image: torch.Tensor, eps: float = SOBEL_EPS) -> torch.Tensor:
    """Normalised 3x3 Sobel magnitude ``sqrt(gx^2 + gy^2 + eps)`` of ``[..., 1, H, W]``, replicate padding.

    ``kornia.filters.sobel`` at its defaults (``normalized=True``, ``eps=1e-6``): the kernel
    ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` divided by 8 (the sum of its absolute values),
    so a ramp of slope ``s`` gives ``s`` away from the border. Computed in separable form
    (central difference, then ``(1, 2, 1)`` smoothing across, then / 8), which equals the
    convolution and gives ``gx = gy = 0`` exactly on constant regions.
    """
    lead, (h, w) = image.shape[:-3], image.shape[-2:]
    p = F.pad(image.reshape(-1, 1, h, w), (1, 1, 1, 1), mode="replicate")
    dx = p[..., :, 2:] - p[..., :, :-2]  # [B, 1, H + 2, W]
    dy = p[..., 2:, :] - p[..., :-2, :]  # [B, 1, H, W + 2]
    gx = (dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]) / 8
    gy = (dy[..., :, :-2] + 2 * dy[..., :, 1:-1] + dy[..., :, 2:]) / 8
    mag = torch.sqrt(gx * gx + gy * gy + eps)
    return mag.reshape(*lead, 1, h, w)


def encode_motion(
    flow: torch.Tensor, kind: str, max_flow: float = 20.0, edge_max: float = 10.0
) -> torch.Tensor:
    """Encode flow ``[..., 2, H, W]`` (pixels) as ``[..., C, H, W]``; see the module table."""
    motion_channels(kind)
    _check_flow(flow)
    if not flow.is_floating_point():
        flow = flow.float()
    if kind == "dxdy":
        return flow.clamp(-max_flow, max_flow) / max_flow
    if kind == "magnitude":
        return flow_magnitude(flow).clamp(max=max_flow) / max_flow
    if kind != "flow_edges":  # frame_diff is computed from frames, not from flow
        raise FlowError(f"motion encoding {kind!r} is not an encoding of flow (see modist.data.frame_difference)")
    edges = sobel_magnitude(flow_magnitude(flow))
    return edges.clamp(0.0, edge_max) / edge_max


def quantize_flow(flow: np.ndarray, max_flow: float = 20.0) -> np.ndarray:
    """Float flow (any shape) -> uint8 with ``q = round((clip(f, -m, m) + m) * 255 / (2 m))``.

    Computed as ``rint(clip(f * 255 / (2 m) + 127.5, 0, 255))`` in one float32 buffer;
    NaN maps to 128 (zero flow).
    """
    buf = np.multiply(flow, np.float32(255.0 / (2.0 * max_flow)), dtype=np.float32)
    buf += np.float32(127.5)
    np.clip(buf, 0.0, 255.0, out=buf)
    np.rint(buf, out=buf)
    buf[np.isnan(buf)] = 128.0
    return buf.astype(np.uint8)


def dequantize_flow(q: np.ndarray, max_flow: float = 20.0) -> np.ndarray:
    """uint8 -> float32 flow with ``f = q * 2 m / 255 - m`` (inverse of :func:`quantize_flow`)."""
    q = np.asarray(q)
    if q.dtype != np.uint8:
        raise FlowError(f"dequantize_flow: expected uint8, got {q.dtype}")
    return (q.astype(np.float32) * np.float32(2.0 * max_flow / 255.0) - np.float32(max_flow)).astype(np.float32)


def flow_edges_uint8(flow: np.ndarray, edge_max: float = 10.0) -> np.ndarray:
    """Channel-last flow ``[..., H, W, 2]`` -> uint8 flow edges ``[..., H, W]`` (0..255).

    Truncates (``floor(flow_edges * 255)``) as the authors' ``astype(np.uint8)`` does.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim < 3 or flow.shape[-1] != 2:
        raise FlowError(f"flow_edges_uint8: expected flow of shape [..., H, W, 2], got {flow.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(np.moveaxis(flow, -1, -3)))
    edges = encode_motion(tensor, "flow_edges", edge_max=edge_max)[..., 0, :, :]
    return torch.floor(edges * 255.0).to(torch.uint8).numpy()
