"""Actor outlines: polygons in a unit box, stretched so none is rotationally round.

Every outline is stretched to an aspect ratio below one so that its second moments
are anisotropic: its principal axis, and hence any rotation, is visible even without
texture.

Example:
    >>> import numpy as np
    >>> v = actor_outline(np.random.default_rng(0), size=20.0)
    >>> v.ndim, v.shape[1]
    (2, 2)
"""

from __future__ import annotations

import numpy as np

SHAPE_NAMES: tuple[str, ...] = ("rectangle", "triangle", "ellipse", "cross", "l_shape", "star")
ASPECT_RANGE = (0.5, 0.75)  # height / width of the stretched outline


def unit_polygon(name: str) -> np.ndarray:
    """Vertices float [N, 2] (x, y) of ``name`` inside [-0.5, 0.5]^2, centred on the box."""
    if name == "rectangle":
        return np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    if name == "triangle":
        return np.array([[0.0, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    if name == "ellipse":
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        return 0.5 * np.stack([np.cos(a), np.sin(a)], axis=1)
    if name == "cross":
        w = 0.17
        return np.array(
            [[-w, -0.5], [w, -0.5], [w, -w], [0.5, -w], [0.5, w], [w, w],
             [w, 0.5], [-w, 0.5], [-w, w], [-0.5, w], [-0.5, -w], [-w, -w]]
        )
    if name == "l_shape":
        w = 0.35
        return np.array([[-0.5, -0.5], [-0.5 + w, -0.5], [-0.5 + w, 0.5 - w], [0.5, 0.5 - w], [0.5, 0.5], [-0.5, 0.5]])
    if name == "star":
        a = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 0.5, 0.2)
        return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    raise ValueError(f"unknown shape {name!r}; expected one of {', '.join(SHAPE_NAMES)}")


def actor_outline(rng: np.random.Generator, size: float) -> np.ndarray:
    """A random shape, ``size`` px wide and ``aspect * size`` tall, centred on its centroid."""
    vertices = unit_polygon(SHAPE_NAMES[rng.integers(len(SHAPE_NAMES))]).copy()
    vertices[:, 0] *= size
    vertices[:, 1] *= size * rng.uniform(*ASPECT_RANGE)
    return vertices - polygon_centroid(vertices)


def polygon_centroid(vertices: np.ndarray) -> np.ndarray:
    """Area centroid of a simple polygon (shoelace formula)."""
    x, y = vertices[:, 0], vertices[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6 * area)
