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


# Time-based variants: real videos differ in frame rate (and some have none that is
# constant), so samplers for real data work in seconds and read frames by time.


def clip_seconds(clip_frames: int, stride: int, fps: float) -> float:
    """Seconds of video one clip covers (its span of source frames at ``fps``)."""
    return clip_span(clip_frames, stride) / (fps if fps > 0 else 30.0)


def clip_times(start_sec: float, clip_frames: int, stride: int, fps: float) -> np.ndarray:
    """Presentation times of a clip's frames: ``start + k * stride / fps``."""
    return start_sec + np.arange(clip_frames) * stride / (fps if fps > 0 else 30.0)


def segment_bounds(
    duration: float, start_sec: float | None = None, end_sec: float | None = None
) -> tuple[float, float]:
    """The part of a video a record covers, clamped to ``[0, duration]``.

    Kinetics records of untrimmed downloads set ``start_sec``/``end_sec``; others cover all.
    """
    lo = min(max(start_sec or 0.0, 0.0), duration)
    hi = duration if end_sec is None else min(max(end_sec, lo), duration)
    return lo, hi


def sample_pair_start_times(
    duration: float,
    clip_sec: float,
    min_clip_gap_sec: float,
    max_clip_gap_sec: float,
    rng: np.random.Generator,
    offset_sec: float = 0.0,
) -> tuple[float, float]:
    """Start times of two clips ``min..max`` seconds apart within ``duration`` seconds.

    Like :func:`sample_pair_starts` in seconds: the gap is uniform within what the video
    allows, and a video too short for ``min_clip_gap_sec`` gets the largest gap it has room
    for. ``offset_sec`` shifts both (the start of a record's segment).

    Example:
        >>> a, b = sample_pair_start_times(10.0, 1.0, 0.5, 10.0, np.random.default_rng(0))
        >>> 0.5 <= abs(a - b) <= 9.0 and max(a, b) <= 9.0
        True
    """
    last_start = max(duration - clip_sec, 0.0)
    hi = min(max_clip_gap_sec, last_start)
    lo = min(min_clip_gap_sec, hi)
    gap = float(rng.uniform(lo, hi)) if hi > lo else hi
    first = float(rng.uniform(0.0, last_start - gap)) if last_start > gap else 0.0
    if rng.random() < 0.5:
        return offset_sec + first, offset_sec + first + gap
    return offset_sec + first + gap, offset_sec + first


def uniform_clip_start_times(duration: float, clip_sec: float, num_clips: int, offset_sec: float = 0.0) -> list[float]:
    """Evenly spaced start times for multi-clip evaluation (one clip: the middle)."""
    last_start = max(duration - clip_sec, 0.0)
    if num_clips <= 1:
        return [offset_sec + last_start / 2]
    return [offset_sec + float(x) for x in np.linspace(0.0, last_start, num_clips)]
