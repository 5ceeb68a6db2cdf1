"""Procedural images: background families (the scene cue) and actor textures.

Each background *family* has random colours, scales and phases, so a classifier can
only learn the family, never exact pixels. Background colours are muted and
low-contrast; actor colours are saturated with a strong internal contrast, the same
for every class, so the actor stands out without its appearance telling the class.

Example:
    >>> import numpy as np
    >>> bg = render_background(0, 40, 50, np.random.default_rng(0))
    >>> bg.shape, bg.dtype
    ((40, 50, 3), dtype('uint8'))
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_NAMES: tuple[str, ...] = (
    "horizontal_stripes",
    "vertical_stripes",
    "diagonal_stripes",
    "checkerboard",
    "dots",
    "blurred_noise",
    "grid",
    "rings",
    "gradient_noise",
    "bricks",
)

ACTOR_TEXTURES: tuple[str, ...] = ("stripes", "checker", "noise")


def render_background(family: int, height: int, width: int, rng: np.random.Generator, unit: float = 1.0) -> np.ndarray:
    """uint8 [height, width, 3] image of background ``family``; ``unit`` scales its lengths."""
    if not 0 <= family < len(BACKGROUND_NAMES):
        raise ValueError(f"background family must be in [0, {len(BACKGROUND_NAMES)}), got {family}")
    name = BACKGROUND_NAMES[family]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if name == "horizontal_stripes":
        pattern = _square_wave(y, rng.uniform(6, 14) * unit, rng)
    elif name == "vertical_stripes":
        pattern = _square_wave(x, rng.uniform(6, 14) * unit, rng)
    elif name == "diagonal_stripes":
        angle = np.deg2rad(rng.choice([45.0, 135.0]) + rng.uniform(-10, 10))
        pattern = _square_wave(x * np.cos(angle) + y * np.sin(angle), rng.uniform(6, 14) * unit, rng)
    elif name == "checkerboard":
        cell = rng.uniform(6, 12) * unit
        pattern = (_square_wave(x, 2 * cell, rng) != _square_wave(y, 2 * cell, rng)).astype(np.float32)
    elif name == "dots":
        pattern = _dots(x, y, rng, unit)
    elif name == "blurred_noise":
        pattern = _smooth_noise(height, width, rng.uniform(2.0, 4.0) * unit, rng)
    elif name == "grid":
        spacing, thickness = rng.uniform(8, 14) * unit, max(1.0, rng.uniform(1.0, 2.0) * unit)
        ox, oy = rng.uniform(0, spacing, size=2)
        pattern = (((x + ox) % spacing < thickness) | ((y + oy) % spacing < thickness)).astype(np.float32)
    elif name == "rings":
        cx, cy = rng.uniform(-0.5, 1.5) * width, rng.uniform(-0.5, 1.5) * height
        pattern = _square_wave(np.hypot(x - cx, y - cy), rng.uniform(6, 12) * unit, rng)
    elif name == "gradient_noise":
        angle = rng.uniform(0, 2 * np.pi)
        ramp = x * np.cos(angle) + y * np.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        pattern = np.clip(ramp + rng.normal(0.0, 0.12, size=ramp.shape), 0, 1)
    else:  # bricks
        pattern = _bricks(x, y, rng, unit)
    low, high = _muted_pair(rng)
    image = low + pattern[..., None].astype(np.float32) * (high - low)
    return np.clip(image, 0, 255).astype(np.uint8)


def render_actor_texture(height: int, width: int, rng: np.random.Generator, period: float) -> np.ndarray:
    """uint8 [height, width, 3] texture (stripes, checker or noise) of two contrasting colours.

    ``period`` is the pattern's length scale in texture pixels.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = ACTOR_TEXTURES[rng.integers(len(ACTOR_TEXTURES))]
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        pattern = _square_wave(x * np.cos(angle) + y * np.sin(angle), period, rng)
    elif kind == "checker":
        pattern = (_square_wave(x, period, rng) != _square_wave(y, period, rng)).astype(np.float32)
    else:
        pattern = (_smooth_noise(height, width, period / 4, rng) > 0.5).astype(np.float32)
    first, second = _vivid_pair(rng)
    return (first + pattern[..., None] * (second - first)).astype(np.uint8)


def vivid_color(rng: np.random.Generator) -> np.ndarray:
    """A saturated, fairly bright RGB colour (float32 [3])."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(170, 255), rng.uniform(190, 255)]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _vivid_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    first = vivid_color(rng)
    # The second colour is a dark shade of the first or a vivid colour of another hue,
    # so the texture (and thus rotation) stays visible on every actor.
    if rng.random() < 0.5:
        return first, first * rng.uniform(0.15, 0.4)
    second = vivid_color(rng)
    while np.abs(second - first).sum() < 150:
        second = vivid_color(rng)
    return first, second


def _muted_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    base = rng.uniform(50, 200, size=3).astype(np.float32)
    grey = base.mean()
    base = grey + 0.5 * (base - grey)  # desaturate
    delta = rng.uniform(30, 60) * rng.choice([-1.0, 1.0])
    return base, np.clip(base + delta + rng.uniform(-10, 10, size=3), 0, 255).astype(np.float32)


def _square_wave(coord: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    phase = rng.uniform(0, period)
    return (((coord + phase) % period) < period / 2).astype(np.float32)


def _smooth_noise(height: int, width: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal((height, width)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=max(sigma, 0.5), borderType=cv2.BORDER_REFLECT)
    noise -= noise.min()
    return noise / max(float(noise.max()), 1e-6)


def _dots(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, unit: float) -> np.ndarray:
    spacing = rng.uniform(8, 14) * unit
    radius = rng.uniform(1.5, 3.5) * unit
    ox, oy = rng.uniform(0, spacing, size=2)
    dx = (x + ox) % spacing - spacing / 2
    dy = (y + oy) % spacing - spacing / 2
    return (dx * dx + dy * dy <= radius * radius).astype(np.float32)


def _bricks(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, unit: float) -> np.ndarray:
    row_h = rng.uniform(6, 10) * unit
    brick_w = rng.uniform(12, 20) * unit
    mortar = max(1.0, unit)
    ox, oy = rng.uniform(0, brick_w), rng.uniform(0, row_h)
    row = np.floor((y + oy) / row_h)
    shifted = x + ox + (row % 2) * brick_w / 2
    joint = ((y + oy) % row_h < mortar) | (shifted % brick_w < mortar)
    return joint.astype(np.float32)
