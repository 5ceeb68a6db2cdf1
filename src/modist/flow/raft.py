"""RAFT (Teed & Deng, ECCV 2020) through torchvision, with a local weights file only.

Available only when ``torchvision`` imports cleanly *and* a weights file is given
(``weights=PATH`` or the environment variable ``MODIST_RAFT_WEIGHTS``); nothing is ever
downloaded. Weights are a torchvision RAFT ``state_dict`` saved with ``torch.save`` or
as ``.safetensors``; ``model`` picks ``"large"`` (default) or ``"small"``.
``iterations`` is the number of recurrent updates (the authors' preprocessing used 20).
Flow made with RAFT records :func:`weights_digest` (in a flow store's settings and a prepared
copy's ``prepared.json``), so flow from other weights is neither reused nor mistaken for it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from modist.errors import DataError, FlowError
from modist.serialization import load_torch_file

WEIGHTS_ENV = "MODIST_RAFT_WEIGHTS"
_lock = threading.Lock()
_models: dict[tuple, torch.nn.Module] = {}
_digests: dict[tuple, str] = {}


def _import_torchvision_raft() -> tuple[Any | None, str | None]:
    try:
        from torchvision.models import optical_flow
    except Exception as exc:  # the CUDA-built wheel raises RuntimeError on CPU torch
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"torchvision does not import ({type(exc).__name__}: {first})"
    return optical_flow, None


def _resolve_weights(weights: str | os.PathLike | None) -> tuple[Path | None, str | None]:
    if weights is None:
        weights = os.environ.get(WEIGHTS_ENV) or None
    if weights is None:
        return None, f"no weights file (pass weights=PATH or set {WEIGHTS_ENV})"
    path = Path(weights)
    if not path.is_file():
        return None, f"weights file {path} not found"
    return path, None


def check_available(weights: str | os.PathLike | None = None) -> Path:
    """Return the weights path, or raise FlowError listing everything that is missing."""
    _, tv_problem = _import_torchvision_raft()
    path, w_problem = _resolve_weights(weights)
    problems = [p for p in (tv_problem, w_problem) if p]
    if problems:
        raise FlowError(f"flow estimator 'raft' unavailable: {'; '.join(problems)}")
    assert path is not None
    return path


def weights_digest(weights: str | os.PathLike | None = None) -> str:
    """``"sha256:"`` and the first 16 hex digits of the weights file's hash (``weights`` or the environment's).

    The file's path says nothing of its contents, so provenance records this instead. Cached per
    path, size and modification time.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "w.pt"
        >>> _ = path.write_bytes(b"abc")
        >>> weights_digest(path)
        'sha256:ba7816bf8f01cfea'
    """
    path, problem = _resolve_weights(weights)
    if path is None:
        raise FlowError(f"flow estimator 'raft' unavailable: {problem}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _digests[key] = "sha256:" + digest.hexdigest()[:16]
    return _digests[key]


def _load_model(path: Path, size: str, device: torch.device) -> torch.nn.Module:
    key = (str(path.resolve()), size, str(device))
    with _lock:
        if key in _models:
            return _models[key]
        optical_flow, _ = _import_torchvision_raft()
        if size not in ("large", "small"):
            raise FlowError(f"flow estimator 'raft': model must be 'large' or 'small', got {size!r}")
        model = (optical_flow.raft_large if size == "large" else optical_flow.raft_small)(weights=None)
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = load_torch_file(path, what=f"torchvision RAFT-{size} state_dict")
            model.load_state_dict(state)
        except DataError as exc:  # the file does not load at all; the message says why
            raise FlowError(str(exc)) from None
        except Exception as exc:
            raise FlowError(f"{path}: not a torchvision RAFT-{size} state_dict ({type(exc).__name__})") from None
        model = _models[key] = model.eval().to(device)
        return model


@torch.no_grad()
def estimate_batch(
    frames0: np.ndarray,
    frames1: np.ndarray,
    weights: str | os.PathLike | None = None,
    model: str = "large",
    iterations: int = 20,
    device: str | None = None,
    batch_size: int = 8,
) -> np.ndarray:
    """uint8 RGB ``[N, H, W, 3]`` pairs -> float32 ``[N, H, W, 2]`` with RAFT."""
    path = check_available(weights)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = _load_model(path, model, dev)
    n, h, w = frames0.shape[:3]
    ph, pw = (-h) % 8, (-w) % 8  # RAFT needs sides divisible by 8
    out = np.empty((n, h, w, 2), np.float32)
    for start in range(0, n, batch_size):
        imgs = []
        for f in (frames0, frames1):
            x = torch.from_numpy(np.ascontiguousarray(f[start : start + batch_size])).to(dev)
            x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # RAFT expects [-1, 1]
            imgs.append(F.pad(x, (0, pw, 0, ph), mode="replicate"))
        flow = net(imgs[0], imgs[1], num_flow_updates=int(iterations))[-1][..., :h, :w]
        out[start : start + batch_size] = flow.permute(0, 2, 3, 1).float().cpu().numpy()
    return out


def estimate_pair(frame0: np.ndarray, frame1: np.ndarray, **options: Any) -> np.ndarray:
    """One uint8 RGB pair -> float32 ``[H, W, 2]`` (see :func:`estimate_batch`)."""
    return estimate_batch(frame0[None], frame1[None], **options)[0]
