"""Batched TV-L1 optical flow in PyTorch: no weights, runs on CPU or GPU.

The Zach-Pock-Bischof duality-based TV-L1 scheme as described in the IPOL article
"TV-L1 Optical Flow Estimation" (Sanchez, Meinhardt-Llopis, Facciolo, 2013), with the
structure of OpenCV's ``DualTVL1OpticalFlow``: an image pyramid (``scale_step``, coarse
to fine; by default as many levels as keep the coarsest side >= ``min_size`` = 16 px, so
large displacements are caught at a coarse level), several warps per scale (bicubic
``grid_sample`` of the second image and its gradient), per warp ``outer_iterations`` x
``inner_iterations`` primal-dual steps and a median filter on the flow before each outer
iteration.

Unlike OpenCV it runs a fixed number of iterations (no convergence test), so the inner
loop never synchronises with the host and a whole batch of pairs advances together on
the GPU. Intensities are grey levels in [0, 255] as in OpenCV and IPOL, so the default
``lambda_`` = 0.15 means the same thing. The other defaults (automatic scales, 3 warps,
2 x 10 iterations per warp) were chosen on validation pairs; see docs/flow.md.

Example:
    >>> import torch
    >>> img = torch.rand(2, 1, 40, 48) * 255
    >>> tvl1_flow(img, img, TVL1Params(scales=2, warps=1, outer_iterations=1)).shape
    torch.Size([2, 2, 40, 48])
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from modist.errors import FlowError

_GREY = (0.299, 0.587, 0.114)  # ITU-R BT.601, as cv2.COLOR_RGB2GRAY


@dataclass(frozen=True)
class TVL1Params:
    """TV-L1 parameters (names follow ``modist.flow.opencv.TVL1_DEFAULTS`` where shared)."""

    tau: float = 0.25  # dual time step (< 0.25 for stability)
    lambda_: float = 0.15  # data-term weight; larger = less smooth
    theta: float = 0.3  # coupling between u and v
    scales: int = 0  # pyramid levels; <= 0: automatic, as many as min_size allows
    scale_step: float = 0.8
    warps: int = 3
    outer_iterations: int = 2
    inner_iterations: int = 10
    median_filtering: int = 5  # median kernel size; <= 1 disables
    min_size: int = 16  # coarsest level keeps at least this many pixels per side


def _params(options: dict[str, Any]) -> tuple[TVL1Params, dict[str, Any]]:
    options = dict(options)
    if "lambda" in options:
        options["lambda_"] = options.pop("lambda")
    if "iterations" in options:  # total primal-dual steps per warp, convenience alias
        total = int(options.pop("iterations"))
        options.setdefault("outer_iterations", max(1, math.ceil(total / 10)))
        options.setdefault("inner_iterations", max(1, total // options["outer_iterations"]))
    fields = {f.name for f in dataclasses.fields(TVL1Params)}
    rest = {k: options.pop(k) for k in list(options) if k not in fields}
    return TVL1Params(**options), rest


def rgb_to_grey(frames: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` RGB (any range) -> ``[N, 1, H, W]`` float32 grey, BT.601 weights."""
    w = torch.tensor(_GREY, dtype=torch.float32, device=frames.device).view(1, 3, 1, 1)
    return (frames.float() * w).sum(dim=1, keepdim=True)


def _centred_gradient(img: torch.Tensor) -> torch.Tensor:
    """Central differences with replicated borders: ``[B, 1, H, W]`` -> ``[B, 2, H, W]``."""
    p = F.pad(img, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * 0.5
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * 0.5
    return torch.cat([gx, gy], dim=1)


def _forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, zero on the last column / row (Neumann boundary)."""
    ux = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return ux, uy


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward-difference divergence, the negative adjoint of :func:`_forward_gradient`.

    The last column of ``px`` (last row of ``py``) is ignored, as the gradient is zero there.
    """
    qx, qy = px[..., :, :-1], py[..., :-1, :]
    return F.pad(qx, (0, 1)) - F.pad(qx, (1, 0)) + F.pad(qy, (0, 0, 0, 1)) - F.pad(qy, (0, 0, 1, 0))


def _median(u: torch.Tensor, k: int) -> torch.Tensor:
    """k x k median of each channel with replicated borders (as cv2.medianBlur).

    On CPU this calls cv2.medianBlur (70x faster than a sort over unfolded patches, same
    result); on GPU it takes the median of unfolded patches, which stays on the device.
    """
    b, c, h, w = u.shape
    if u.device.type == "cpu" and k in (3, 5):
        planes = u.detach().contiguous().view(b * c, h, w).numpy()
        out = np.stack([cv2.medianBlur(plane, k) for plane in planes])
        return torch.from_numpy(out).view(b, c, h, w)
    return _median_unfold(u, k)


def _median_unfold(u: torch.Tensor, k: int) -> torch.Tensor:
    """Device-agnostic k x k median over unfolded patches, replicated borders (k odd)."""
    b, c, h, w = u.shape
    r = k // 2
    patches = F.unfold(F.pad(u, (r, r, r, r), mode="replicate"), k)  # [B, C*k*k, H*W]
    return patches.view(b, c, k * k, h * w).median(dim=2).values.view(b, c, h, w)


def _warp(images: torch.Tensor, flow: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Sample ``images`` at ``x + flow`` (bicubic, border replicate); base is the pixel grid."""
    h, w = images.shape[-2:]
    pos = base + flow  # [B, 2, H, W] in pixels
    # python scalars, not a device tensor: no host-to-device copy per warp
    gx = pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    gy = pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(images, grid, mode="bicubic", padding_mode="border", align_corners=True)


def _pixel_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32, device=device),
        torch.arange(w, dtype=torch.float32, device=device),
        indexing="ij",
    )
    return torch.stack([xs, ys]).unsqueeze(0)


def _pyramid_sizes(h: int, w: int, p: TVL1Params) -> list[tuple[int, int]]:
    """Level sizes, finest first: ``scales`` levels at most (all if ``scales`` <= 0), each
    ``scale_step`` times the previous, none with a side below ``min_size``."""
    if p.scales > 0:
        max_levels = p.scales
    elif 0.0 < p.scale_step < 1.0:  # enough levels to reach 1 px; min_size stops earlier
        max_levels = 1 + math.ceil(math.log(max(h, w, 2)) / -math.log(p.scale_step))
    else:
        raise FlowError(f"torch_tvl1: automatic scales need 0 < scale_step < 1, got {p.scale_step}")
    sizes = [(h, w)]
    for _ in range(max_levels - 1):
        nh, nw = round(sizes[-1][0] * p.scale_step), round(sizes[-1][1] * p.scale_step)
        if min(nh, nw) < p.min_size:
            break
        sizes.append((nh, nw))
    return sizes


def _solve_scale(i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, p: TVL1Params) -> torch.Tensor:
    """Refine flow ``u`` [B, 2, H, W] at one pyramid level."""
    l_t = p.lambda_ * p.theta
    taut = p.tau / p.theta
    base = _pixel_grid(*i0.shape[-2:], i0.device)
    i1_and_grad = torch.cat([i1, _centred_gradient(i1)], dim=1)  # warped together: one call
    pdual = torch.zeros(u.shape[0], 2, 2, *u.shape[-2:], device=u.device)  # [B, comp, (x, y), H, W]
    for _ in range(p.warps):
        warped = _warp(i1_and_grad, u, base)
        i1w, gw = warped[:, :1], warped[:, 1:]
        grad_sq = (gw * gw).sum(dim=1, keepdim=True)
        rho_c = i1w - (gw * u).sum(dim=1, keepdim=True) - i0
        neg_inv_grad = -1.0 / grad_sq.clamp_min(1e-10)
        for _ in range(p.outer_iterations):
            if p.median_filtering > 1:
                u = _median(u, p.median_filtering)
            for _ in range(p.inner_iterations):
                rho = rho_c + (gw * u).sum(dim=1, keepdim=True)
                # TH operator: v = u + l_t g (rho < -l_t |g|^2), u - l_t g (rho > l_t |g|^2),
                # else u - rho g / |g|^2 -- i.e. the step -rho / |g|^2 clamped to +-l_t.
                coef = (rho * neg_inv_grad).clamp_(-l_t, l_t)
                v = u + coef * gw
                u = v + p.theta * _divergence(pdual[:, :, 0], pdual[:, :, 1])
                ux, uy = _forward_gradient(u)
                norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy)
                pdual = (pdual + taut * torch.stack([ux, uy], dim=2)) / norm.unsqueeze(2)
    return u


@torch.no_grad()
def tvl1_flow(image0: torch.Tensor, image1: torch.Tensor, params: TVL1Params = TVL1Params()) -> torch.Tensor:
    """Flow ``image0 -> image1`` for grey images ``[B, 1, H, W]`` in [0, 255]: ``[B, 2, H, W]`` float32."""
    if image0.shape != image1.shape or image0.ndim != 4 or image0.shape[1] != 1:
        shapes = f"{tuple(image0.shape)} and {tuple(image1.shape)}"
        raise FlowError(f"torch_tvl1: expected two [B, 1, H, W] images, got {shapes}")
    image0, image1 = image0.float(), image1.float()
    h, w = image0.shape[-2:]
    sizes = _pyramid_sizes(h, w, params)
    levels0, levels1 = [image0], [image1]
    for size in sizes[1:]:
        # antialiased downsampling: each level from the finest, no accumulated blur
        levels0.append(F.interpolate(image0, size=size, mode="bilinear", antialias=True, align_corners=False))
        levels1.append(F.interpolate(image1, size=size, mode="bilinear", antialias=True, align_corners=False))
    u = torch.zeros(image0.shape[0], 2, *sizes[-1], device=image0.device)
    for level in range(len(sizes) - 1, -1, -1):
        if u.shape[-2:] != levels0[level].shape[-2:]:
            (ph, pw), (nh, nw) = u.shape[-2:], levels0[level].shape[-2:]
            u = F.interpolate(u, size=(nh, nw), mode="bilinear", align_corners=True)
            u = torch.cat([u[:, :1] * (nw / pw), u[:, 1:] * (nh / ph)], dim=1)
        u = _solve_scale(levels0[level], levels1[level], u, params)
    return u


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise FlowError(f"torch_tvl1: invalid device {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise FlowError(f"torch_tvl1: device {device!r} requested but CUDA is not available")
    return dev


@torch.no_grad()
def tvl1_flow_rgb(frames0: torch.Tensor, frames1: torch.Tensor, params: TVL1Params = TVL1Params()) -> torch.Tensor:
    """Flow for RGB tensors ``[N, 3, H, W]`` in [0, 255] on any device -> ``[N, 2, H, W]`` there.

    The entry point for GPU pipelines: decoded frames stay on the device and the result
    feeds :func:`modist.flow.encodings.encode_motion` directly.
    """
    return tvl1_flow(rgb_to_grey(frames0), rgb_to_grey(frames1), params)


def estimate_batch(
    frames0: np.ndarray, frames1: np.ndarray, device: str | None = None, batch_size: int = 16, **options: Any
) -> np.ndarray:
    """uint8 RGB ``[N, H, W, 3]`` pairs -> float32 ``[N, H, W, 2]``, ``batch_size`` pairs at a time.

    Options: ``device`` (default: cuda if available), ``batch_size``, any
    :class:`TVL1Params` field, ``lambda`` (alias of ``lambda_``) and ``iterations``
    (primal-dual steps per warp, split into outer x inner).
    """
    params, rest = _params(options)
    if rest:
        names = ", ".join(f.name for f in dataclasses.fields(TVL1Params))
        raise FlowError(
            f"flow estimator 'torch_tvl1': unknown option(s) {', '.join(sorted(rest))}; "
            f"valid: device, batch_size, iterations, lambda, {names}"
        )
    dev = _device(device)
    step = max(1, int(batch_size))
    out = np.empty((*frames0.shape[:3], 2), np.float32)
    for start in range(0, len(frames0), step):
        f0, f1 = (
            torch.from_numpy(np.ascontiguousarray(f[start : start + step])).to(dev).permute(0, 3, 1, 2)
            for f in (frames0, frames1)
        )
        flow = tvl1_flow_rgb(f0, f1, params)
        out[start : start + step] = flow.permute(0, 2, 3, 1).cpu().numpy()
    return out


def estimate_pair(frame0: np.ndarray, frame1: np.ndarray, **options: Any) -> np.ndarray:
    """One uint8 RGB pair -> float32 ``[H, W, 2]`` (see :func:`estimate_batch`)."""
    return estimate_batch(frame0[None], frame1[None], **options)[0]
