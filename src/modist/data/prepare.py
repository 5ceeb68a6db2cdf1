"""``modist prepare``: a one-time transcode of a dataset into a form that is cheap to train from.

Each video (or a record's segment) is decoded upright with PyAV and re-encoded with a short,
fixed keyframe interval, a chosen short side and frame rate, H.264 in yuv420p by default.
A random seek then decodes at most ``gop`` frames of lead-in instead of most of the clip.

Output folder::

    DIR/prepared.json                 the settings (a rerun with other settings is refused)
    DIR/videos/<i>_<name>.mp4         one file per record
    DIR/motion/<i>_<name>.mp4         with a motion writer (``modist prepare --config RECIPE``): the
                                      recipe's encoded motion input, one grey frame per frame
                                      (:mod:`modist.data.prepared`)
    DIR/parts/manifest.shard<k>of<n>.csv   each shard's rows
    DIR/manifest.csv                  all shards' rows so far: path, label, label_name, split

``DIR`` is a dataset spec: a folder with ``prepared.json`` and ``manifest.csv`` is read by the
manifest adapter (``data.dataset=DIR``). Videos are split over shards by position
(``records[shard::num_shards]``, shard and count from the caller or torchrun's ``RANK`` /
``WORLD_SIZE``); a video whose outputs exist is kept, so an interrupted run resumes. Every
output is written under a temporary name and renamed when complete, the motion input before
the RGB copy: a video counts as done only when both are there. An unreadable video is counted
and reported, never fatal.

The motion input is computed from the frames the RGB copy encodes (upright, resized, before
the lossy encoding), by a :class:`FrameSink` handed in from above (the data layer does not
estimate flow: :class:`modist.flow.motion_input.MotionInputWriter`).

Example:
    >>> import tempfile, numpy as np
    >>> from modist.data.video import write_video, read_video
    >>> src = os.path.join(tempfile.mkdtemp(), "a.mp4")
    >>> write_video(src, np.zeros((20, 48, 64, 3), np.uint8), fps=10)
    >>> out = tempfile.mkdtemp()
    >>> summary = prepare_records([VideoRecord(src, 1)], out, PrepareSettings(short_side=32, gop=4), class_names=[])
    >>> summary.done, read_video(os.path.join(out, summary.rows[0]["path"])).frames.shape
    (1, (20, 32, 42, 3))
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from modist.atomic import write_text
from modist.data.prepared import MOTION_DIR
from modist.data.records import VideoRecord
from modist.data.timing import StageTimer, stage
from modist.data.video import VideoReader, open_video
from modist.errors import ConfigError, VideoReadError

MANIFEST_FIELDS = ("path", "label", "label_name", "split", "source")


@dataclass(frozen=True)
class PrepareSettings:
    short_side: int = 256  # 0: keep the decoded size (rounded down to even)
    fps: float = 0.0  # 0: keep the source's frame rate
    gop: int = 16  # frames between keyframes (fixed: no scene-cut keyframes)
    bframes: int = 0  # B-frames between reference frames
    codec: str = "libx264"
    crf: int = 23
    preset: str = "veryfast"  # x264 speed preset: encoding speed vs file size
    pix_fmt: str = "yuv420p"

    def check(self) -> None:
        if self.short_side < 0 or self.fps < 0 or self.gop < 1 or self.bframes < 0:
            raise ConfigError(f"invalid prepare settings {self}: need short_side, fps, bframes >= 0 and gop >= 1")
        if self.codec not in av.codecs_available:
            raise ConfigError(f"codec {self.codec!r} is not in this PyAV build")


class FrameSink(Protocol):
    """Writes something derived from every frame the RGB copy encodes, beside it (the motion input).

    One video at a time: :meth:`begin`, :meth:`add` for each frame in order, then :meth:`end`
    (the file complete under its name) or :meth:`abort` (nothing left under its name).
    """

    #: recorded in ``prepared.json`` under ``"motion"``; a rerun into the same folder must match
    settings: dict[str, Any]

    def begin(self, path: Path, fps: Fraction, num_frames: int, width: int, height: int,
              timer: StageTimer | None = None) -> None: ...

    def add(self, image: np.ndarray) -> None: ...

    def end(self) -> None: ...

    def abort(self) -> None: ...


@dataclass
class PrepareSummary:
    done: int = 0
    kept: int = 0  # already prepared by an earlier run
    failed: int = 0
    seconds: float = 0.0  # video seconds written
    bytes: int = 0  # everything written: RGB copies and motion input
    motion_bytes: int = 0  # the motion input alone
    done_seconds: float = 0.0  # video seconds prepared by this run (not kept)
    cpu_seconds: float = 0.0  # CPU of this process on the videos prepared by this run
    wall_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_video_second(self) -> float:
        """CPU seconds per second of video prepared (this run's videos only)."""
        return self.cpu_seconds / self.done_seconds if self.done_seconds else 0.0


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def transcode(record: VideoRecord, out_path: Path, settings: PrepareSettings, *, sink: FrameSink | None = None,
              sink_path: Path | None = None, timer: StageTimer | None = None) -> float:
    """Re-encode ``record`` (its segment) to ``out_path``; returns the video seconds written.

    ``sink`` (with ``sink_path``) gets every frame encoded and completes its file before the
    RGB copy is renamed into place. ``timer`` gets the RGB copy's CPU under ``"rgb"``.
    """
    with stage(timer, "rgb"):
        reader = VideoReader(record.path)
    with reader:
        info = reader.info
        src_fps = info.fps if info.fps > 0 else 30.0
        fps = settings.fps or src_fps
        lo = record.start_sec or 0.0
        hi = min(record.end_sec if record.end_sec is not None else info.duration, info.duration) or info.duration
        if settings.short_side:
            scale = settings.short_side / min(info.width, info.height)
        else:
            scale = 1.0
        width, height = _even(info.width * scale), _even(info.height * scale)
        count = max(int(np.floor((hi - lo) * fps + 1e-6)), 1)
        times = lo + np.arange(count) / fps
        tmp = out_path.with_name(out_path.name + ".part")
        rate = Fraction(fps).limit_denominator(1001)
        if sink is not None:
            sink.begin(sink_path, rate, count, width, height, timer)
        try:
            _encode(reader, tmp, settings, rate, times, (width, height), sink, timer)
            if sink is not None:
                sink.end()
        except BaseException:
            if sink is not None:
                sink.abort()
            tmp.unlink(missing_ok=True)
            raise
    open_video(tmp).close()  # the result opens
    os.replace(tmp, out_path)
    return count / fps


def _encode(reader: VideoReader, tmp: Path, settings: PrepareSettings, rate: Fraction, times: np.ndarray,
            size: tuple[int, int], sink: FrameSink | None, timer: StageTimer | None) -> None:
    """The frames on screen at ``times``, resized to ``size`` (W, H), encoded into ``tmp`` and handed to ``sink``."""
    width, height = size
    fps, count = float(rate), len(times)
    with stage(timer, "rgb"):
        out = av.open(str(tmp), "w", format="mp4")
    with out:
        with stage(timer, "rgb"):
            stream = out.add_stream(settings.codec, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, settings.pix_fmt
            options = {"g": str(settings.gop), "keyint_min": str(settings.gop), "bf": str(settings.bframes),
                       "sc_threshold": "0"}
            if settings.codec == "libx264":
                options.update(crf=str(settings.crf), preset=settings.preset,
                               **{"x264-params": f"keyint={settings.gop}:min-keyint={settings.gop}:scenecut=0:"
                                                 f"bframes={settings.bframes}"})
            stream.options = options
            stream.codec_context.thread_count = 1
        # Frames on screen at each output time, read in runs of a second.
        run = max(int(fps), 1)
        for begin in range(0, count, run):
            with stage(timer, "rgb"):
                chunk = reader.frames_at(times[begin:begin + run]).frames
            for image in chunk:
                with stage(timer, "rgb"):
                    if image.shape[:2] != (height, width):
                        import cv2

                        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                    out.mux(stream.encode(frame))
                if sink is not None:
                    sink.add(image)
        with stage(timer, "rgb"):
            out.mux(stream.encode(None))


def output_name(index: int, record: VideoRecord) -> str:
    stem = Path(record.path).stem
    return f"{index:07d}_{stem}.mp4"


def _check_settings(out: Path, settings: PrepareSettings, motion: dict[str, Any] | None = None) -> None:
    marker = out / "prepared.json"
    wanted: dict[str, Any] = asdict(settings)
    if motion is not None:
        wanted["motion"] = dict(motion)
    if marker.is_file():
        found = json.loads(marker.read_text())
        if found != wanted:
            raise ConfigError(f"{out} was prepared with other settings {found}; choose another output folder")
    else:
        write_text(marker, json.dumps(wanted, indent=2) + "\n")


def prepare_records(records: list[VideoRecord], out: str | os.PathLike, settings: PrepareSettings, *,
                    class_names: list[str], split: str = "train", shard: int = 0, num_shards: int = 1,
                    progress: bool = False, motion: FrameSink | None = None,
                    timer: StageTimer | None = None) -> PrepareSummary:
    """Transcode this shard's records into ``out`` and update the manifest (see the module docstring).

    ``motion`` writes each video's motion input to ``out/motion/<name>.mp4``; ``timer`` gets the
    CPU by stage (``"rgb"``, and the sink's own).
    """
    settings.check()
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    if motion is not None:
        (out / MOTION_DIR).mkdir(exist_ok=True)
    _check_settings(out, settings, motion.settings if motion is not None else None)
    summary = PrepareSummary()
    wall = time.perf_counter()
    mine = list(enumerate(records))[shard::num_shards]
    iterator = mine
    if progress:
        from tqdm import tqdm

        iterator = tqdm(mine, desc="prepare", unit="video")
    for index, record in iterator:
        name = output_name(index, record)
        target = out / "videos" / name
        motion_target = out / MOTION_DIR / name if motion is not None else None
        try:
            if target.is_file() and (motion_target is None or motion_target.is_file()):
                with VideoReader(target) as reader:
                    seconds = reader.duration
                summary.kept += 1
            else:
                if motion_target is not None:  # a killed run's temporary file of this video (only its shard writes it)
                    for stale in motion_target.parent.glob(f".{motion_target.stem}.*.tmp{motion_target.suffix}"):
                        stale.unlink(missing_ok=True)
                cpu = time.process_time()
                seconds = transcode(record, target, settings, sink=motion, sink_path=motion_target, timer=timer)
                summary.cpu_seconds += time.process_time() - cpu
                summary.done += 1
                summary.done_seconds += seconds
        except (VideoReadError, av.FFmpegError, OSError) as exc:
            summary.failed += 1
            summary.errors.append(f"{record.path}: {exc}")
            continue
        summary.seconds += seconds
        summary.bytes += target.stat().st_size
        if motion_target is not None:
            summary.motion_bytes += motion_target.stat().st_size
            summary.bytes += motion_target.stat().st_size
        label = "" if record.label is None else int(record.label)
        label_name = class_names[record.label] if record.label is not None and record.label < len(class_names) else ""
        summary.rows.append({"path": f"videos/{name}", "label": label, "label_name": label_name, "split": split,
                             "source": record.path})
    part = out / "parts" / f"manifest.shard{shard}of{num_shards}.csv"
    write_text(part, _csv(summary.rows))
    merge_manifest(out)
    summary.wall_seconds = time.perf_counter() - wall
    return summary


def _csv(rows: list[dict]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def merge_manifest(out: str | os.PathLike) -> Path:
    """``manifest.csv`` from every shard's part written so far (rewritten atomically)."""
    out = Path(out)
    rows: list[dict] = []
    for part in sorted((out / "parts").glob("manifest.shard*.csv")):
        with open(part, newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    rows.sort(key=lambda row: row["path"])
    if rows and all(row["label"] == "" for row in rows):
        rows = [{**row, "label": "", "label_name": ""} for row in rows]
    path = out / "manifest.csv"
    write_text(path, _csv(rows))
    return path


__all__ = ["FrameSink", "PrepareSettings", "PrepareSummary", "merge_manifest", "prepare_records", "transcode"]
