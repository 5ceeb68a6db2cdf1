"""Reading and writing video files with PyAV.

Every failure to read raises :class:`~modist.errors.VideoReadError` whose message
starts with the file path, so callers can skip-and-count or report it in one line.

Example:
    >>> import numpy as np, tempfile, os
    >>> frames = np.zeros((4, 32, 32, 3), np.uint8)
    >>> path = os.path.join(tempfile.mkdtemp(), "a.mp4")
    >>> write_video(path, frames, fps=8)
    >>> read_video(path).frames.shape
    (4, 32, 32, 3)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from modist.atomic import atomic_path
from modist.errors import VideoReadError


@dataclass(frozen=True)
class VideoInfo:
    """What the container reports about its first video stream."""

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    times: np.ndarray  # float64 [T] presentation time of each frame in seconds
    fps: float


def open_video(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a container that has a video stream, or raise VideoReadError."""
    path = str(path)
    if not os.path.exists(path):
        raise VideoReadError(f"{path}: file not found")
    if os.path.getsize(path) == 0:
        raise VideoReadError(f"{path}: file is empty")
    try:
        # Some real clips (e.g. HMDB51) carry malformed metadata strings that make
        # PyAV refuse the whole file unless metadata errors are ignored.
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise VideoReadError(f"{path}: cannot open ({_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path}: no video stream")
    return container


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Container metadata without decoding (frame count may be estimated from duration)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        fps = _stream_fps(stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        num_frames = stream.frames or int(round(duration * fps))
        ctx = stream.codec_context
        return VideoInfo(str(path), int(num_frames), fps, duration, ctx.width, ctx.height, ctx.name)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> DecodedVideo:
    """Decode all frames (or the first ``max_frames``) as RGB uint8."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time) if frame.time is not None else len(times) / max(fps, 1e-6))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except (av.FFmpegError, ValueError) as exc:
            if not frames:
                raise VideoReadError(f"{path}: decoding failed ({_reason(exc)})") from None
            # A truncated file still yields the frames before the damage.
    if not frames:
        raise VideoReadError(f"{path}: no decodable frames")
    return DecodedVideo(np.stack(frames), np.asarray(times), fps)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    codec: str = "libx264",
    crf: int = 18,
) -> None:
    """Encode uint8 [T, H, W, 3] RGB frames; the file appears only when complete."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 [T,H,W,3] frames, got {frames.dtype} {frames.shape}")
    height, width = frames.shape[1:3]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "medium"}
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())

