"""Middlebury ``.flo`` optical-flow files.

Layout (little-endian): float32 magic ``202021.25``, int32 width, int32 height, then
``height * width * 2`` float32 values, row-major, interleaved (dx, dy) in pixels.
Values above 1e9 mark "unknown" flow in ground-truth files; they are returned as is.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.flo")
    >>> write_flo(path, np.ones((2, 3, 2), np.float32))
    >>> read_flo(path).shape
    (2, 3, 2)
"""

from __future__ import annotations

import os

import numpy as np

from modist.atomic import atomic_path
from modist.errors import FlowError

FLO_MAGIC = 202021.25
_MAX_SIDE = 1 << 16  # a sanity bound that keeps a corrupt header from allocating GBs


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.flo`` file as float32 ``[H, W, 2]``; raise FlowError naming the file if malformed."""
    path = str(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise FlowError(f"{path}: cannot read .flo file ({exc.strerror or exc})") from None
    if data.size < 12:
        raise FlowError(f"{path}: truncated .flo file ({data.size} bytes, header needs 12)")
    magic = data[:4].view("<f4")[0]
    if magic != np.float32(FLO_MAGIC):
        raise FlowError(f"{path}: not a .flo file (magic {magic!r}, expected {FLO_MAGIC})")
    width, height = (int(v) for v in data[4:12].view("<i4"))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise FlowError(f"{path}: invalid .flo size {width}x{height}")
    expected = 12 + width * height * 2 * 4
    if data.size < expected:
        raise FlowError(f"{path}: truncated .flo file ({data.size} bytes, expected {expected})")
    flow = data[12:expected].view("<f4").reshape(height, width, 2)
    return flow.astype(np.float32)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write float ``[H, W, 2]`` flow as a ``.flo`` file; the file appears only when complete."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] == 0 or flow.shape[1] == 0:
        raise FlowError(f"{path}: expected flow of shape [H, W, 2], got {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(np.ascontiguousarray(flow, dtype="<f4").tobytes())
