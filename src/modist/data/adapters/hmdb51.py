"""HMDB51 with the official three splits (``testTrainMulti_7030_splits``).

One file per class and fold, ``<class>_test_split<N>.txt``, lines ``<video>.avi <id>``
with id 1 = train, 2 = test, 0 = unused. Class indices follow the sorted class names.
The split files are looked for in ROOT and its immediate sub-folders; videos
(``<class>/<video>.avi``, or re-encoded with another extension) in ROOT, ROOT/hmdb51_org,
ROOT/videos or next to the split files' folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.adapters.files import canonical_split, check_fold, located_records, pick_video_root, read_lines
from modist.data.records import VideoDataset
from modist.errors import DataError

SPLIT_IDS = {"train": "1", "test": "2", "val": "2"}


def splits_dir(root: Path) -> Path | None:
    """The folder holding ``*_test_split1.txt``: ROOT or one of its sub-folders."""
    if any(root.glob("*_test_split1.txt")):
        return root
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if any(sub.glob("*_test_split1.txt")):
                return sub
    return None


def load_hmdb51(root: str | os.PathLike, split: str = "train", fold: int = 1) -> VideoDataset:
    root = Path(root)
    check_fold(fold, "HMDB51")
    kind = canonical_split(split)
    if kind not in SPLIT_IDS:
        raise DataError(f"HMDB51: split must be train or test, got {split!r}")
    folder = splits_dir(root)
    if folder is None:
        expected = root / "testTrainMulti_7030_splits"
        raise DataError(f"{expected}: HMDB51 split files (<class>_test_split1.txt) not found")
    suffix = f"_test_split{fold}.txt"
    files = sorted(folder.glob(f"*{suffix}"))
    if not files:
        raise DataError(f"{folder}: no HMDB51 split files *{suffix}")
    class_names = [f.name[: -len(suffix)] for f in files]
    entries: list[tuple[str, int]] = []
    for label, (name, path) in enumerate(zip(class_names, files)):
        for number, line in enumerate(read_lines(path), start=1):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{path}: line {number}: expected '<video>.avi 0|1|2', got {line!r}")
            if parts[1] == SPLIT_IDS[kind]:
                entries.append((f"{name}/{parts[0]}", label))
    videos = pick_video_root([root, root / "hmdb51_org", root / "videos", folder.parent], [r for r, _ in entries])
    records, missing = located_records(videos, entries)
    return VideoDataset(records, class_names, name=f"hmdb51:{kind}{fold}", missing=missing)
