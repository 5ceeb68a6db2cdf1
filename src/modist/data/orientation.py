"""Upright frames from a stream's display matrix (phone videos store rotation as metadata).

FFmpeg's display matrix maps a decoded pixel ``(p, q)`` (column, row) to its displayed
position ``(a*p + c*q, b*p + d*q)`` up to a translation, with ``(a, b, c, d)`` the first two
entries of the matrix's first two rows. For the eight axis-aligned orientations (every
rotation by a multiple of 90 degrees, optionally mirrored) that is a transpose and/or
row and column flips, which is all :class:`Orientation` represents; other angles are
rounded to the nearest multiple of 90 degrees.

Example:
    >>> import numpy as np
    >>> img = np.zeros((2, 3, 3), np.uint8); img[0, 0] = 255         # top-left marker
    >>> ccw90 = Orientation.from_matrix((0, -65536, 0, 65536, 0, 0, 0, 0, 1 << 30))
    >>> out = ccw90.apply(img)
    >>> out.shape[:2], bool(out[-1, 0, 0])                            # now bottom-left
    ((3, 2), True)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Orientation:
    """How to turn a decoded frame upright: transpose first, then flip rows / columns."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def is_identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    @classmethod
    def from_matrix(cls, matrix: tuple[int, ...] | list[int]) -> Orientation:
        """From FFmpeg's 3x3 int32 display matrix (16.16 fixed point, row-major)."""
        a, b, _, c, d = (float(x) for x in matrix[:5])
        if abs(a) + abs(b) + abs(c) + abs(d) == 0:
            return cls()
        # Snap to the nearest axis-aligned orientation: compare |a|+|d| against |b|+|c|.
        if abs(b) + abs(c) > abs(a) + abs(d):
            # Displayed (x', y') = (c*q, b*p): rows come from columns (a transpose).
            return cls(transpose=True, flip_rows=b < 0, flip_cols=c < 0)
        return cls(transpose=False, flip_rows=d < 0, flip_cols=a < 0)

    @classmethod
    def from_rotation(cls, degrees: float) -> Orientation:
        """From a counter-clockwise display rotation, as ``VideoFrame.rotation`` reports."""
        theta = math.radians(degrees)
        cos, sin = math.cos(theta), math.sin(theta)
        # The matrix PyAV's set_display_rotation(degrees) writes: a=cos, b=-sin, c=sin, d=cos.
        return cls.from_matrix([round(cos * 65536), round(-sin * 65536), 0, round(sin * 65536), round(cos * 65536)])

    @property
    def degrees(self) -> int:
        """Counter-clockwise rotation it undoes (ignoring a mirror), for reports."""
        if self.transpose:
            return 90 if self.flip_rows else -90
        return 180 if self.flip_rows and self.flip_cols else 0

    def display_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the upright frame for a decoded ``width x height`` frame."""
        return (height, width) if self.transpose else (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Upright copy of an ``[H, W, C]`` (or ``[T, H, W, C]``) array; no copy if identity."""
        if self.is_identity:
            return image
        rows, cols = image.ndim - 3, image.ndim - 2
        if self.transpose:
            axes = list(range(image.ndim))
            axes[rows], axes[cols] = axes[cols], axes[rows]
            image = image.transpose(axes)
        if self.flip_rows:
            image = np.flip(image, axis=rows)
        if self.flip_cols:
            image = np.flip(image, axis=cols)
        return np.ascontiguousarray(image)


def frame_orientation(frame) -> Orientation:
    """Orientation from a decoded PyAV frame's DISPLAYMATRIX side data (identity if none)."""
    # Iterate the container itself: PyAV 18's ``side_data.values()`` raises KeyError.
    for item in getattr(frame, "side_data", ()):
        if getattr(item.type, "name", "") == "DISPLAYMATRIX" and item.buffer_size >= 36:
            return Orientation.from_matrix(struct.unpack("=9i", bytes(item)[:36]))
    return Orientation()
