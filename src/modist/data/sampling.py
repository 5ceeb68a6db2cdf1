"""Clip samplers: which frames of a video form a clip, and which frame each frame's flow goes to.

A clip is ``clip_frames`` frames taken every ``stride`` frames, so it spans
``(clip_frames - 1) * stride + 1`` source frames. Pretraining draws two clips of one
video whose start times are ``min_clip_gap_sec``..``max_clip_gap_sec`` apart (the released MoDist
default is 0.5-10 s), clamped when the video is too short.

The motion pathway's clip (``motion.clip_frames`` x ``motion.stride``; by default the RGB
clip's own) starts at the RGB clip's start frame: :func:`motion_clip` gives its shape and
:func:`joint_span` the frames both cover. The flow of each of its frames goes to the frame
:func:`flow_partners` names (``flow_gap`` frames on, or back, clamped to the video). Every
place that pairs frames for flow (the loaders, the device flow, the flow store) uses it.

Example:
    >>> clip_indices(4, 8, 8, 100).tolist()  # an 8 x 8 RGB clip from frame 4
    [4, 12, 20, 28, 36, 44, 52, 60]
    >>> motion = clip_indices(4, *motion_clip(8, 8, 16, 4), 100)  # its 16 x 4 motion clip
    >>> motion.tolist()
    [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64]
    >>> flow_partners(motion[:3], 5, "backward", 100).tolist()  # the authors' flow: t -> t - 5
    [0, 3, 7]
"""

from __future__ import annotations

import numpy as np

from modist.choices import FLOW_DIRECTIONS


def clip_span(clip_frames: int, stride: int) -> int:
    """Number of source frames covered by one clip."""
    return (clip_frames - 1) * stride + 1


def clip_indices(start: int, clip_frames: int, stride: int, num_frames: int) -> np.ndarray:
    """Frame indices of a clip starting at ``start``; indices past the end repeat the last frame."""
    idx = start + stride * np.arange(clip_frames)
    return np.minimum(idx, max(num_frames - 1, 0))


def motion_clip(clip_frames: int, stride: int, motion_frames: int = 0, motion_stride: int = 0) -> tuple[int, int]:
    """``(frames, stride)`` of the motion clip of a ``clip_frames`` x ``stride`` RGB clip; 0 takes the RGB clip's."""
    return motion_frames or clip_frames, motion_stride or stride


def joint_span(clip_frames: int, stride: int, motion_frames: int = 0, motion_stride: int = 0) -> int:
    """Source frames from a start frame that the RGB clip and its motion clip cover together.

    Both start at the same frame, so this is the longer of the two spans; samplers keep it
    inside the video (the flow partners of the last motion frames may still be clamped).

    Example:
        >>> clip_span(8, 8), clip_span(16, 4), joint_span(8, 8, 16, 4)
        (57, 61, 61)
    """
    return max(clip_span(clip_frames, stride), clip_span(*motion_clip(clip_frames, stride, motion_frames,
                                                                         motion_stride)))


def flow_partners(frames: np.ndarray, flow_gap: int, direction: str, num_frames: int) -> np.ndarray:
    """The frame each of ``frames`` has its flow to: ``flow_gap`` frames later or earlier.

    ``forward``: ``t + flow_gap``, clamped to the last frame (``num_frames - 1``);
    ``backward``: ``t - flow_gap``, clamped to the first frame, as the authors' RAFT script
    (fanyix/RAFT ``misc.py``) pairs frame ``t`` with ``t - 5`` and frames ``1..4`` with
    frame 0. Frame 0's backward partner is itself, so its flow is (near) zero; the authors
    store a zero image for it. Indices count from the first frame of the video, or of the
    segment a record names.

    Example:
        >>> flow_partners(np.array([0, 2, 7, 9]), 5, "forward", 10).tolist()
        [5, 7, 9, 9]
        >>> flow_partners(np.array([0, 2, 7, 9]), 5, "backward", 10).tolist()
        [0, 0, 2, 4]
    """
    frames = np.asarray(frames)
    if direction == "forward":
        return np.minimum(frames + flow_gap, max(num_frames - 1, 0))
    if direction == "backward":
        return np.maximum(frames - flow_gap, 0)
    raise ValueError(f"unknown flow direction {direction!r}; choose from {', '.join(FLOW_DIRECTIONS)}")


def sample_pair_starts(
    num_frames: int,
    fps: float,
    clip_frames: int,
    stride: int,
    min_clip_gap_sec: float,
    max_clip_gap_sec: float,
    rng: np.random.Generator,
    *,
    span: int | None = None,
) -> tuple[int, int]:
    """Start frames of two clips whose start times are min..max seconds apart.

    The gap is drawn uniformly in frames within what the video allows; a video shorter
    than the minimum gap gets the largest gap it has room for (possibly 0). ``span``
    (default ``clip_span(clip_frames, stride)``) is what must fit from each start, e.g.
    :func:`joint_span` when the motion clip reaches further than the RGB clip.
    """
    last_start = max(num_frames - (span or clip_span(clip_frames, stride)), 0)
    fps = fps if fps > 0 else 30.0
    lo = int(round(min_clip_gap_sec * fps))
    hi = int(round(max_clip_gap_sec * fps))
    hi = min(hi, last_start)
    lo = min(lo, hi)
    gap = int(rng.integers(lo, hi + 1))
    first = int(rng.integers(0, last_start - gap + 1))
    if rng.random() < 0.5:
        return first, first + gap
    return first + gap, first


def uniform_clip_starts(num_frames: int, clip_frames: int, stride: int, num_clips: int, *,
                        span: int | None = None) -> list[int]:
    """Evenly spaced start frames for multi-clip evaluation (``span`` as in :func:`sample_pair_starts`)."""
    last_start = max(num_frames - (span or clip_span(clip_frames, stride)), 0)
    if num_clips <= 1:
        return [last_start // 2]
    return [int(round(x)) for x in np.linspace(0, last_start, num_clips)]

