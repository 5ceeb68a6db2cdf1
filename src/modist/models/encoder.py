"""A trained encoder as one network that knows its inputs: :class:`Encoder`.

:func:`modist.load_encoder` returns one, in eval mode. ``enc.preprocess(frames)`` turns
uint8 RGB frames ``[T, H, W, 3]`` of any size into the ``[1, C, T, S, S]`` float clip the
encoder was trained on, the way modist's evaluation makes its single centre view:

1. time: ``T == clip_frames`` frames are taken as the clip (already sampled). Any other
   ``T`` gives ``clip_frames`` frames ``stride`` apart, centred in the given frames; when
   they span fewer than ``(clip_frames - 1) * stride + 1`` frames, the clip starts at the
   first frame and the indices past the end repeat the last frame (as evaluation clips of a
   short video do);
2. space: with a decode short side (``short_side`` > 0, the run's ``data.short_side``) the
   frames are first resized (area interpolation) so their short side is that; then the
   centre square of side ``min(H, W)`` is resampled (bilinear) to ``crop_size``;
3. values: ``(pixel / 255 - mean) / std`` per channel.

``clip_frames``, ``stride``, ``crop_size``, ``short_side``, ``mean`` and ``std`` come from
``encoder.json``. One written before ``mean``, ``std`` and ``short_side`` were recorded falls back
to what modist always trained with: mean 0.45, std 0.225 (the Kinetics statistics of PySlowFast,
``_C.DATA.MEAN`` / ``_C.DATA.STD`` in ``slowfast/config/defaults.py`` of
amazon-science/self-supervised-maclr) and the short side of the run's ``config.yaml`` beside the
weights, else none. ``enc(clip)`` gives the pooled features ``[B, D]``.

Example:
    >>> import numpy as np
    >>> from modist.models.encoder_io import EncoderSpec
    >>> spec = EncoderSpec("r3d_tiny", in_channels=3, base_width=4)
    >>> enc = Encoder(spec.build(), spec, clip_frames=4, stride=2, crop_size=32).eval()
    >>> enc.frame_indices(40).tolist(), enc.frame_indices(5).tolist()  # centred; padded with the last frame
    ([16, 18, 20, 22], [0, 2, 4, 4])
    >>> x = enc.preprocess(np.zeros((40, 37, 53, 3), np.uint8))
    >>> tuple(x.shape), round(x[0, 0, 0, 0, 0].item(), 4)  # (0 - 0.45) / 0.225
    ((1, 3, 4, 32, 32), -2.0)
    >>> tuple(enc(x).shape)
    (1, 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from modist.config import MotionConfig
from modist.data.augment import MEAN, STD, PairedAugment
from modist.data.sampling import clip_indices, uniform_clip_starts
from modist.models.encoder_io import EncoderSpec
from modist.models.run_files import TrainedOn

Frames = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]
_EXPECTED = "uint8 RGB frames [T, H, W, 3] (an array, a tensor or a list of H x W x 3 frames)"


def normalization(trained_on: TrainedOn) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` per RGB channel as ``encoder.json`` records them; modist's own where it does not.

    Each may be one number or three. Raises ValueError for anything else or a std that is not positive.

    >>> normalization(TrainedOn()), normalization(TrainedOn(mean=0.5, std=(0.2, 0.25, 0.5)))
    (((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)), ((0.5, 0.5, 0.5), (0.2, 0.25, 0.5)))
    """
    mean = _per_channel(MEAN if trained_on.mean is None else trained_on.mean, "mean")
    std = _per_channel(STD if trained_on.std is None else trained_on.std, "std")
    if min(std) <= 0:
        raise ValueError(f"std must be positive, got {list(std)}")
    return mean, std


def _per_channel(value: Any, key: str) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value),) * 3
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return tuple(float(v) for v in value)
    shown = list(value) if isinstance(value, tuple) else value  # as encoder.json writes it
    raise ValueError(f"{key} must be one number or 3 numbers (R, G, B), got {shown!r}")


def renormalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A ``[B, 3, T, H, W]`` clip normalised with modist's MEAN / STD, normalised with ``mean`` / ``std`` instead."""
    if tuple(mean) == MEAN and tuple(std) == STD:
        return clip

    def channels(values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=clip.dtype, device=clip.device).view(1, 3, 1, 1, 1)

    return (clip * channels(STD) + channels(MEAN) - channels(mean)) / channels(std)


class Renormalized(nn.Module):
    """``backbone`` fed by modist's data pipeline (MEAN / STD) when its own statistics are other ones."""

    def __init__(self, backbone: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.backbone = backbone
        self.mean, self.std = tuple(mean), tuple(std)
        # Start in the backbone's mode: whoever restores this wrapper's mode afterwards restores the backbone's.
        self.training = backbone.training

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.backbone(renormalize(clip, self.mean, self.std))


class Encoder(nn.Module):
    """A backbone plus the clip settings it was trained with; see the module docstring."""

    def __init__(self, backbone: nn.Module, spec: EncoderSpec, *, clip_frames: int, stride: int, crop_size: int,
                 short_side: int = 0, mean: Sequence[float] = MEAN, std: Sequence[float] = STD,
                 trained_on: TrainedOn | None = None, motion: MotionConfig | None = None):
        super().__init__()
        self.backbone = backbone
        self.spec = spec
        self.clip_frames, self.stride, self.crop_size, self.short_side = clip_frames, stride, crop_size, short_side
        self.mean, self.std = tuple(mean), tuple(std)
        self.trained_on = trained_on or TrainedOn()
        # How a motion-modality encoder's flow input is made from video (estimator, encoding).
        self.motion = motion or MotionConfig()

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, D]`` of a float clip ``[B, C, T, H, W]`` (from :meth:`preprocess`)."""
        c = self.spec.in_channels
        if not isinstance(clip, torch.Tensor) or clip.ndim != 5 or clip.shape[1] != c or not clip.is_floating_point():
            got = f"{clip.dtype} {list(clip.shape)}" if isinstance(clip, torch.Tensor) else type(clip).__name__
            raise ValueError(f"the encoder takes a float clip [B, {c}, T, H, W] (preprocess makes one), got {got}")
        return self.backbone(clip)

    def frame_indices(self, num_frames: int) -> np.ndarray:
        """Which of ``num_frames`` given frames form the clip (see the module docstring)."""
        if num_frames == self.clip_frames:
            return np.arange(num_frames)
        start = uniform_clip_starts(num_frames, self.clip_frames, self.stride, 1)[0]
        return clip_indices(start, self.clip_frames, self.stride, num_frames)

    @torch.no_grad()
    def preprocess(self, frames: Frames) -> torch.Tensor:
        """uint8 RGB frames ``[T, H, W, 3]`` -> float ``[1, 3, clip_frames, crop, crop]`` on the encoder's device."""
        if self.spec.modality != "rgb":
            raise ValueError(f"this encoder takes {self.spec.modality} input ({self.spec.in_channels}-channel encoded "
                             "optical flow), not RGB frames; modist.embed computes it from video files")
        video = _as_frames(frames)
        video = video[torch.from_numpy(self.frame_indices(video.shape[0]))]
        if self.short_side and min(video.shape[1:3]) != self.short_side:
            video = _resize_short_side(video, self.short_side)
        clip, _ = PairedAugment(self.crop_size, train=False)(video.to(self.device)[None, None])  # [1, 1, 3, T, S, S]
        return renormalize(clip[0], self.mean, self.std)

    def pipeline_network(self) -> nn.Module:
        """The network for clips normalised as modist's data pipeline does (MEAN / STD), e.g. for embedding videos."""
        if self.mean == MEAN and self.std == STD:
            return self.backbone
        return Renormalized(self.backbone, self.mean, self.std)

    def extra_repr(self) -> str:
        return (f"arch={self.spec.arch}, modality={self.spec.modality}, clip={self.clip_frames}x{self.stride}, "
                f"crop_size={self.crop_size}, short_side={self.short_side}, mean={self.mean}, std={self.std}")


def _as_frames(frames: Frames) -> torch.Tensor:
    """Checked uint8 ``[T, H, W, 3]`` tensor (on the CPU when given as numpy or a list)."""
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError(f"expected {_EXPECTED}, got an empty list")
        shapes = {tuple(f.shape) for f in frames if isinstance(f, (np.ndarray, torch.Tensor))}
        if len(shapes) != 1 or not all(isinstance(f, (np.ndarray, torch.Tensor)) for f in frames):
            raise ValueError(f"expected {_EXPECTED}; the list's frames are not arrays of one size ({sorted(shapes)})")
        frames = torch.stack([torch.as_tensor(f) for f in frames])
    if isinstance(frames, np.ndarray):
        if frames.dtype != np.uint8:
            raise ValueError(f"expected {_EXPECTED}, got {frames.dtype} {list(frames.shape)}")
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    if not isinstance(frames, torch.Tensor):
        raise ValueError(f"expected {_EXPECTED}, got {type(frames).__name__}")
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ValueError(f"expected {_EXPECTED}, got {str(frames.dtype).removeprefix('torch.')} {list(frames.shape)}")
    return frames


def _resize_short_side(video: torch.Tensor, short_side: int) -> torch.Tensor:
    """Frames resized so their short side is ``short_side``, with the area filter the video decoders use."""
    import cv2

    height, width = video.shape[1:3]
    scale = short_side / min(height, width)
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    return torch.from_numpy(np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in video.cpu().numpy()]))
