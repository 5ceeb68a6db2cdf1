"""UCF101 with the official train/test lists (``ucfTrainTestlist``).

``classInd.txt`` lines ``1 ApplyEyeMakeup`` (1-based; labels here are 0-based),
``trainlist0N.txt`` lines ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`` and
``testlist0N.txt`` lines without the label, N = fold 1-3. The lists are looked for in
ROOT and ROOT/ucfTrainTestlist; videos (``<Class>/<video>.avi``, or the same name
re-encoded to another extension) in ROOT, ROOT/UCF-101 or next to the lists' folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.adapters.files import (
    canonical_split,
    check_fold,
    first_existing,
    located_records,
    pick_video_root,
    read_lines,
)
from modist.data.records import VideoDataset
from modist.errors import DataError


def annotation_dir(root: Path) -> Path:
    """The folder holding classInd.txt: ROOT or ROOT/ucfTrainTestlist."""
    found = first_existing([root / "ucfTrainTestlist" / "classInd.txt", root / "classInd.txt"], "UCF101 classInd.txt")
    return found.parent


def read_class_index(path: Path) -> list[str]:
    names: dict[int, str] = {}
    for number, line in enumerate(read_lines(path), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{path}: line {number}: expected '<index> <ClassName>', got {line!r}")
        names[int(parts[0])] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise DataError(f"{path}: class indices must run 1..{len(names)}")
    return [names[i] for i in range(1, len(names) + 1)]


def load_ucf101(root: str | os.PathLike, split: str = "train", fold: int = 1) -> VideoDataset:
    root = Path(root)
    check_fold(fold, "UCF101")
    lists = annotation_dir(root)
    class_names = read_class_index(lists / "classInd.txt")
    by_lower = {name.lower(): i for i, name in enumerate(class_names)}
    kind = canonical_split(split)
    if kind not in ("train", "test", "val"):
        raise DataError(f"UCF101: split must be train or test, got {split!r}")
    list_path = lists / f"{'train' if kind == 'train' else 'test'}list{fold:02d}.txt"
    if not list_path.is_file():
        raise DataError(f"{list_path}: UCF101 split list not found")
    entries: list[tuple[str, int]] = []
    for number, line in enumerate(read_lines(list_path), start=1):
        parts = line.split()
        relative = parts[0]
        if len(parts) > 1:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(class_names):
                raise DataError(f"{list_path}: line {number}: bad class index {parts[1]!r}")
            label = int(parts[1]) - 1
        else:
            folder = relative.split("/")[0].lower()
            if folder not in by_lower:
                raise DataError(f"{list_path}: line {number}: class folder {folder!r} not in classInd.txt")
            label = by_lower[folder]
        entries.append((relative, label))
    videos = pick_video_root([root, root / "UCF-101", root / "UCF101", lists.parent, lists.parent / "UCF-101"],
                             [r for r, _ in entries])
    records, missing = located_records(videos, entries)
    return VideoDataset(records, class_names, name=f"ucf101:{kind}{fold}", missing=missing)
