"""A folder of videos, optionally one sub-folder per class.

Layouts::

    ROOT/*.mp4                      unlabeled (sub-folders are searched too)
    ROOT/<class>/**/*.mp4           labeled: label = index of <class> in sorted order
    ROOT/<split>/<class>/*.mp4      the same, per split, when ROOT/<split> exists

Only video files count (.mp4 .avi .mkv .webm .mov .m4v); licences, notes and hidden
files are ignored. With ``class_folders=None`` the layout is detected: labeled when no
video lies directly in ROOT.

Split folders are ``train``, ``val`` and ``test`` or a common spelling of them
(``training``, ``validation``, ``testing``, ...). A folder with split folders but none for
the split asked for is an error naming those it has. A folder without split folders has no
splits: every split asked for gives all its videos, and the dataset says so
(``unsplit=True``; evaluation then holds out a test set of its own).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("run/a.mp4", "jump/b.avi", "jump/notes.txt"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     (root / name).touch()
    >>> ds = load_folder(root)
    >>> ds.class_names, ds.labels, ds.unsplit
    (['jump', 'run'], [0, 1], True)
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.adapters.files import SPLIT_ALIASES, canonical_split, find_videos, is_video, require_dir
from modist.data.records import VideoDataset, VideoRecord
from modist.data.video import VIDEO_EXTENSIONS
from modist.errors import DataError


def split_folders(root: Path) -> list[Path]:
    """The sub-folders of ``root`` named as a split (``train``, ``Validation``, ``testing``, ...)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and canonical_split(p.name) in SPLIT_ALIASES)


def load_folder(root: str | os.PathLike, split: str | None = None, class_folders: bool | None = None) -> VideoDataset:
    root = require_dir(Path(root), "video folder")
    unsplit = True
    if split:
        splits = split_folders(root)
        chosen = [root / split] if (root / split).is_dir() else [
            p for p in splits if canonical_split(p.name) == canonical_split(split)]
        if chosen:
            root, unsplit = chosen[0], False
        elif splits:  # class folders beside split folders would be read as classes: refuse
            raise DataError(f"{root}: no {split!r} folder (split folders: {', '.join(p.name for p in splits)})")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_folders is None:
        class_folders = bool(subdirs) and not any(is_video(p) for p in root.iterdir() if p.is_file())
    if class_folders:
        per_class = [(d.name, find_videos(d)) for d in subdirs]
        per_class = [(name, videos) for name, videos in per_class if videos]
        class_names = [name for name, _ in per_class]
        records = [VideoRecord(str(v), label) for label, (_, videos) in enumerate(per_class) for v in videos]
    else:
        class_names = []
        records = [VideoRecord(str(v)) for v in find_videos(root)]
    if not records:
        raise DataError(f"{root}: no video files ({' '.join(VIDEO_EXTENSIONS)})")
    return VideoDataset(records, class_names, name=f"folder:{root.name}", unsplit=unsplit)
