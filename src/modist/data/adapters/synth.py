"""The synthetic motion benchmark written by ``modist synth``: its ``manifest.csv`` and splits.

``ROOT/manifest.csv`` has columns ``path,label,label_name,split,background,mask_path``
(paths relative to ROOT); ``split`` selects rows. Class names come from ``synth.json``
(``class_names``) when present, else from the ``label_name`` column. :func:`read_manifest`
is the one reader of the file; :mod:`modist.synth.manifest` writes it.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "manifest.csv").write_text(
    ...     "path,label,label_name,split,background,mask_path\\n"
    ...     "videos/train/train_00000.mp4,1,translate_right,train,3,masks/train/train_00000.npz\\n")
    >>> row = read_manifest(root / "manifest.csv")[0]
    >>> row.path == root.resolve() / "videos/train/train_00000.mp4", row.label_name, row.background
    (True, 'translate_right', 3)
    >>> load_synth(root, "train").missing == [str(row.path)]
    True
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from modist.data.adapters.files import canonical_split
from modist.data.records import VideoDataset, VideoRecord
from modist.errors import DataError

MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "label_name", "split", "background", "mask_path")


@dataclass(frozen=True)
class ManifestRow:
    """One video of the benchmark; ``path`` and ``mask_path`` are absolute."""

    path: Path
    label: int
    label_name: str
    split: str
    background: int
    mask_path: Path


def read_manifest(path: str | os.PathLike) -> list[ManifestRow]:
    """Rows of a manifest, or DataError naming the file (missing file, column or bad value)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    root = path.resolve().parent
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (expected {','.join(MANIFEST_COLUMNS)})")
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                rows.append(ManifestRow(
                    path=root / record["path"],
                    label=int(record["label"]),
                    label_name=record["label_name"],
                    split=record["split"],
                    background=int(record["background"]),
                    mask_path=root / record["mask_path"],
                ))
            except (TypeError, ValueError):
                raise DataError(f"{path}: line {line}: label and background must be integers, "
                                f"got {record['label']!r} and {record['background']!r}") from None
    return rows


def _class_names(root: Path, rows: list[ManifestRow]) -> list[str]:
    info_path = root / "synth.json"
    if info_path.is_file():
        try:
            names = json.loads(info_path.read_text()).get("class_names")
        except (ValueError, AttributeError):
            raise DataError(f"{info_path}: not a JSON object") from None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    by_label = {row.label: row.label_name for row in rows}
    return [by_label.get(i, str(i)) for i in range(max(by_label, default=-1) + 1)]


def load_synth(root: str | os.PathLike, split: str = "train") -> VideoDataset:
    root = Path(root)
    manifest = root if root.suffix == ".csv" else root / "manifest.csv"
    rows = read_manifest(manifest)
    names = _class_names(manifest.resolve().parent, rows)
    wanted = canonical_split(split)
    # CSV line numbers: the header is line 1 and no field spans lines.
    chosen = [(line, row) for line, row in enumerate(rows, start=2) if canonical_split(row.split) == wanted]
    if rows and not chosen:
        have = sorted({row.split for row in rows})
        raise DataError(f"{manifest}: no rows with split {split!r} (splits: {', '.join(have)})")
    records, missing = [], []
    for line, row in chosen:
        if not 0 <= row.label < len(names):
            raise DataError(f"{manifest}: line {line}: label {row.label} outside the {len(names)} classes")
        if row.path.is_file():
            records.append(VideoRecord(str(row.path), row.label))
        else:
            missing.append(str(row.path))
    return VideoDataset(records, names, name=f"synth:{split}", missing=missing)
