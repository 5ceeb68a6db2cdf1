"""OpenCV flow estimators: DIS, Farneback and Dual TV-L1 (opencv-contrib ``cv2.optflow``).

Creating an OpenCV flow object allocates buffers and, for TV-L1, is slow, so objects are
cached per thread (OpenCV algorithm objects are not safe to share between threads) and
per parameter set. OpenCV silently lowers DIS's finest scale and TV-L1's scale count
when it sees a small image and keeps them lowered; both are reset before every call so
results never depend on what a cached object computed before. Each function maps two
uint8 RGB frames to float32 ``[H, W, 2]``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from modist.choices import DIS_PRESETS
from modist.errors import FlowError

# Keyed by the names the config accepts, so a preset added to modist.choices.DIS_PRESETS
# without an OpenCV counterpart fails at import rather than at the first flow estimate.
_DIS_FLAGS: dict[str, int] = {
    name: getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{name.upper()}") for name in DIS_PRESETS
}

_DIS_FINEST_SCALE = {name: cv2.DISOpticalFlow_create(flag).getFinestScale() for name, flag in _DIS_FLAGS.items()}

# OpenCV's own defaults, under snake_case names.
FARNEBACK_DEFAULTS: dict[str, Any] = {
    "levels": 5, "pyr_scale": 0.5, "win_size": 13, "iterations": 10, "poly_n": 5, "poly_sigma": 1.1,
}
TVL1_DEFAULTS: dict[str, Any] = {
    "tau": 0.25, "lambda_": 0.15, "theta": 0.3, "scales": 5, "warps": 5, "epsilon": 0.01,
    "inner_iterations": 30, "outer_iterations": 10, "scale_step": 0.8, "gamma": 0.0,
    "median_filtering": 5,
}

_local = threading.local()


def _cached(key: tuple, create: Callable[[], Any]) -> Any:
    cache = getattr(_local, "objects", None)
    if cache is None:
        cache = _local.objects = {}
    obj = cache.get(key)
    if obj is None:
        obj = cache[key] = create()
    return obj


def _merge(estimator: str, defaults: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    if "lambda" in options:  # ``lambda`` is a keyword in Python; accept it via **{"lambda": x}
        options["lambda_"] = options.pop("lambda")
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise FlowError(
            f"flow estimator {estimator!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(defaults)}"
        )
    return {**defaults, **options}


def _gray(frame: np.ndarray) -> np.ndarray:
    # views such as frame[..., ::-1] or frame[:, ::2] are not valid OpenCV input as is
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def _as_flow(flow: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(flow, dtype=np.float32)


def dis(frame0: np.ndarray, frame1: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense Inverse Search (Kroeger et al., ECCV 2016) with an OpenCV preset.

    DIS-medium by default: the most accurate estimator here that runs at training speed on a
    CPU (docs/flow.md); ``preset="fast"`` is several times quicker at a higher error.
    """
    if preset not in DIS_PRESETS:
        raise FlowError(f"flow estimator 'dis': unknown preset {preset!r}; choose from {', '.join(DIS_PRESETS)}")
    algo = _cached(("dis", preset), lambda: cv2.DISOpticalFlow_create(_DIS_FLAGS[preset]))
    # OpenCV lowers finest_scale for small images and keeps it lowered; restore the
    # preset's value so a cached object gives the same flow whatever it saw before.
    algo.setFinestScale(_DIS_FINEST_SCALE[preset])
    return _as_flow(algo.calc(_gray(frame0), _gray(frame1), None))


def farneback(frame0: np.ndarray, frame1: np.ndarray, **options: Any) -> np.ndarray:
    """Farneback polynomial-expansion flow (SCIA 2003); options as in FARNEBACK_DEFAULTS."""
    p = _merge("farneback", FARNEBACK_DEFAULTS, options)
    key = ("farneback", *sorted(p.items()))
    algo = _cached(
        key,
        lambda: cv2.FarnebackOpticalFlow_create(
            numLevels=int(p["levels"]), pyrScale=float(p["pyr_scale"]), winSize=int(p["win_size"]),
            numIters=int(p["iterations"]), polyN=int(p["poly_n"]), polySigma=float(p["poly_sigma"]),
        ),
    )
    return _as_flow(algo.calc(_gray(frame0), _gray(frame1), None))


def tvl1(frame0: np.ndarray, frame1: np.ndarray, **options: Any) -> np.ndarray:
    """Dual TV-L1 (Zach et al. 2007) from opencv-contrib; options as in TVL1_DEFAULTS."""
    if not hasattr(cv2, "optflow"):
        raise FlowError("flow estimator 'tvl1' needs opencv-contrib-python(-headless) (cv2.optflow is missing)")
    p = _merge("tvl1", TVL1_DEFAULTS, options)
    key = ("tvl1", *sorted(p.items()))
    algo = _cached(
        key,
        lambda: cv2.optflow.DualTVL1OpticalFlow_create(
            tau=float(p["tau"]), lambda_=float(p["lambda_"]), theta=float(p["theta"]),
            nscales=int(p["scales"]), warps=int(p["warps"]), epsilon=float(p["epsilon"]),
            innnerIterations=int(p["inner_iterations"]), outerIterations=int(p["outer_iterations"]),
            scaleStep=float(p["scale_step"]), gamma=float(p["gamma"]),
            medianFiltering=int(p["median_filtering"]),
        ),
    )
    # OpenCV lowers the object's scale count for small images and keeps it lowered,
    # so a cached object must get it back before every call.
    algo.setScalesNumber(int(p["scales"]))
    return _as_flow(algo.calc(_gray(frame0), _gray(frame1), None))
