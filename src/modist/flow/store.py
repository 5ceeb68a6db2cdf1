"""On-disk store of precomputed flow: one zip (``.npz``-style) file per video.

Layout of ``<store_dir>/<stem>.<hash>.flow.npz`` (``hash`` = SHA-1 of the video's resolved
path, so equal file names in different folders never collide):

* ``chunk_00000.npy``, ``chunk_00001.npy``, ...: uint8 ``[n, 2, H, W]`` quantised (dx, dy)
  planes for consecutive frame pairs (planar: deflates 15 % smaller than interleaved, and
  is the ``[..., 2, H, W]`` layout of :func:`modist.flow.encodings.encode_motion`),
  ``q = round((clip(f, -m, m) + m) * 255 / (2 m))`` with ``m = max_flow`` (see
  :func:`modist.flow.encodings.quantize_flow`), deflate-compressed.
  Pair ``i`` is the flow of nominal frame ``i`` (time ``i / fps``): to frame ``i + flow_gap``
  when the settings' ``flow_direction`` is ``forward`` (pairs ``0 .. N - 1 - flow_gap``), to
  frame ``max(i - flow_gap, 0)`` when it is ``backward`` (pairs ``0 .. N - 1``; pair 0 is the
  flow of frame 0 to itself). Stores written before the direction was recorded have no
  ``flow_direction`` and were made forward (:func:`stored_direction`).
* ``times.npy``: float64 time in seconds of each pair's first frame.
* ``meta.json``, written last: settings, ``num_pairs``, ``chunk_sizes``, size, fps.

Files are written under a temporary name and renamed when complete, so a file that
exists is complete; one that fails to open (truncated copy, other settings) is redone.
Chunks let a training loader read only the pairs of one clip.

Example:
    >>> import numpy as np, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with FlowStoreWriter(store_path(d, "v.mp4"), {"estimator": "dis"}, fps=30.0) as w:
    ...     w.add(np.zeros((3, 8, 8, 2), np.float32), times=np.arange(3) / 30)
    >>> load_stored_flow(d, "v.mp4").shape
    (3, 8, 8, 2)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from modist.atomic import AtomicWriter
from modist.errors import DataError
from modist.flow.encodings import dequantize_flow, quantize_flow

# 2: settings keys "estimator" and "flow_gap". The later "flow_direction" key kept version 2: a store
# without it reads as forward, which is what it holds.
STORE_VERSION = 2
SUFFIX = ".flow.npz"


def stored_direction(settings: dict[str, Any]) -> str:
    """The flow direction a store's settings record; ``forward`` for stores that predate the key.

    Example:
        >>> stored_direction({"flow_gap": 1}), stored_direction({"flow_direction": "backward"})
        ('forward', 'backward')
    """
    return str(settings.get("flow_direction", "forward"))


def store_path(store_dir: str | os.PathLike, video_path: str | os.PathLike) -> Path:
    """Where the store file of ``video_path`` lives inside ``store_dir``."""
    video = Path(video_path)
    digest = hashlib.sha1(str(video.resolve()).encode()).hexdigest()[:12]
    return Path(store_dir) / f"{video.stem}.{digest}{SUFFIX}"


class FlowStoreWriter(AtomicWriter):
    """Stream chunks of flow into a store file; it appears only after a clean ``close``."""

    def __init__(
        self,
        path: str | os.PathLike,
        settings: dict[str, Any],
        fps: float,
        max_flow: float = 20.0,
        compress_level: int = 6,
    ):
        super().__init__(path)
        self.settings = dict(settings)
        self.fps = float(fps)
        self.max_flow = float(max_flow)
        self._zip = zipfile.ZipFile(self._tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=compress_level)
        self._sizes: list[int] = []
        self._times: list[np.ndarray] = []
        self._shape: tuple[int, int] | None = None

    def add(self, flow: np.ndarray, times: np.ndarray) -> None:
        """Append float ``[n, H, W, 2]`` flow (or already-quantised uint8) and its pair times."""
        q = flow if flow.dtype == np.uint8 else quantize_flow(flow, self.max_flow)
        if q.ndim != 4 or q.shape[-1] != 2 or (self._shape and q.shape[1:3] != self._shape):
            raise ValueError(f"{self.path}: chunk of shape {q.shape} does not fit {self._shape}")
        self._shape = q.shape[1:3]
        with self._zip.open(f"chunk_{len(self._sizes):05d}.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.ascontiguousarray(q.transpose(0, 3, 1, 2)), allow_pickle=False)
        self._sizes.append(len(q))
        self._times.append(np.asarray(times, np.float64).reshape(-1))

    def close(self) -> None:
        times = np.concatenate(self._times) if self._times else np.zeros(0)
        buf = io.BytesIO()
        np.save(buf, times)
        self._zip.writestr("times.npy", buf.getvalue())
        h, w = self._shape or (0, 0)
        meta = {
            "version": STORE_VERSION, "settings": self.settings, "fps": self.fps, "max_flow": self.max_flow,
            "num_pairs": int(sum(self._sizes)), "chunk_sizes": self._sizes, "height": h, "width": w,
        }
        self._zip.writestr("meta.json", json.dumps(meta))
        self._zip.close()
        self._commit()

    def abort(self) -> None:
        self._zip.close()
        self._discard()


class StoredFlow:
    """Read access to one store file; raises DataError naming the file if it is damaged."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            self.meta = json.loads(self._zip.read("meta.json"))
            self.times = np.load(io.BytesIO(self._zip.read("times.npy")))
        except FileNotFoundError:
            raise DataError(f"{self.path}: no stored flow (run `modist flow` on the dataset first)") from None
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}: damaged flow store ({type(exc).__name__}: {exc})") from None
        if self.meta.get("version") != STORE_VERSION:
            raise DataError(f"{self.path}: flow store version {self.meta.get('version')} != {STORE_VERSION}")
        self._starts = np.concatenate([[0], np.cumsum(self.meta["chunk_sizes"])]).astype(int)

    @property
    def num_pairs(self) -> int:
        return int(self.meta["num_pairs"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.meta["settings"])

    def _chunk(self, i: int) -> np.ndarray:
        try:
            with self._zip.open(f"chunk_{i:05d}.npy") as fh:
                return np.lib.format.read_array(fh, allow_pickle=False)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}: damaged flow store chunk {i} ({type(exc).__name__})") from None

    def read_quantized(self, start: int = 0, stop: int | None = None, channels_first: bool = False) -> np.ndarray:
        """uint8 ``[stop - start, H, W, 2]`` (or ``[.., 2, H, W]``) for pairs ``start..stop-1``.

        Only the chunks holding those pairs are read and decompressed.
        """
        stop = self.num_pairs if stop is None else min(stop, self.num_pairs)
        if not 0 <= start <= stop:
            raise IndexError(f"{self.path}: pair range {start}:{stop} outside 0:{self.num_pairs}")
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        parts, i = [], max(first, 0)
        while i < len(self.meta["chunk_sizes"]) and self._starts[i] < stop:
            lo, hi = max(start - self._starts[i], 0), min(stop, self._starts[i + 1]) - self._starts[i]
            parts.append(self._chunk(i)[lo:hi])
            i += 1
        if not parts:
            parts = [np.zeros((0, 2, self.meta["height"], self.meta["width"]), np.uint8)]
        planar = np.concatenate(parts)
        return planar if channels_first else np.ascontiguousarray(planar.transpose(0, 2, 3, 1))

    def read(self, start: int = 0, stop: int | None = None, channels_first: bool = False) -> np.ndarray:
        """float32 flow ``[n, H, W, 2]`` (or ``[n, 2, H, W]``) in pixels for pairs ``start..stop-1``."""
        return dequantize_flow(self.read_quantized(start, stop, channels_first), self.meta["max_flow"])

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> StoredFlow:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_stored_flow(store_dir: str | os.PathLike, video_path: str | os.PathLike) -> StoredFlow:
    """The store file of ``video_path`` in ``store_dir`` (DataError if missing or damaged)."""
    return StoredFlow(store_path(store_dir, video_path))


def load_stored_flow(
    store_dir: str | os.PathLike, video_path: str | os.PathLike, start: int = 0, stop: int | None = None
) -> np.ndarray:
    """float32 ``[N, H, W, 2]`` flow of ``video_path`` (pairs ``start..stop-1``) from ``store_dir``."""
    with open_stored_flow(store_dir, video_path) as stored:
        return stored.read(start, stop)
