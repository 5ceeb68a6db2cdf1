"""Which decoder reads videos, and :func:`open_source`, the one place that opens a video by backend name.

The backend comes from the ``backend`` argument (``data.video_backend`` in training) or the
``MODIST_VIDEO_BACKEND`` environment variable, one of :data:`~modist.choices.VIDEO_BACKENDS`:
``pyav`` (default), ``torchcodec``, ``auto`` (torchcodec when ``import torchcodec`` works
cleanly, else PyAV), or ``nvdec`` (torchcodec's CUDA decoder on the GPU's video engine; when
it is unavailable, :func:`resolve_backend` falls back to PyAV and :func:`nvdec_error` gives
the one-line reason). Each backend is a :class:`~modist.data.video.VideoSource` subclass
(:class:`~modist.data.video.VideoReader`, :class:`TorchcodecReader`, :class:`NvdecReader`)
returning the same :class:`~modist.data.video.DecodedVideo` for the same requests; the
torchcodec path is guarded because its CPU wheels need a system FFmpeg and newer wheels pull CUDA.

Example:
    >>> resolve_backend("auto") in ("pyav", "torchcodec")
    True
    >>> import tempfile
    >>> from modist.data.video import write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "a.mp4")
    >>> write_video(path, np.zeros((8, 32, 32, 3), np.uint8), fps=8)
    >>> with open_source(path, backend="pyav") as source:
    ...     type(source).__name__, source.clip(0.25, num_frames=3, stride=2).times.tolist()
    ('VideoReader', [0.25, 0.5, 0.75])
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

from modist.choices import VIDEO_BACKENDS
from modist.data.video import DecodedVideo, VideoInfo, VideoReader, VideoSource, cause_text, open_video
from modist.errors import ConfigError, VideoReadError


@functools.lru_cache(maxsize=1)
def torchcodec_error() -> str | None:
    """None when torchcodec imports and loads its FFmpeg libraries, else why not."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception as exc:  # a broken install raises RuntimeError/OSError, not ImportError
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


@functools.lru_cache(maxsize=1)
def nvdec_error() -> str | None:
    """None when torchcodec can decode on a CUDA device here, else why not (one line).

    Example:
        >>> import torch
        >>> torch.cuda.is_available() or nvdec_error() is not None
        True
    """
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device"
    if torchcodec_error() is not None:
        return f"torchcodec unavailable ({torchcodec_error()})"
    import inspect

    from torchcodec.decoders import VideoDecoder

    if "device" not in inspect.signature(VideoDecoder).parameters:
        return "this torchcodec build has no CUDA decoder"
    return None


def resolve_backend(backend: str | None = None) -> str:
    """'pyav', 'torchcodec' or 'nvdec' for a requested backend (None: environment or 'pyav').

    ``nvdec`` falls back to ``pyav`` when :func:`nvdec_error` says why it cannot run.
    """
    name = (backend or os.environ.get("MODIST_VIDEO_BACKEND") or "pyav").lower()
    if name not in VIDEO_BACKENDS:
        raise ConfigError(f"video backend {name!r} unknown; choose from {', '.join(VIDEO_BACKENDS)}")
    if name == "nvdec":
        return "pyav" if nvdec_error() is not None else "nvdec"
    if name == "auto":
        return "torchcodec" if torchcodec_error() is None else "pyav"
    if name == "torchcodec" and torchcodec_error() is not None:
        raise ConfigError(f"video backend 'torchcodec' unavailable ({torchcodec_error()})")
    return name


def open_source(
    path: str | os.PathLike, backend: str | None = None, *, short_side: int | None = None, threads: int = 1
) -> VideoSource:
    """The open :class:`~modist.data.video.VideoSource` of the decoder ``backend`` resolves to.

    ``backend`` as in :func:`resolve_backend`; ``short_side`` resizes the frames' shorter
    side; ``threads`` is PyAV's decoder thread count (torchcodec chooses its own).
    """
    name = resolve_backend(backend)
    if name == "pyav":
        return VideoReader(path, short_side=short_side, threads=threads)
    torchcodec_source = NvdecReader if name == "nvdec" else TorchcodecReader
    return torchcodec_source(path, short_side=short_side)


def describe_backend(backend: str | None) -> str:
    """One start-up line: the decoder in use and, for an unavailable ``nvdec``, why not.

    Example:
        >>> describe_backend("pyav")
        'video decoding: pyav'
    """
    requested = (backend or os.environ.get("MODIST_VIDEO_BACKEND") or "pyav").lower()
    used = resolve_backend(backend)
    if requested == "nvdec" and used != "nvdec":
        return f"video decoding: pyav (nvdec unavailable: {nvdec_error()})"
    return f"video decoding: {used}"


class TorchcodecReader(VideoSource):
    """torchcodec's exact-seek CPU decoder (the ``torchcodec`` backend).

    Not exercised by the test suite where torchcodec is absent. Checked by hand with
    torchcodec 0.13 on PyAV's FFmpeg 8 libraries: ``tests/test_video.py`` passes with
    ``MODIST_VIDEO_BACKEND=torchcodec`` except the exact wording of the truncation error,
    and on the 23 shared clips it returned PyAV's frame for 137 of 138 random times (the
    other: variable-rate tree.avi, where torchcodec's frame rate is the average over the
    pictures, 2.3 fps, not the container's 15, so the nominal grid differs too). The
    :attr:`timer` is not split by stage here.
    """

    device = "cpu"  # where torchcodec decodes

    def __init__(self, path: str | os.PathLike, short_side: int | None = None):
        from torchcodec.decoders import VideoDecoder

        super().__init__(path, short_side)
        open_video(self.path).close()  # same missing / empty / no-video-stream messages as PyAV
        try:
            extra = {"device": self.device} if self.device != "cpu" else {}
            self._decoder = VideoDecoder(self.path, seek_mode="exact", dimension_order="NHWC", **extra)
        except Exception as exc:
            raise VideoReadError(self.path, f"cannot open ({cause_text(exc)})") from None
        meta = self._decoder.metadata
        self._begin = float(meta.begin_stream_seconds or 0.0)
        self._end = float(meta.end_stream_seconds or self._begin)
        self._set_rate(float(meta.average_fps or 0.0), self._end - self._begin)

    def frame_grid(self) -> tuple[int, float]:
        info = self.info
        return info.num_frames, info.fps

    @property
    def info(self) -> VideoInfo:
        meta = self._decoder.metadata
        frames = meta.num_frames or int(round(self.duration * self.fps))
        return VideoInfo(self.path, int(frames), self.fps, self.duration, meta.width, meta.height,
                         str(meta.codec), 0, not meta.num_frames)

    def frames_at(self, times: Sequence[float] | np.ndarray) -> DecodedVideo:
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if times.size == 0 or not np.all(np.isfinite(times)):
            raise ValueError(f"need finite times, got {times!r}")
        last = self._end - 1e-6
        # The same tenth-of-a-frame tolerance as the PyAV reader (time bases round times).
        wanted = np.clip(times + self._begin + 0.1 * self._frame_sec, self._begin, last).tolist()
        try:
            batch = self._decoder.get_frames_played_at(seconds=wanted)
        except Exception as exc:
            raise VideoReadError(self.path, f"truncated or corrupt: decoding failed ({cause_text(exc)})") from None
        frames = batch.data.cpu().numpy()  # nvdec: decoded on the GPU, handed on as uint8 arrays
        if self.short_side:
            frames = _resize_short_side(frames, self.short_side)
        return DecodedVideo(frames, batch.pts_seconds.numpy().astype(np.float64) - self._begin, self.fps)

    def close(self) -> None:
        self._decoder = None


class NvdecReader(TorchcodecReader):
    """torchcodec's CUDA decoder on the GPU's video engine (the ``nvdec`` backend).

    Frames are copied back to host arrays, so the rest of the data path is unchanged.
    """

    device = "cuda"


def _resize_short_side(frames: np.ndarray, short_side: int) -> np.ndarray:
    import cv2

    height, width = frames.shape[1:3]
    scale = short_side / min(height, width)
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
