"""File-system helpers shared by the adapters: finding videos and annotation files."""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.records import VideoRecord
from modist.data.video import VIDEO_EXTENSIONS
from modist.errors import DataError

# Split names people use for the same thing; adapters map them onto their dataset's own.
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "validation", "validate", "valid"),
    "test": ("test", "testing"),
}


def canonical_split(split: str) -> str:
    """``train``, ``val`` or ``test`` for any common spelling; other names pass through."""
    low = split.lower()
    for name, spellings in SPLIT_ALIASES.items():
        if low in spellings:
            return name
    return low


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def find_videos(root: Path) -> list[Path]:
    """Video files under ``root`` (recursive, sorted, hidden files and folders skipped)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / f for f in sorted(files) if is_video(Path(f)))
    return found


def videos_by_stem(root: Path) -> dict[str, Path]:
    """File name without extension -> path, for every video under ``root`` (first one wins)."""
    index: dict[str, Path] = {}
    for path in find_videos(root):
        index.setdefault(path.stem, path)
    return index


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found (expected a folder)")
    return path.resolve()


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first candidate that is a file, or DataError naming the first (where it should be)."""
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates[1:3])
    also = f" (also tried {tried})" if tried else ""
    raise DataError(f"{candidates[0]}: {what} not found{also}")


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines; the official lists mix CRLF and LF line ends."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_fold(fold: int, dataset: str) -> int:
    if fold not in (1, 2, 3):
        raise DataError(f"{dataset}: fold must be 1, 2 or 3, got {fold}")
    return fold


def locate(root: Path, relative: str) -> Path | None:
    """``root/relative``, or the same name with another video extension (re-encoded copies)."""
    path = root / relative
    if path.is_file():
        return path
    for ext in VIDEO_EXTENSIONS:
        other = path.with_suffix(ext)
        if other.is_file():
            return other
    return None


def pick_video_root(candidates: list[Path], relative: list[str], sample: int = 20) -> Path:
    """The candidate folder holding most of the first ``sample`` listed videos (first on ties)."""
    existing = [c for c in dict.fromkeys(candidates) if c.is_dir()]
    if not existing:
        return candidates[0]
    probe = relative[:sample]
    hits = [sum(locate(c, r) is not None for r in probe) for c in existing]
    return existing[hits.index(max(hits))]


def located_records(videos: Path, entries: list[tuple[str, int | None]]) -> tuple[list[VideoRecord], list[str]]:
    """Records of the ``(relative path, label)`` entries found under ``videos``, and the missing ones."""
    records, missing = [], []
    for relative, label in entries:
        path = locate(videos, relative)
        if path is None:
            missing.append(relative)
        else:
            records.append(VideoRecord(str(path.resolve()), label))
    return records, missing
