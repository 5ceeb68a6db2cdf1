"""The synthetic motion benchmark written by ``modist synth``.

``ROOT/manifest.csv`` has columns ``path,label,label_name,split,background,mask_path``
(paths relative to ROOT); ``split`` selects rows. Class names come from ``synth.json``
(``class_names``) when present, else from the ``label_name`` column.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from modist.data.adapters.files import canonical_split
from modist.data.adapters.manifest import read_rows
from modist.data.records import VideoDataset, VideoRecord
from modist.errors import DataError

COLUMNS = ("path", "label", "label_name", "split")


def _class_names(root: Path, rows: list[tuple[int, dict]], manifest: Path) -> list[str]:
    info_path = root / "synth.json"
    if info_path.is_file():
        try:
            names = json.loads(info_path.read_text()).get("class_names")
        except (ValueError, AttributeError):
            raise DataError(f"{info_path}: not a JSON object") from None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    by_label: dict[int, str] = {}
    for number, row in rows:
        by_label[_label(row, manifest, number)] = row["label_name"]
    return [by_label.get(i, str(i)) for i in range(max(by_label, default=-1) + 1)]


def _label(row: dict, manifest: Path, number: int) -> int:
    try:
        return int(row["label"])
    except (TypeError, ValueError):
        raise DataError(f"{manifest}: line {number}: label must be an integer, got {row['label']!r}") from None


def load_synth(root: str | os.PathLike, split: str = "train") -> VideoDataset:
    root = Path(root)
    manifest = root if root.suffix == ".csv" else root / "manifest.csv"
    root = manifest.parent.resolve()
    rows = read_rows(manifest)
    if rows and any(c not in rows[0][1] for c in COLUMNS):
        absent = next(c for c in COLUMNS if c not in rows[0][1])
        raise DataError(f"{manifest}: missing column {absent!r} (expected {','.join(COLUMNS)},...)")
    names = _class_names(root, rows, manifest)
    wanted = canonical_split(split)
    chosen = [(n, r) for n, r in rows if canonical_split(r["split"]) == wanted]
    if rows and not chosen:
        have = sorted({r["split"] for _, r in rows})
        raise DataError(f"{manifest}: no rows with split {split!r} (splits: {', '.join(have)})")
    records, missing = [], []
    for number, row in chosen:
        label = _label(row, manifest, number)
        if not 0 <= label < len(names):
            raise DataError(f"{manifest}: line {number}: label {label} outside the {len(names)} classes")
        video = root / row["path"]
        if video.is_file():
            records.append(VideoRecord(str(video), label))
        else:
            missing.append(str(video))
    return VideoDataset(records, names, name=f"synth:{split}", missing=missing)
