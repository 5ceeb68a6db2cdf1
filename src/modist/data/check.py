"""Scan a dataset before training: which videos open and decode, and what they look like.

Each video is probed and its first and last frames are decoded (a truncated file fails
the last one); ``full=True`` decodes every frame and compares the count with the
container's. The report has counts, min/median/max of duration, fps, size and frame
count, every unreadable file with its reason, and the files the annotations list but the
disk lacks.

Example:
    >>> import os, tempfile
    >>> from modist.data.adapters import resolve_dataset
    >>> from modist.data.video import write_video
    >>> root = tempfile.mkdtemp()
    >>> write_video(os.path.join(root, "ok.mp4"), np.zeros((10, 32, 32, 3), np.uint8), fps=10)
    >>> open(os.path.join(root, "bad.mp4"), "wb").close()
    >>> report = check_dataset(resolve_dataset(root), progress=False)
    >>> print(report.format())
    dataset folder:...: 2 videos, 0 classes (probe + first/last frame)
    readable 1/2, unreadable 1, missing 0
      duration s     min      1.00  median      1.00  max      1.00
      ...
    unreadable: .../bad.mp4: file is empty
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
from tqdm import tqdm

from modist.data.records import VideoDataset
from modist.data.video import VideoReader
from modist.errors import VideoReadError

SUMMARY_FIELDS = ("duration", "fps", "width", "height", "num_frames")
# Decoded and container frame counts may differ by this much before a warning: AVI
# headers count dropped/placeholder frames, Matroska has only a duration-based estimate.
COUNT_TOLERANCE = 0.02


@dataclass
class FileCheck:
    path: str
    ok: bool
    reason: str | None = None
    num_frames: int | None = None
    fps: float | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    rotation: int = 0
    decoded_frames: int | None = None
    warning: str | None = None


@dataclass
class CheckReport:
    dataset: str
    num_classes: int
    files: list[FileCheck]
    missing: list[str] = field(default_factory=list)
    full: bool = False

    @property
    def unreadable(self) -> list[FileCheck]:
        return [f for f in self.files if not f.ok]

    @property
    def all_readable(self) -> bool:
        return not self.unreadable and not self.missing

    def summaries(self) -> dict[str, dict[str, float]]:
        """min / median / max of each of SUMMARY_FIELDS over the readable files."""
        out = {}
        for name in SUMMARY_FIELDS:
            values = [getattr(f, name) for f in self.files if f.ok and getattr(f, name) is not None]
            if values:
                out[name] = {"min": float(np.min(values)), "median": float(np.median(values)),
                             "max": float(np.max(values))}
        return out

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "num_classes": self.num_classes,
            "videos": len(self.files),
            "readable": len(self.files) - len(self.unreadable),
            "unreadable": [{"path": f.path, "reason": f.reason} for f in self.unreadable],
            "missing": list(self.missing),
            "full_decode": self.full,
            "summaries": self.summaries(),
            "codecs": dict(Counter(f.codec for f in self.files if f.ok)),
            "warnings": [{"path": f.path, "warning": f.warning} for f in self.files if f.warning],
            "files": [asdict(f) for f in self.files],
        }

    def format(self, max_listed: int = 20) -> str:
        """Human-readable report (lists of missing files are cut at ``max_listed``)."""
        readable = len(self.files) - len(self.unreadable)
        lines = [
            f"dataset {self.dataset}: {counted(len(self.files), 'video')}, {counted(self.num_classes, 'class')}"
            f"{' (full decode)' if self.full else ' (probe + first/last frame)'}",
            f"readable {readable}/{len(self.files)}, unreadable {len(self.unreadable)}, missing {len(self.missing)}",
        ]
        units = {"duration": "s", "fps": "", "width": "px", "height": "px", "num_frames": ""}
        for name, s in self.summaries().items():
            label = f"{name} {units[name]}"
            lines.append(f"  {label:<14} min {s['min']:9.2f}  median {s['median']:9.2f}  max {s['max']:9.2f}")
        codecs = Counter(f.codec for f in self.files if f.ok)
        if codecs:
            lines.append("  codecs: " + ", ".join(f"{c} {n}" for c, n in codecs.most_common()))
        rotated = sum(1 for f in self.files if f.ok and f.rotation)
        if rotated:
            lines.append(f"  rotated (display matrix applied): {rotated}")
        for f in self.files:
            if f.warning:
                lines.append(f"warning: {f.path}: {f.warning}")
        for f in self.unreadable:
            lines.append(f"unreadable: {f.path}: {f.reason}")
        for name in self.missing[:max_listed]:
            lines.append(f"missing: {name}")
        if len(self.missing) > max_listed:
            lines.append(f"missing: ... and {len(self.missing) - max_listed} more (all in the JSON report)")
        return "\n".join(lines)


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1.

    Example:
        >>> counted(1, "class"), counted(2, "class"), counted(0, "video"), counted(1, "video")
        ('1 class', '2 classes', '0 videos', '1 video')
    """
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith(("s", "x", "ch", "sh")) else f"{n} {noun}s"


def check_video(path: str, full: bool = False) -> FileCheck:
    """Probe ``path`` and decode its first and last frames (every frame if ``full``)."""
    try:
        with VideoReader(path) as reader:
            info = reader.info
            result = FileCheck(path, True, None, info.num_frames, info.fps, info.duration, info.width,
                               info.height, info.codec, info.rotation)
            last = max(info.duration - 1.0 / info.fps, 0.0) if info.fps > 0 else info.duration
            reader.frames_at([0.0, last])
            if full:
                scan = reader.scan()
                result.decoded_frames = scan.num_frames
                if scan.error:
                    raise VideoReadError(
                        path, f"decoding failed at {scan.last_time:.2f} s of {info.duration:.2f} s ({scan.error})"
                    )
                if abs(scan.num_frames - info.num_frames) > max(2, COUNT_TOLERANCE * info.num_frames):
                    what = "estimates" if info.num_frames_estimated else "says"
                    result.warning = (
                        f"decoded {scan.num_frames} frames, the container {what} {info.num_frames}"
                        " (variable frame rate or dropped frames)"
                    )
            return result
    except VideoReadError as exc:
        return FileCheck(path, False, exc.reason)


def check_dataset(dataset: VideoDataset, full: bool = False, workers: int = 0, progress: bool = True) -> CheckReport:
    """Check every record's video (deduplicated) with a progress bar; ``workers`` processes."""
    paths = list(dict.fromkeys(r.path for r in dataset.records))
    check = partial(check_video, full=full)
    bar = tqdm(total=len(paths), desc="checking", unit="video", disable=not progress)
    files: list[FileCheck] = []
    try:
        if workers > 0:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for result in pool.imap(check, paths, chunksize=4):
                    files.append(result)
                    bar.update()
        else:
            for path in paths:
                files.append(check(path))
                bar.update()
    finally:
        bar.close()
    return CheckReport(dataset.name, len(dataset.class_names), files, list(dataset.missing), full)
