"""Optical flow estimation, motion encodings, visualisation and ``.flo`` I/O.

Example:
    >>> import numpy as np
    >>> from modist.flow import estimate, flow_to_color
    >>> a = np.zeros((32, 32, 3), np.uint8)
    >>> flow_to_color(estimate(a, a, estimator="dis")).shape
    (32, 32, 3)
"""

from modist.flow.color import flow_to_color
from modist.flow.encodings import (
    MOTION_ENCODINGS,
    dequantize_flow,
    encode_motion,
    flow_edges_uint8,
    motion_channels,
    quantize_flow,
)
from modist.flow.estimate import FLOW_ESTIMATORS, estimate, estimate_batch
from modist.flow.flo import read_flo, write_flo
from modist.flow.metrics import endpoint_error
from modist.flow.store import load_stored_flow, open_stored_flow

__all__ = [
    "FLOW_ESTIMATORS",
    "MOTION_ENCODINGS",
    "dequantize_flow",
    "encode_motion",
    "endpoint_error",
    "estimate",
    "estimate_batch",
    "flow_edges_uint8",
    "flow_to_color",
    "load_stored_flow",
    "open_stored_flow",
    "motion_channels",
    "quantize_flow",
    "read_flo",
    "write_flo",
]
