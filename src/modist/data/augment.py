"""Paired clip augmentation, batched on whatever device the batch lives on.

The RGB clip and its flow get the *same* random resized crop and horizontal flip, so
the motion input stays aligned with the pixels: cropping rescales flow vectors by the
resize factor and flipping negates dx. Colour jitter, grayscale and blur touch RGB only.
One random draw per clip; all frames of a clip share it.

Example:
    >>> import torch
    >>> aug = PairedAugment(crop_size=32)
    >>> rgb = torch.randint(0, 255, (4, 2, 8, 48, 64, 3), dtype=torch.uint8)  # [B, V, T, H, W, 3]
    >>> flow = torch.zeros(4, 2, 8, 48, 64, 2)
    >>> x, f = aug(rgb, flow)
    >>> tuple(x.shape), tuple(f.shape)  # [V, B, C, T, S, S]
    ((2, 4, 3, 8, 32, 32), (2, 4, 2, 8, 32, 32))
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
        self, rgb: torch.Tensor, flow: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``rgb`` uint8 [B, V, T, H, W, 3], ``flow`` [B, V, T, H, W, 2] -> [V, B, C, T, S, S] each."""
        b, v, t, h, w, _ = rgb.shape
        n = b * v
        device = rgb.device
        x = rgb.reshape(n, t, h, w, 3).permute(0, 1, 4, 2, 3).float().div_(255.0)  # [N, T, 3, H, W]
        boxes, flips = self._sample_boxes(n, h, w, device)
        theta = _crop_theta(boxes, flips, h, w)
        x = _warp(x, theta, self.crop_size)
        x = self._color(x)
        mean = torch.tensor(MEAN, device=device).view(1, 1, 3, 1, 1)
        std = torch.tensor(STD, device=device).view(1, 1, 3, 1, 1)
        x = (x - mean) / std
        x = x.reshape(b, v, t, 3, self.crop_size, self.crop_size).permute(1, 0, 3, 2, 4, 5)

        if flow is None:
            return x.contiguous(), None
        f = flow.reshape(n, t, h, w, 2).permute(0, 1, 4, 2, 3).float()
        f = _warp(f, theta, self.crop_size)
        # Vectors are in pixels of the source frame: rescale to the output grid, then flip dx.
        sx = self.crop_size / boxes[:, 2] * torch.where(flips, -1.0, 1.0)
        sy = self.crop_size / boxes[:, 3]
        f = f * torch.stack([sx, sy], dim=1).view(n, 1, 2, 1, 1)
        f = f.reshape(b, v, t, 2, self.crop_size, self.crop_size).permute(1, 0, 3, 2, 4, 5)
        return x.contiguous(), f.contiguous()

    def _sample_boxes(self, n: int, h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes (x0, y0, bw, bh) in pixels; random-resized-crop when training, centre square otherwise."""
        if not self.train:
            side = float(min(h, w))
            box = torch.tensor([(w - side) / 2, (h - side) / 2, side, side], device=device)
            return box.expand(n, 4).clone(), torch.zeros(n, dtype=torch.bool, device=device)
        area = torch.empty(n, device=device).uniform_(*self.scale) * h * w
        log_ratio = torch.empty(n, device=device).uniform_(math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = log_ratio.exp()
        bw = (area * aspect).sqrt().clamp(max=w)
        bh = (area / aspect).sqrt().clamp(max=h)
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


def _crop_theta(boxes: torch.Tensor, flips: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Affine matrices mapping output grid coordinates to the input crop (align_corners=False)."""
    x0, y0, bw, bh = boxes.unbind(1)
    sign = torch.where(flips, -1.0, 1.0)
    theta = torch.zeros(boxes.shape[0], 2, 3, device=boxes.device)
    theta[:, 0, 0] = bw / w * sign
    theta[:, 0, 2] = (2 * x0 + bw) / w - 1
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2 * y0 + bh) / h - 1
    return theta


def _warp(x: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """Resample [N, T, C, H, W] with one affine per clip to [N, T, C, size, size]."""
    n, t, c, h, w = x.shape
    theta_t = theta.repeat_interleave(t, dim=0)
    grid = F.affine_grid(theta_t, [n * t, c, size, size], align_corners=False)
    out = F.grid_sample(x.reshape(n * t, c, h, w), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(n, t, c, size, size)


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
