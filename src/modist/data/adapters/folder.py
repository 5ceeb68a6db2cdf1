"""A folder of videos, optionally one sub-folder per class.

Layouts::

    ROOT/*.mp4                      unlabeled (sub-folders are searched too)
    ROOT/<class>/**/*.mp4           labeled: label = index of <class> in sorted order
    ROOT/<split>/<class>/*.mp4      the same, per split, when ROOT/<split> exists

Only video files count (.mp4 .avi .mkv .webm .mov .m4v); licences, notes and hidden
files are ignored. With ``class_folders=None`` the layout is detected: labeled when no
video lies directly in ROOT.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("run/a.mp4", "jump/b.avi", "jump/notes.txt"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     (root / name).touch()
    >>> ds = load_folder(root)
    >>> ds.class_names, ds.labels
    (['jump', 'run'], [0, 1])
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.adapters.files import find_videos, is_video, require_dir
from modist.data.records import VideoDataset, VideoRecord
from modist.data.video import VIDEO_EXTENSIONS
from modist.errors import DataError


def load_folder(root: str | os.PathLike, split: str | None = None, class_folders: bool | None = None) -> VideoDataset:
    root = require_dir(Path(root), "video folder")
    if split and (root / split).is_dir():
        root = root / split
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
    return VideoDataset(records, class_names, name=f"folder:{root.name}")
