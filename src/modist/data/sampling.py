"""Clip samplers: which frames of a video form a clip.

A clip is ``clip_frames`` frames taken every ``stride`` frames, so it spans
``(clip_frames - 1) * stride + 1`` source frames. Pretraining draws two clips of one
video whose start times are ``min_clip_gap_sec``..``max_clip_gap_sec`` apart (the released MoDist
default is 0.5-10 s), clamped when the video is too short.
"""

from __future__ import annotations

import numpy as np


def clip_span(clip_frames: int, stride: int) -> int:
    """Number of source frames covered by one clip."""
    return (clip_frames - 1) * stride + 1


def clip_indices(start: int, clip_frames: int, stride: int, num_frames: int) -> np.ndarray:
    """Frame indices of a clip starting at ``start``; indices past the end repeat the last frame."""
    idx = start + stride * np.arange(clip_frames)
    return np.minimum(idx, max(num_frames - 1, 0))


def sample_pair_starts(
    num_frames: int,
    fps: float,
    clip_frames: int,
    stride: int,
    min_clip_gap_sec: float,
    max_clip_gap_sec: float,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Start frames of two clips whose start times are min..max seconds apart.

    The gap is drawn uniformly in frames within what the video allows; a video shorter
    than the minimum gap gets the largest gap it has room for (possibly 0).
    """
    last_start = max(num_frames - clip_span(clip_frames, stride), 0)
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


def uniform_clip_starts(num_frames: int, clip_frames: int, stride: int, num_clips: int) -> list[int]:
    """Evenly spaced start frames for multi-clip evaluation."""
    last_start = max(num_frames - clip_span(clip_frames, stride), 0)
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
