"""Kinetics-400/600/700 from the official annotation CSVs.

Annotations: ``label,youtube_id,time_start,time_end,split[,is_cc]`` (the test CSV of
some releases has no label), found as ``ROOT/{split}.csv``, ``ROOT/annotations/{split}.csv``
or ``ROOT/*_{split}.csv``, with ``val`` also spelled ``validate``/``validation``; ROOT may
also be the CSV itself. Videos
are located by file name anywhere under ROOT: trimmed clips
``{youtube_id}_{time_start:06d}_{time_end:06d}.mp4`` (in ``split/label/`` folders or flat),
else the full download ``{youtube_id}.mp4`` with the segment set on the record. Class
indices follow the sorted labels of the train CSV (so every split agrees). Clips not on
disk (YouTube removals are common) are listed in ``missing``.
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.data.adapters.files import SPLIT_ALIASES, canonical_split, first_existing, videos_by_stem
from modist.data.adapters.manifest import read_rows
from modist.data.records import VideoDataset, VideoRecord
from modist.errors import DataError

COLUMNS = ("youtube_id", "time_start", "time_end")


def annotation_candidates(root: Path, split: str) -> list[Path]:
    names = SPLIT_ALIASES.get(canonical_split(split), (split,))
    folders = (root, root / "annotations")
    found = [folder / f"{name}.csv" for name in names for folder in folders]
    for folder in folders:
        for name in names:
            found.extend(sorted(folder.glob(f"*_{name}.csv")) if folder.is_dir() else [])
    return found


def trimmed_name(youtube_id: str, start: int, end: int) -> str:
    return f"{youtube_id}_{start:06d}_{end:06d}"


def _segment(row: dict, path: Path, number: int) -> tuple[int, int]:
    try:
        return int(float(row["time_start"])), int(float(row["time_end"]))
    except (TypeError, ValueError):
        raise DataError(f"{path}: line {number}: time_start/time_end must be numbers") from None


def load_kinetics(root: str | os.PathLike, split: str = "train") -> VideoDataset:
    root = Path(root)
    if root.suffix.lower() == ".csv":
        # Videos live beside the CSV, or beside its ``annotations`` folder (CVDF layout).
        annotations = root
        root = root.parent.parent if root.parent.name == "annotations" else root.parent
    else:
        if not root.is_dir():
            raise DataError(f"{root}: Kinetics folder not found")
        annotations = first_existing(annotation_candidates(root, split), f"Kinetics {split} annotations")
    rows = read_rows(annotations, required="youtube_id")
    if rows and any(c not in rows[0][1] for c in COLUMNS):
        absent = next(c for c in COLUMNS if c not in rows[0][1])
        expected = "label,youtube_id,time_start,time_end,split"
        raise DataError(f"{annotations}: missing column {absent!r} (expected {expected})")
    train = [p for p in annotation_candidates(annotations.parent, "train") if p.is_file()]
    label_rows = read_rows(train[0], required="youtube_id") if train else rows
    class_names = sorted({str(r["label"]).strip() for _, r in label_rows if str(r.get("label") or "").strip()})
    index = {name: i for i, name in enumerate(class_names)}
    videos = videos_by_stem(root)
    records, missing = [], []
    for number, row in rows:
        youtube_id = str(row["youtube_id"]).strip()
        start, end = _segment(row, annotations, number)
        name = str(row.get("label") or "").strip()
        if name and name not in index:
            raise DataError(f"{annotations}: line {number}: label {name!r} is not a class of {train[0].name}")
        label = index[name] if name else None
        clip = trimmed_name(youtube_id, start, end)
        if clip in videos:
            records.append(VideoRecord(str(videos[clip].resolve()), label))
        elif youtube_id in videos:
            records.append(VideoRecord(str(videos[youtube_id].resolve()), label, float(start), float(end)))
        else:
            missing.append(f"{clip}.mp4")
    return VideoDataset(records, class_names, name=f"kinetics:{split}", missing=missing)
