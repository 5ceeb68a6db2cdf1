"""One entry point for every flow estimator: :func:`estimate` (one pair) and :func:`estimate_batch`.

Frames are uint8 RGB ``[H, W, 3]``; flow is float32 ``[H, W, 2]`` = (dx, dy) in pixels
from ``frame0`` to ``frame1``, i.e. ``frame1[y + dy, x + dx] ~ frame0[y, x]``.

=============  ==================================================================
estimator         what / options
=============  ==================================================================
``dis``        OpenCV DIS; ``preset`` in ultrafast / fast / medium (default)
``farneback``  OpenCV Farneback; see ``opencv.FARNEBACK_DEFAULTS``
``tvl1``       OpenCV-contrib Dual TV-L1; see ``opencv.TVL1_DEFAULTS``
``torch_tvl1`` batched PyTorch TV-L1 (CPU or GPU, no weights); see ``torch_tvl1``
``raft``       torchvision RAFT with a local weights file (``weights=PATH``)
=============  ==================================================================

The names and where each estimator lives are :data:`modist.choices.FLOW_ESTIMATORS`, the
table the config loader validates ``motion.estimator`` against.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    >>> estimate(a, a, estimator="dis").shape
    (64, 64, 2)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from modist.choices import FLOW_ESTIMATORS
from modist.errors import FlowError

__all__ = ["FLOW_ESTIMATORS", "estimate", "estimate_batch"]


def _lookup(estimator: str) -> tuple[Callable[..., np.ndarray], Callable[..., np.ndarray] | None]:
    try:
        module_name, single, batched = FLOW_ESTIMATORS[estimator]
    except KeyError:
        raise FlowError(f"unknown flow estimator {estimator!r}; choose from {', '.join(FLOW_ESTIMATORS)}") from None
    module = importlib.import_module(module_name)
    return getattr(module, single), (getattr(module, batched) if batched else None)


def _check_frames(frame0: np.ndarray, frame1: np.ndarray, ndim: int) -> None:
    what = "[H, W, 3]" if ndim == 3 else "[N, H, W, 3]"
    names = ("frame0", "frame1") if ndim == 3 else ("frames0", "frames1")
    for name, arr in zip(names, (frame0, frame1)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != ndim or arr.shape[-1] != 3:
            desc = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            raise FlowError(f"{name}: expected uint8 RGB {what}, got {desc}")
        if min(arr.shape[ndim - 3 : ndim - 1]) < 1:
            raise FlowError(f"{name}: empty image of shape {arr.shape}")
    if frame0.shape != frame1.shape:
        raise FlowError(f"frame shapes differ: {frame0.shape} vs {frame1.shape}")


def estimate(frame0: np.ndarray, frame1: np.ndarray, estimator: str = "dis", **options: Any) -> np.ndarray:
    """Flow ``frame0 -> frame1`` as float32 ``[H, W, 2]``; raises FlowError on bad input."""
    single, _ = _lookup(estimator)
    _check_frames(frame0, frame1, 3)
    return single(frame0, frame1, **options)


def estimate_batch(
    frames0: np.ndarray, frames1: np.ndarray, estimator: str = "dis", **options: Any
) -> np.ndarray:
    """Flow for ``N`` pairs: uint8 ``[N, H, W, 3]`` x2 -> float32 ``[N, H, W, 2]``.

    Batched estimators (torch_tvl1, raft) process all pairs at once; OpenCV estimators loop.
    """
    single, batched = _lookup(estimator)
    _check_frames(frames0, frames1, 4)
    if batched is not None:
        return batched(frames0, frames1, **options)
    n, h, w = frames0.shape[:3]
    out = np.empty((n, h, w, 2), np.float32)
    for i in range(n):
        out[i] = single(frames0[i], frames1[i], **options)
    return out
