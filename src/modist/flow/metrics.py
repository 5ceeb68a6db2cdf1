"""Flow accuracy metrics.

Example:
    >>> import numpy as np
    >>> gt = np.zeros((2, 2, 2), np.float32)
    >>> pred = np.zeros_like(gt); pred[..., 0] = 3; pred[..., 1] = 4
    >>> endpoint_error(pred, gt)
    5.0
"""

from __future__ import annotations

import numpy as np

from modist.errors import FlowError

UNKNOWN_FLOW_THRESHOLD = 1e9  # Middlebury convention: |component| > 1e9 means "unknown"


def known_flow_mask(gt: np.ndarray) -> np.ndarray:
    """Boolean ``[H, W]``: ground truth is finite and not a Middlebury "unknown" value."""
    gt = np.asarray(gt)
    finite = np.isfinite(gt).all(axis=-1)
    with np.errstate(invalid="ignore"):
        small = (np.abs(gt) <= UNKNOWN_FLOW_THRESHOLD).all(axis=-1)
    return finite & small


def endpoint_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Average end-point error ``mean(||pred - gt||_2)`` over pixels with known ground truth.

    ``valid`` (bool ``[H, W]``, optional) further restricts the pixels, e.g. to exclude
    Sintel's invalid regions. Returns NaN if no pixel is left.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim < 1 or pred.shape[-1] != 2:
        raise FlowError(f"endpoint_error: shapes differ or are not [..., 2]: {pred.shape} vs {gt.shape}")
    mask = known_flow_mask(gt)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != mask.shape:
            raise FlowError(f"endpoint_error: valid mask shape {valid.shape} != flow shape {mask.shape}")
        mask &= valid
    if not mask.any():
        return float("nan")
    diff = pred[mask] - gt[mask].astype(np.float64)
    return float(np.sqrt((diff**2).sum(axis=-1)).mean())
