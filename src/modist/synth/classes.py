"""Motion classes: each class is a family of actor trajectories, nothing else.

Parameters (speed, amplitude, period, phase, direction jitter) are drawn per video from
ranges shared by all classes, so only the *kind* of motion identifies the class.
Angles are in degrees in image coordinates (x right, y down): a positive angle turns
the actor clockwise as seen on screen.

Example:
    >>> import numpy as np
    >>> m = sample_motion(CLASS_NAMES.index("translate_right"), np.random.default_rng(0), 16)
    >>> bool(m.offset[-1, 0] > m.offset[0, 0])
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "translate_right",
    "translate_left",
    "translate_up",
    "translate_down",
    "rotate_cw",
    "rotate_ccw",
    "zoom_in",
    "zoom_out",
    "oscillate",
    "circle",
)

# Ranges for a 64 px frame; lengths scale with frame size (``unit``), times do not.
TRANSLATE_SPEED = (1.0, 2.0)  # px / frame
TRANSLATE_JITTER_DEG = 10.0  # direction jitter around the class's axis
ROTATE_SPEED_DEG = (6.0, 12.0)  # deg / frame
ZOOM_RATE = (0.03, 0.05)  # relative size change / frame
ZOOM_SCALE_RANGE = (0.5, 1.7)  # actor scale stays inside this range for the whole video
OSCILLATE_AMPLITUDE = (8.0, 14.0)  # px
OSCILLATE_PERIOD = (8.0, 16.0)  # frames
CIRCLE_RADIUS = (10.0, 16.0)  # px
CIRCLE_PERIOD = (16.0, 32.0)  # frames

_TRANSLATE_AXIS_DEG = {"translate_right": 0.0, "translate_left": 180.0, "translate_up": -90.0, "translate_down": 90.0}


@dataclass(frozen=True)
class Motion:
    """Per-frame actor pose relative to its start position.

    ``offset`` float [T, 2] (x, y) displacement in px, ``angle`` float [T] degrees
    (clockwise on screen), ``scale`` float [T] multiplier of the actor's base size.
    """

    offset: np.ndarray
    angle: np.ndarray
    scale: np.ndarray

    @property
    def moves(self) -> bool:
        return bool(np.any(self.offset != 0))

    def shrunk(self, factor: float) -> Motion:
        """Smaller motion that still has the same kind: displacements shrink for
        moving classes; for in-place classes (rotate, zoom) the actor shrinks instead."""
        if self.moves:
            return Motion(self.offset * factor, self.angle, self.scale)
        return Motion(self.offset, self.angle, self.scale * factor)


def sample_motion(label: int, rng: np.random.Generator, num_frames: int, unit: float = 1.0) -> Motion:
    """Draw one trajectory of class ``label`` over ``num_frames`` frames.

    ``unit`` is frame size / 64; it scales the lengths. The start orientation is random
    and, except for the rotation classes, constant.
    """
    if not 0 <= label < len(CLASS_NAMES):
        raise ValueError(f"label must be in [0, {len(CLASS_NAMES)}), got {label}")
    name = CLASS_NAMES[label]
    t = np.arange(num_frames, dtype=np.float64)
    zeros = np.zeros((num_frames, 2))
    ones = np.ones(num_frames)
    angle0 = rng.uniform(0.0, 360.0)
    still = np.full(num_frames, angle0)

    if name in _TRANSLATE_AXIS_DEG:
        direction = np.deg2rad(_TRANSLATE_AXIS_DEG[name] + rng.uniform(-TRANSLATE_JITTER_DEG, TRANSLATE_JITTER_DEG))
        speed = rng.uniform(*TRANSLATE_SPEED) * unit
        offset = np.outer(t, [np.cos(direction), np.sin(direction)]) * speed
        return Motion(offset, still, ones)
    if name in ("rotate_cw", "rotate_ccw"):
        sign = 1.0 if name == "rotate_cw" else -1.0
        return Motion(zeros, angle0 + sign * rng.uniform(*ROTATE_SPEED_DEG) * t, ones)
    if name in ("zoom_in", "zoom_out"):
        low, high = ZOOM_SCALE_RANGE
        # Cap the rate so the size changes throughout the video instead of saturating.
        max_rate = (high / low) ** (1.0 / max(num_frames - 1, 1)) - 1.0
        rate = min(rng.uniform(*ZOOM_RATE), max_rate)
        growth = (1.0 + rate) ** t
        span = growth[-1]
        if name == "zoom_in":
            scale = rng.uniform(low, max(low, high / span)) * growth
        else:
            scale = rng.uniform(min(low * span, high), high) / growth
        return Motion(zeros, still, scale)
    if name == "oscillate":
        amplitude = rng.uniform(*OSCILLATE_AMPLITUDE) * unit
        period = rng.uniform(*OSCILLATE_PERIOD)
        phase = rng.uniform(0.0, 2 * np.pi)
        x = amplitude * np.sin(2 * np.pi * t / period + phase)
        return Motion(np.stack([x - x[0], np.zeros_like(x)], axis=1), still, ones)
    if name == "circle":
        radius = rng.uniform(*CIRCLE_RADIUS) * unit
        period = rng.uniform(*CIRCLE_PERIOD)
        phase = rng.uniform(0.0, 2 * np.pi)
        turn = rng.choice([-1.0, 1.0])
        theta = phase + turn * 2 * np.pi * t / period
        path = radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        return Motion(path - path[0], still, ones)
    raise AssertionError(name)  # every name above is handled
