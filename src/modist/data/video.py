"""Reading video files: the decoder-independent :class:`VideoSource` and PyAV's :class:`VideoReader`.

:class:`VideoSource` is what every decoder offers (frames by time, by nominal index, as
clips); :class:`VideoReader` is the PyAV one, the default. The other decoders and the
factory that picks one by name are in :mod:`modist.data.backends`.

Every failure to read raises :class:`~modist.errors.VideoReadError` whose message
starts with the file path (its :attr:`~modist.errors.VideoReadError.kind` names the
failure), so callers can skip the video or report it in one line.

Time is the canonical coordinate: ``t`` seconds after the video stream's first frame.
A request for time ``t`` returns the frame *on screen* at ``t`` (the last frame whose
presentation time is <= t), found by seeking to the keyframe before ``t`` and decoding
forward, so variable-frame-rate files come out right. Frame *indices* are positions on
the nominal frame grid (``t = index / fps``): for constant-rate files index ``i`` is the
``i``-th frame; for variable-rate files it is the frame shown at ``i / fps``. Frames come
out upright (the stream's display matrix is applied) as RGB uint8.

Example:
    >>> import numpy as np, tempfile, os
    >>> frames = np.zeros((4, 32, 32, 3), np.uint8)
    >>> path = os.path.join(tempfile.mkdtemp(), "a.mp4")
    >>> write_video(path, frames, fps=8)
    >>> read_video(path).frames.shape
    (4, 32, 32, 3)
    >>> with VideoReader(path) as reader:
    ...     reader.clip(start_sec=0.0, num_frames=2, stride=2).times.tolist()
    [0.0, 0.25]
"""

from __future__ import annotations

import heapq
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

import av
import numpy as np

from modist.data.orientation import Orientation, frame_orientation
from modist.data.timing import StageTimer, stage
from modist.data.video_write import write_video  # noqa: F401  (part of this module's API)
from modist.errors import VideoReadError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
# Frames held back to repair presentation times that some files (B-frames muxed with
# pts = dts, packed MPEG-4 in AVI) attach out of order; 0 for streams without B-frames.
REORDER_WINDOW = 4
# Without a container index: a new seek pays off once the next requested time is this far
# past the decoded position. With one, a new seek happens exactly when it lands on a later
# keyframe than the current run started from (see VideoReader._groups).
MAX_FORWARD_SEC = 2.0


@dataclass(frozen=True)
class VideoInfo:
    """What the container reports about its first video stream.

    ``width``/``height`` are of the upright frame (after rotation); ``num_frames`` counts
    the nominal frame grid (the container's count, or duration x fps when it has none,
    then ``num_frames_estimated`` is True); ``rotation`` is the counter-clockwise display
    rotation in degrees that reading undoes.
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    rotation: int = 0
    num_frames_estimated: bool = False


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    times: np.ndarray  # float64 [T] presentation time of each frame in seconds
    fps: float
    next_frames: np.ndarray | None = None  # [T, H, W, 3]: one nominal frame later (clip with_next)


@dataclass(frozen=True)
class ScanResult:
    """A full decode without keeping frames: what ``modist data check --full`` reports."""

    num_frames: int
    last_time: float
    error: str | None


def open_video(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a container that has a video stream, or raise VideoReadError."""
    path = str(path)
    if not os.path.exists(path):
        raise VideoReadError(path, "file not found")
    if os.path.isdir(path):
        raise VideoReadError(path, "is a directory")
    if os.path.getsize(path) == 0:
        raise VideoReadError(path, "file is empty")
    try:
        # Some real clips (e.g. HMDB51) carry malformed metadata strings that make
        # PyAV refuse the whole file unless metadata errors are ignored.
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise VideoReadError(path, f"cannot open ({cause_text(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "no video stream")
    return container


def cause_text(exc: BaseException) -> str:
    """A decoder's exception in a few words, for the detail of a VideoReadError.

    Example:
        >>> error = av.error.InvalidDataError(-1094995529, "Invalid data found when processing input", "/v/a.mp4")
        >>> str(error)
        "[Errno -1094995529] Invalid data found when processing input: '/v/a.mp4'"
        >>> cause_text(error)
        'Invalid data found when processing input'
        >>> cause_text(RuntimeError("Could not seek, SingleStreamDecoder.cpp:412, end of file"))
        'end of file'
    """
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror  # without the errno and the repeated file name
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    # torchcodec puts its C++ source location before the message.
    return text.rsplit(", ", 1)[-1] if ".cpp:" in text else text


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


_Source = TypeVar("_Source", bound="VideoSource")


class VideoSource(ABC):
    """One open video, read by time; one subclass per decoder.

    A subclass opens the file, sets :attr:`fps` and :attr:`duration` (by :meth:`_set_rate`)
    and answers :meth:`frames_at`, :attr:`info` and :meth:`frame_grid`; requests by nominal
    index and clips are the same time arithmetic for every decoder and live here.
    :func:`modist.data.backends.open_source` opens the subclass a backend name stands for.
    """

    #: per-stage CPU timer of the reads ("decode", "convert"; decoders may not split them); None = off
    timer: StageTimer | None

    def __init__(self, path: str | os.PathLike, short_side: int | None = None):
        self.path = str(path)
        self.short_side = short_side
        self.timer = None
        self.fps = 0.0
        self.duration = 0.0
        self._frame_sec = 1.0 / 30

    def _set_rate(self, fps: float, duration: float) -> None:
        """Record the frame rate and duration (fps 0: unknown, the nominal grid then has 30 frames a second)."""
        self.fps = fps
        self._frame_sec = 1.0 / fps if fps > 0 else 1.0 / 30
        self.duration = duration

    @abstractmethod
    def frames_at(self, times: Sequence[float] | np.ndarray) -> DecodedVideo:
        """The frames on screen at ``times`` (seconds from the first frame), in request order.

        Times before the first frame give the first frame and times past the last frame
        the last one; a file damaged before a requested time raises VideoReadError.
        """

    @property
    @abstractmethod
    def info(self) -> VideoInfo:
        """What the container reports (may decode the first frame)."""

    @abstractmethod
    def frame_grid(self) -> tuple[int, float]:
        """``(num_frames, fps)`` of :attr:`info`, as cheaply as the decoder allows."""

    @abstractmethod
    def close(self) -> None:
        """Release the file; the source cannot read afterwards."""

    def __enter__(self: _Source) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def frames(self, indices: Sequence[int] | np.ndarray) -> DecodedVideo:
        """Frames at positions of the nominal frame grid (``time = index / fps``)."""
        indices = np.asarray(indices).reshape(-1)
        if indices.size and indices.min() < 0:
            raise ValueError(f"frame indices must be >= 0, got {indices.min()}")
        return self.frames_at(indices * self._frame_sec)

    def clip(self, start_sec: float, num_frames: int, stride: int, with_next: bool = False) -> DecodedVideo:
        """``num_frames`` frames ``stride`` nominal frames apart from ``start_sec``.

        ``with_next`` also returns the frame one nominal frame after each (for flow) in
        ``next_frames``, decoded in the same pass.
        """
        return self.clips([start_sec], num_frames, stride, with_next)[0]

    def clips(
        self, starts: Sequence[float], num_frames: int, stride: int, with_next: bool = False
    ) -> list[DecodedVideo]:
        """Several clips (e.g. the two views of a training pair) read in one request.

        One :meth:`frames_at` call, so a decoder can share seeks between the clips (PyAV:
        clips less than ``MAX_FORWARD_SEC`` apart share one seek and decode run).
        """
        step = self._frame_sec
        grid = np.arange(num_frames) * stride * step
        per_clip = [np.concatenate([s + grid, s + grid + step]) if with_next else s + grid for s in starts]
        both = self.frames_at(np.concatenate(per_clip))
        out, offset = [], 0
        for times in per_clip:
            frames, stamps = both.frames[offset : offset + len(times)], both.times[offset : offset + len(times)]
            offset += len(times)
            nxt = frames[num_frames:] if with_next else None
            out.append(DecodedVideo(frames[:num_frames], stamps[:num_frames], self.fps, nxt))
        return out


class _LandedLate(Exception):
    """The seek put the decoder after the first requested time."""


class _Reordered(Exception):
    """Presentation times went backwards: decode again with a reorder window."""


class VideoReader(VideoSource):
    """PyAV's seek-and-decode access to one video (the ``pyav`` backend); open once, read several clips.

    ``short_side`` resizes (during the RGB conversion, which is cheaper than resizing
    afterwards) so the upright frame's shorter side has that many pixels. ``threads``
    is FFmpeg's decoder thread count (1 suits DataLoader workers; 0 = FFmpeg decides).
    ``luma`` returns the Y plane alone as ``[H, W, 1]``, unconverted and not resized: single-channel
    streams such as the motion input ``modist prepare`` writes. The :attr:`timer` stages are
    "decode" (seek + demux + decode) and "convert" (RGB + resize).

    Example:
        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "a.mp4")
        >>> write_video(path, np.zeros((32, 32, 32, 3), np.uint8), fps=8)
        >>> with VideoReader(path) as reader:
        ...     clip = reader.clip(start_sec=1.0, num_frames=4, stride=2, with_next=True)
        >>> clip.times.tolist(), clip.next_frames.shape
        ([1.0, 1.25, 1.5, 1.75], (4, 32, 32, 3))
    """

    def __init__(self, path: str | os.PathLike, short_side: int | None = None, threads: int = 1, luma: bool = False):
        super().__init__(path, short_side)
        self.luma = luma
        self._threads = threads
        self._container = open_video(self.path)
        self._setup_stream()
        self._orientation: Orientation | None = None
        self._lookahead = REORDER_WINDOW if self._stream.codec_context.has_b_frames else 0
        self._decode_error: str | None = None
        self._keyframes: np.ndarray | None = None  # index timestamps of keyframes (stream time base)
        self._untouched = True  # nothing decoded or sought yet: the demuxer stands at the first packet

    def _setup_stream(self) -> None:
        stream = self._container.streams.video[0]
        # FFmpeg's default (0 = one thread per core) would start threads in every reader;
        # a DataLoader worker has one core, and threads outliving a fork can deadlock it.
        stream.codec_context.thread_count = self._threads
        if self._threads != 1:
            stream.thread_type = "AUTO"
        self._stream = stream
        self._time_base = stream.time_base or Fraction(1, av.time_base)
        self._tb = float(self._time_base)
        self._start = stream.start_time or 0
        self._set_rate(_stream_fps(stream), self._duration())

    def _duration(self) -> float:
        stream, container = self._stream, self._container
        if stream.duration:
            return float(stream.duration * self._time_base)
        if container.duration:
            end = (container.start_time or 0) + container.duration
            return max(end / av.time_base - float(self._start * self._time_base), 0.0)
        return 0.0

    def close(self) -> None:
        self._container.close()

    @property
    def orientation(self) -> Orientation:
        """Display orientation; decodes the first frame if nothing was decoded yet."""
        if self._orientation is None:
            try:
                self.frames_at([0.0])
            except VideoReadError:
                self._orientation = Orientation()
        return self._orientation or Orientation()

    @property
    def info(self) -> VideoInfo:
        stream = self._stream
        width, height = self.orientation.display_size(stream.codec_context.width, stream.codec_context.height)
        estimated = not stream.frames
        num_frames = stream.frames or int(round(self.duration * self.fps))
        return VideoInfo(
            self.path, int(num_frames), self.fps, self.duration, width, height,
            stream.codec_context.name, self.orientation.degrees, estimated,
        )

    def frame_grid(self) -> tuple[int, float]:
        """``(num_frames, fps)`` of :attr:`info` without decoding a frame (no orientation needed)."""
        return int(self._stream.frames or int(round(self.duration * self.fps))), self.fps

    # -- reading ------------------------------------------------------------------

    def frames_at(self, times: Sequence[float] | np.ndarray) -> DecodedVideo:
        """The frames on screen at ``times`` (see :meth:`VideoSource.frames_at`).

        Truncation shows as decoding that stops well before the container's duration; the
        VideoReadError then says where decoding stopped.
        """
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if times.size == 0 or not np.all(np.isfinite(times)):
            raise ValueError(f"need finite times, got {times!r}")
        targets, inverse = np.unique(np.maximum(times, 0.0), return_inverse=True)
        if self.timer is not None:
            self.timer.requests.append((self.path, targets.tolist()))
        picked: list[tuple[float, av.VideoFrame]] = []
        with stage(self.timer, "decode"):
            for group in self._groups(targets):
                picked.extend(self._decode_group(group))
        with stage(self.timer, "convert"):
            # Only the frames kept are converted, each once, scaled by swscale in the conversion.
            rgb: dict[int, np.ndarray] = {}
            for _, frame in picked:
                if id(frame) not in rgb:
                    rgb[id(frame)] = self._to_rgb(frame)
            frames = np.stack([rgb[id(picked[i][1])] for i in inverse])
        return DecodedVideo(frames, np.array([picked[i][0] for i in inverse]), self.fps)

    def scan(self) -> ScanResult:
        """Decode every frame from the start without converting it; count and time them."""
        self._seek(0.0)
        count, last = 0, 0.0
        for t, frame in self._timed_frames():
            self._note_orientation(frame)
            count, last = count + 1, max(last, t)
        return ScanResult(count, last, self._decode_error)

    def decode_all(self, max_frames: int | None = None) -> DecodedVideo:
        """Every frame from the first (or the first ``max_frames``), in presentation order.

        A truncated file yields the frames before the damage; VideoReadError if none.
        """
        if not self._untouched:
            self._seek(0.0)
        frames: list[np.ndarray] = []
        times: list[float] = []
        for t, frame in self._timed_frames():
            self._note_orientation(frame)
            frames.append(self._to_rgb(frame))
            times.append(t)
            if max_frames is not None and len(frames) >= max_frames:
                break
        if not frames:
            detail = f" ({self._decode_error})" if self._decode_error else ""
            raise VideoReadError(self.path, f"no decodable frames{detail}")
        return DecodedVideo(np.stack(frames), np.asarray(times), self.fps)

    # -- internals ----------------------------------------------------------------

    def keyframe_timestamps(self) -> np.ndarray:
        """Index timestamps (stream time base) of the keyframes the container's index lists.

        Empty when the container has no index (raw streams, some Matroska files): then
        reads fall back to :data:`MAX_FORWARD_SEC`.
        """
        if self._keyframes is None:
            try:
                entries = self._stream.index_entries
                stamps = [e.timestamp for e in entries if e.is_keyframe] if entries is not None else []
            except (AttributeError, av.FFmpegError):
                stamps = []
            self._keyframes = np.asarray(sorted(stamps), dtype=np.int64)
        return self._keyframes

    def _groups(self, targets: np.ndarray) -> list[np.ndarray]:
        """Sorted targets split into decode runs, each started by one seek.

        A run continues to the next target when seeking there would land on the keyframe
        the run already started from (FFmpeg seeks by the same index), so no frame is
        decoded twice; skipping non-reference frames covers the stretch in between.
        Which runs are made changes the CPU spent, never the frames returned.
        """
        keyframes = self.keyframe_timestamps()
        if len(keyframes) == 0:
            return _split_groups(targets, MAX_FORWARD_SEC)
        pts = self._start + np.floor(targets / self._tb + 1e-6).astype(np.int64)
        # Index times are decode times: with B-frames a keyframe is shown up to has_b_frames
        # frames later. A target just after one would land late and back off a whole second;
        # such targets join the run before.
        delay = self._stream.codec_context.has_b_frames + 1 if self._lookahead else 0
        margin = int(delay * self._frame_sec / self._tb)
        landing = np.searchsorted(keyframes + margin, pts, side="right")
        return np.split(targets, np.flatnonzero(np.diff(landing) != 0) + 1)

    def _note_orientation(self, frame: av.VideoFrame) -> None:
        if self._orientation is None:
            self._orientation = frame_orientation(frame)

    def _seek(self, sec: float) -> None:
        self._untouched = False
        self._decode_error = None
        pts = self._start + int(Fraction(sec).limit_denominator(1_000_000) / self._time_base)
        try:
            self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        except (av.FFmpegError, OverflowError, ValueError):
            # Unseekable (damaged index, raw streams): start over from the beginning.
            self._container.close()
            self._container = open_video(self.path)
            self._setup_stream()

    def _decoded(self, skip_before: Callable[[], float] | None) -> Iterator[av.VideoFrame]:
        """Demux and decode; packets timed before ``skip_before()`` skip non-reference frames.

        ``skip_before()`` is asked again for every packet (it grows as requested frames are
        found). Nothing shown before it is wanted, and frames nothing refers to can be left
        undecoded there: a seek lands on a keyframe up to a GOP before the target, and one
        run may cross seconds between the two views of a pair, so this saves much decoding.
        A packet without a time is always decoded.
        """
        codec = self._stream.codec_context
        skipping = False
        try:
            for packet in self._container.demux(self._stream):
                want = (skip_before is not None and packet.pts is not None
                        and (packet.pts - self._start) * self._tb < skip_before())
                if want != skipping:
                    codec.skip_frame = "NONREF" if want else "DEFAULT"
                    skipping = want
                yield from packet.decode()
        finally:
            if skipping:
                codec.skip_frame = "DEFAULT"

    def _timed_frames(self, skip_before: Callable[[], float] | None = None) -> Iterator[tuple[float, av.VideoFrame]]:
        """Decoded frames in output order with repaired presentation times (seconds)."""
        self._untouched = False
        heap: list[float] = []
        pending: deque[av.VideoFrame] = deque()
        last = -self._frame_sec
        try:
            for frame in self._decoded(skip_before if self._threads == 1 else None):
                label = frame.pts if frame.pts is not None else frame.dts
                t = (label - self._start) * self._tb if label is not None else last + self._frame_sec
                last = t
                # Decoders emit frames in display order even when the attached times are
                # shuffled; the smallest time seen within the window belongs to the oldest frame.
                heapq.heappush(heap, t)
                pending.append(frame)
                if len(pending) > self._lookahead:
                    yield heapq.heappop(heap), pending.popleft()
        except (av.FFmpegError, ValueError, MemoryError) as exc:
            self._decode_error = cause_text(exc)  # a damaged file ends here
        while pending:
            yield heapq.heappop(heap), pending.popleft()

    def _decode_group(self, targets: np.ndarray) -> list[tuple[float, av.VideoFrame]]:
        backoff = 0.0
        while True:
            seek_sec = max(float(targets[0]) - backoff, 0.0)
            try:
                return self._run(seek_sec, targets)
            except _LandedLate:
                backoff = max(2 * backoff, 1.0)
            except _Reordered:
                self._lookahead = max(2 * self._lookahead, REORDER_WINDOW)
                if self._lookahead > 64:
                    raise VideoReadError(self.path, "presentation times are out of order") from None

    def _run(self, seek_sec: float, targets: np.ndarray) -> list[tuple[float, av.VideoFrame]]:
        self._seek(seek_sec)
        eps = 0.1 * self._frame_sec  # container time bases round frame times by up to ~1 ms
        out: list[tuple[float, av.VideoFrame]] = []
        prev: tuple[float, av.VideoFrame] | None = None
        latest = -np.inf
        # Skip non-reference frames until well before the next target still to find: the
        # margin covers decoder reordering and times that some files attach a few frames off.
        margin = max(0.5, 16 * self._frame_sec)

        exact_last = self._lookahead == 0

        def skip_before() -> float:
            return float(targets[len(out)]) - margin if len(out) < len(targets) else -np.inf

        for t, frame in self._timed_frames(skip_before):
            self._note_orientation(frame)
            if prev is None and t > targets[0] + eps and seek_sec > 0:
                raise _LandedLate
            if t < latest - eps:
                raise _Reordered
            latest = max(latest, t)
            while len(out) < len(targets) and t > targets[len(out)] + eps:
                out.append(prev or (t, frame))
            if len(out) == len(targets):
                return out
            prev = (t, frame)
            if exact_last and len(out) == len(targets) - 1 and abs(t - targets[-1]) <= eps:
                # Without reordering, no later frame can be shown at the last target: stop here
                # instead of decoding one more frame to find out (all-keyframe files: half the work).
                out.append(prev)
                return out
        if prev is None:
            if seek_sec > 0:
                raise _LandedLate  # seeked past the readable data of a damaged file
            detail = f" ({self._decode_error})" if self._decode_error else ""
            raise VideoReadError(self.path, f"no decodable frames{detail}")
        tolerance = max(3 * self._frame_sec, 0.1)
        wanted = float(targets[-1])
        if wanted > prev[0] + tolerance and prev[0] < self.duration - tolerance:
            detail = f" ({self._decode_error})" if self._decode_error else ""
            raise VideoReadError(
                self.path, f"truncated or corrupt: decoding stopped at {prev[0]:.2f} s of {self.duration:.2f} s{detail}"
            )
        out.extend([prev] * (len(targets) - len(out)))
        return out

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        if self.luma:  # the plane as stored: no range conversion that would alter the values
            plane = frame.planes[0]
            return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width, None].copy()
        orientation = self._orientation or Orientation()
        if self.short_side:
            width, height = orientation.display_size(frame.width, frame.height)
            scale = self.short_side / min(width, height)
            size = (max(round(width * scale), 1), max(round(height * scale), 1))
            coded_w, coded_h = orientation.display_size(*size)  # back to decoded orientation
            image = frame.to_ndarray(format="rgb24", width=coded_w, height=coded_h, interpolation="AREA", threads=1)
        else:
            # One swscale thread: a pool per converted frame costs more than it saves.
            image = frame.to_ndarray(format="rgb24", threads=1)
        return orientation.apply(image)


def _split_groups(targets: np.ndarray, max_gap: float) -> list[np.ndarray]:
    """Sorted times split where consecutive ones are more than ``max_gap`` apart."""
    cuts = np.flatnonzero(np.diff(targets) > max_gap) + 1
    return np.split(targets, cuts)


def read_video(path: str | os.PathLike, max_frames: int | None = None, short_side: int | None = None) -> DecodedVideo:
    """Decode all frames (or the first ``max_frames``) as upright RGB uint8, with FFmpeg's threads.

    A truncated file yields the frames before the damage; VideoReadError if none.
    """
    with VideoReader(path, short_side=short_side, threads=0) as reader:
        return reader.decode_all(max_frames)
