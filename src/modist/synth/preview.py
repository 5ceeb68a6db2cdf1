"""A picture of the benchmark: a few decoded frames of one video per class.

Example:
    >>> import tempfile, os
    >>> from modist.synth import SynthConfig, generate
    >>> d = tempfile.mkdtemp()
    >>> cfg = SynthConfig(size=48, num_frames=8, train_per_class=1, test_per_class=0)
    >>> png = save_class_grid(generate(d, cfg, progress=False), os.path.join(d, "grid.png"), frames_per_class=3)
    >>> png.exists()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from modist.atomic import atomic_path
from modist.data.adapters.synth import ManifestRow, read_manifest
from modist.data.video import read_video
from modist.errors import DataError

_LABEL_WIDTH = 100  # px of row titles at zoom 1
_GAP = 2


def save_class_grid(
    manifest: str | os.PathLike | list[ManifestRow],
    out_png: str | os.PathLike,
    frames_per_class: int = 6,
    split: str = "train",
    zoom: int = 1,
) -> Path:
    """Write a PNG grid: one row per class (first video of ``split``), evenly spaced frames."""
    rows = read_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    first: dict[int, ManifestRow] = {}
    for row in rows:
        if row.split == split:
            first.setdefault(row.label, row)
    if not first:
        raise DataError(f"{manifest}: no videos in split {split!r}")
    tiles = []
    for label in sorted(first):
        row = first[label]
        frames = read_video(row.path).frames
        picks = np.linspace(0, len(frames) - 1, frames_per_class).round().astype(int)
        strip = [_pad(frames[i]) for i in picks]
        tiles.append(np.hstack([_title(row.label_name, frames.shape[1] + 2 * _GAP), *strip]))
    grid = np.vstack(tiles)
    if zoom > 1:
        grid = cv2.resize(grid, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise DataError(f"{out_png}: cannot write PNG")
    return out_png


def _pad(frame: np.ndarray) -> np.ndarray:
    return cv2.copyMakeBorder(frame, _GAP, _GAP, _GAP, _GAP, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def _title(text: str, height: int) -> np.ndarray:
    tile = np.full((height, _LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(tile, text, (4, height // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return tile
