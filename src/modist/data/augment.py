"""Paired clip augmentation, batched on whatever device the batch lives on.

The RGB clip and its flow get the *same* random resized crop and horizontal flip, so
the motion input stays aligned with the pixels: cropping rescales flow vectors by the
resize factor and flipping negates dx. Colour jitter, grayscale and blur touch RGB only.
One random draw per clip; all frames of a clip share it, and so does its flow even when the
flow has another number of frames than the RGB clip.

A prepared copy's motion input arrives encoded (``motion``, uint8 flow edges): it gets the
same crop and flip as its RGB clip and nothing else. No sign flip (edges are magnitudes) and
no rescaling: flow edges are a slope of the flow magnitude, and resizing the flow by ``s``
scales the magnitude by ``s`` and distances by ``s``, so to first order the edges the crop
would have given are the edges of the uncropped flow, resampled.

Clips of different frame sizes travel padded to the batch's largest size
(:func:`modist.data.clips.collate_clips`) with their true sizes in ``frame_size``: each
clip's crop box is drawn inside its own frame and its sampling grid is clamped to it, so
no padded pixel is ever read.

Example:
    >>> import torch
    >>> aug = PairedAugment(crop_size=32)
    >>> rgb = torch.randint(0, 255, (4, 2, 8, 48, 64, 3), dtype=torch.uint8)  # [B, V, T, H, W, 3]
    >>> flow = torch.zeros(4, 2, 8, 48, 64, 2)
    >>> x, f = aug(rgb, flow)
    >>> tuple(x.shape), tuple(f.shape)  # [V, B, C, T, S, S]
    ((2, 4, 3, 8, 32, 32), (2, 4, 2, 8, 32, 32))
    >>> sizes = torch.tensor([[48, 64], [48, 40], [30, 64], [48, 64]])  # true (h, w) of each padded clip
    >>> x, f = aug(rgb, torch.zeros(4, 2, 16, 48, 64, 2), frame_size=sizes)  # flow of 16 frames
    >>> tuple(f.shape)
    (2, 4, 2, 16, 32, 32)
    >>> edges = torch.full((4, 2, 16, 48, 64, 1), 255, dtype=torch.uint8)  # encoded motion input
    >>> x, m = aug(rgb, motion=edges)
    >>> tuple(m.shape), round(float(m.min()), 4), round(float(m.max()), 4)  # cropped and flipped, in [0, 1]
    ((2, 4, 1, 16, 32, 32), 1.0, 1.0)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Kinetics statistics used by PySlowFast and the MoDist release.
MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


class PairedAugment:
    def __init__(
        self,
        crop_size: int,
        *,
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip: bool = True,
        color_jitter: float = 0.4,
        color_jitter_prob: float = 0.8,
        grayscale_prob: float = 0.2,
        blur_prob: float = 0.0,
        train: bool = True,
    ):
        self.crop_size = crop_size
        self.scale = scale
        self.ratio = ratio
        self.flip = flip and train
        self.color_jitter = color_jitter if train else 0.0
        self.color_jitter_prob = color_jitter_prob
        self.grayscale_prob = grayscale_prob if train else 0.0
        self.blur_prob = blur_prob if train else 0.0
        self.train = train

    def __call__(
        self, rgb: torch.Tensor, flow: torch.Tensor | None = None, frame_size: torch.Tensor | None = None,
        motion: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``rgb`` uint8 [B, V, T, H, W, 3], ``flow`` [B, V, Tm, H, W, 2] -> [V, B, C, T (Tm), S, S].

        ``frame_size`` [B, 2] (h, w): the true frame size of each item, its frames (and flow)
        sitting top-left in the padded H x W; None means every frame fills the whole tensor.
        ``motion`` uint8 [B, V, Tm, H, W, C], encoded motion input, instead of ``flow``: cropped
        and flipped alike, returned in [0, 1] (value / 255).
        """
        b, v, t, h, w, _ = rgb.shape
        n = b * v
        device = rgb.device
        fh, fw = _clip_sizes(frame_size, b, v, h, w, device)
        x = rgb.reshape(n, t, h, w, 3).permute(0, 1, 4, 2, 3).float().div_(255.0)  # [N, T, 3, H, W]
        boxes, flips = self._sample_boxes(n, fh, fw, device)
        grid = _crop_grid(boxes, flips, fh, fw, h, w, self.crop_size)
        x = _warp(x, grid)
        x = self._color(x)
        mean = torch.tensor(MEAN, device=device).view(1, 1, 3, 1, 1)
        std = torch.tensor(STD, device=device).view(1, 1, 3, 1, 1)
        x = (x - mean) / std
        x = x.reshape(b, v, t, 3, self.crop_size, self.crop_size).permute(1, 0, 3, 2, 4, 5)

        if motion is not None:
            if flow is not None:
                raise ValueError("give flow or encoded motion input, not both")
            if tuple(motion.shape[:2]) != (b, v) or tuple(motion.shape[3:5]) != (h, w):
                raise ValueError(f"motion {tuple(motion.shape)} does not match rgb {tuple(rgb.shape)} in clips or "
                                 "frame size")
            tm, c = motion.shape[2], motion.shape[5]
            m = motion.reshape(n, tm, h, w, c).permute(0, 1, 4, 2, 3).float().div_(255.0)
            m = _warp(m, grid)
            return x.contiguous(), m.reshape(b, v, tm, c, self.crop_size, self.crop_size).permute(1, 0, 3, 2, 4, 5
                                                                                                 ).contiguous()
        if flow is None:
            return x.contiguous(), None
        if tuple(flow.shape[:2]) != (b, v) or tuple(flow.shape[3:5]) != (h, w):
            raise ValueError(f"flow {tuple(flow.shape)} does not match rgb {tuple(rgb.shape)} in clips or frame size")
        tm = flow.shape[2]  # the motion clip may span another number of frames than the RGB clip
        f = flow.reshape(n, tm, h, w, 2).permute(0, 1, 4, 2, 3).float()
        f = _warp(f, grid)
        # Vectors are in pixels of the source frame: rescale to the output grid, then flip dx.
        sx = self.crop_size / boxes[:, 2] * torch.where(flips, -1.0, 1.0)
        sy = self.crop_size / boxes[:, 3]
        f = f * torch.stack([sx, sy], dim=1).view(n, 1, 2, 1, 1)
        f = f.reshape(b, v, tm, 2, self.crop_size, self.crop_size).permute(1, 0, 3, 2, 4, 5)
        return x.contiguous(), f.contiguous()

    def _sample_boxes(self, n: int, h: torch.Tensor, w: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes (x0, y0, bw, bh) in pixels inside each clip's own frame ``h[i]`` x ``w[i]``.

        Random resized crop when training (area fraction and aspect of the clip's own frame),
        centre square otherwise. ``h`` and ``w`` are float [n] (plain numbers broadcast).
        """
        h, w = _as_sizes(h, n, device), _as_sizes(w, n, device)
        if not self.train:
            side = torch.minimum(h, w)
            return (torch.stack([(w - side) / 2, (h - side) / 2, side, side], dim=1),
                    torch.zeros(n, dtype=torch.bool, device=device))
        area = torch.empty(n, device=device).uniform_(*self.scale) * h * w
        log_ratio = torch.empty(n, device=device).uniform_(math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = log_ratio.exp()
        bw = torch.minimum((area * aspect).sqrt(), w)
        bh = torch.minimum((area / aspect).sqrt(), h)
        x0 = torch.rand(n, device=device) * (w - bw)
        y0 = torch.rand(n, device=device) * (h - bh)
        flips = (torch.rand(n, device=device) < 0.5) if self.flip else torch.zeros(n, dtype=torch.bool, device=device)
        return torch.stack([x0, y0, bw, bh], dim=1), flips

    def _color(self, x: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast, saturation jitter, grayscale and blur; x in [0, 1], [N, T, 3, S, S]."""
        n = x.shape[0]
        device = x.device
        if self.color_jitter > 0:
            j = self.color_jitter
            apply = (torch.rand(n, 1, 1, 1, 1, device=device) < self.color_jitter_prob).float()

            def factor() -> torch.Tensor:
                f = torch.empty(n, 1, 1, 1, 1, device=device).uniform_(1 - j, 1 + j)
                return apply * f + (1 - apply)

            x = x * factor()
            grey = _luma(x)
            mean = grey.mean(dim=(1, 2, 3, 4), keepdim=True)
            x = (x - mean) * factor() + mean
            grey = _luma(x)
            x = (x - grey) * factor() + grey
            x = x.clamp(0, 1)
        if self.grayscale_prob > 0:
            to_grey = (torch.rand(n, 1, 1, 1, 1, device=device) < self.grayscale_prob).float()
            x = to_grey * _luma(x).expand_as(x) + (1 - to_grey) * x
        if self.blur_prob > 0:
            sigma = torch.empty(n, device=device).uniform_(0.1, 2.0)
            blurred = _gaussian_blur(x, sigma)
            do_blur = (torch.rand(n, 1, 1, 1, 1, device=device) < self.blur_prob).float()
            x = do_blur * blurred + (1 - do_blur) * x
        return x


def _luma(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=2)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(2)


def _as_sizes(size, n: int, device) -> torch.Tensor:
    """A frame side per clip as float32 [n]: a tensor of n sides, or one number for all."""
    return torch.as_tensor(size, dtype=torch.float32, device=device).expand(n)


def _clip_sizes(frame_size: torch.Tensor | None, b: int, v: int, h: int, w: int,
                device) -> tuple[torch.Tensor, torch.Tensor]:
    """True (h, w) of each of the ``b * v`` clips, float32 [N] each; the views of an item share it."""
    n = b * v
    if frame_size is None:
        return _as_sizes(h, n, device), _as_sizes(w, n, device)
    size = torch.as_tensor(frame_size)  # checked where it lives (the CPU batch): no device sync
    if tuple(size.shape) != (b, 2):
        raise ValueError(f"frame_size {tuple(size.shape)} should be [{b}, 2] (h, w per item)")
    if bool((size < 1).any()) or bool((size[:, 0] > h).any()) or bool((size[:, 1] > w).any()):
        raise ValueError(f"frame_size {size.tolist()} outside the {h} x {w} frames")
    size = size.to(device, torch.float32).repeat_interleave(v, dim=0)
    return size[:, 0], size[:, 1]


def _crop_grid(boxes: torch.Tensor, flips: torch.Tensor, fh: torch.Tensor, fw: torch.Tensor,
               h: int, w: int, size: int) -> torch.Tensor:
    """Sampling grid [N, size, size, 2] of each clip's box in the padded h x w tensor (align_corners=False).

    The grid is clamped to each clip's own pixel centres (0.5 .. side - 0.5 px): that is
    ``padding_mode="border"`` at the clip's own edge, so an upsampled crop that reaches its
    frame's last pixel never blends in the padding beyond it.
    """
    x0, y0, bw, bh = boxes.unbind(1)
    sign = torch.where(flips, -1.0, 1.0)
    theta = torch.zeros(boxes.shape[0], 2, 3, device=boxes.device)
    theta[:, 0, 0] = bw / w * sign
    theta[:, 0, 2] = (2 * x0 + bw) / w - 1
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2 * y0 + bh) / h - 1
    grid = F.affine_grid(theta, [boxes.shape[0], 1, size, size], align_corners=False)
    # Pixel coordinate u (pixel k spans [k, k + 1]) is 2 u / side - 1 in grid units.
    gx = torch.minimum(grid[..., 0].clamp(min=1 / w - 1), ((2 * fw - 1) / w - 1).view(-1, 1, 1))
    gy = torch.minimum(grid[..., 1].clamp(min=1 / h - 1), ((2 * fh - 1) / h - 1).view(-1, 1, 1))
    return torch.stack([gx, gy], dim=-1)


def _warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Resample [N, T, C, H, W] with one grid [N, S, S, 2] per clip (all T frames) to [N, T, C, S, S]."""
    n, t, c, h, w = x.shape
    s = grid.shape[1]
    grid_t = grid.repeat_interleave(t, dim=0)
    out = F.grid_sample(x.reshape(n * t, c, h, w), grid_t, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out.reshape(n, t, c, s, s)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with one sigma per clip."""
    n, t, c, h, w = x.shape
    radius = 3
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # [N, K]
    weight = kernel.repeat_interleave(t * c, dim=0)  # one kernel per (clip, frame, channel)
    flat = x.reshape(1, n * t * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, weight.view(-1, 1, 1, 2 * radius + 1), groups=n * t * c)
    flat = F.conv2d(flat, weight.view(-1, 1, 2 * radius + 1, 1), groups=n * t * c)
    return flat.reshape(n, t, c, h, w)
