"""A CSV or JSONL list of videos: ``path[,label][,start_sec,end_sec][,split]``.

``label`` is an integer class index or a class name (names are indexed in sorted order
unless ``class_names`` gives the order; a ``label_name`` column names integer labels).
Relative paths are resolved against the manifest's folder. A ``split`` column, when
present, selects rows; without one every split asked for gives all rows and the dataset
says so (``unsplit=True``). Listed files that do not exist are reported in ``missing``.

Example (CSV)::

    path,label,start_sec,end_sec
    clips/a.mp4,jump,0,4.5
    /data/b.mp4,run,,
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from modist.data.adapters.files import canonical_split
from modist.data.records import VideoDataset, VideoRecord
from modist.errors import DataError


def read_rows(path: Path, required: str | None = "path") -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs of a CSV (with header) or JSONL file; ``required`` must be set."""
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    rows: list[tuple[int, dict[str, Any]]] = []
    with open(path, newline="", encoding="utf-8") as handle:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {number}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}: line {number}: expected a JSON object")
                rows.append((number, row))
        else:
            reader = csv.DictReader(handle)
            rows = [(number, row) for number, row in enumerate(reader, start=2)]
    for number, row in rows:
        if required and not str(row.get(required) or "").strip():
            raise DataError(f"{path}: line {number}: no {required!r}")
    return rows


def _float(value: Any, path: Path, number: int, key: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{path}: line {number}: {key} must be a number, got {value!r}") from None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def label_columns(
    rows: list[tuple[int, dict[str, Any]]], path: Path, class_names: list[str] | None
) -> tuple[list[int | None], list[str]]:
    """Integer labels (None where empty) and the class names they index."""
    raw = [row.get("label") for _, row in rows]
    present = [(n, v) for (n, _), v in zip(rows, raw) if v is not None and str(v).strip() != ""]
    if not present:
        return [None] * len(rows), list(class_names or [])
    ints = [_as_int(v) for _, v in present]
    if all(i is not None for i in ints):
        if any(i < 0 for i in ints):
            raise DataError(f"{path}: negative label")
        names = list(class_names or [])
        if not names:
            by_label = {_as_int(row.get("label")): row.get("label_name") for _, row in rows if row.get("label_name")}
            size = max(ints) + 1
            names = [str(by_label.get(i, i)) for i in range(size)]
        labels = [_as_int(v) if v is not None and str(v).strip() != "" else None for v in raw]
        return labels, names
    if any(i is not None for i in ints):
        number = next(n for (n, _), i in zip(present, ints) if i is not None)
        raise DataError(f"{path}: line {number}: labels mix class indices and class names")
    names = list(class_names) if class_names else sorted({str(v).strip() for _, v in present})
    index = {name: i for i, name in enumerate(names)}
    labels: list[int | None] = []
    for (number, _), v in zip(rows, raw):
        if v is None or str(v).strip() == "":
            labels.append(None)
        elif str(v).strip() not in index:
            raise DataError(f"{path}: line {number}: label {v!r} not among the class names")
        else:
            labels.append(index[str(v).strip()])
    return labels, names


def select_split(rows: list[tuple[int, dict[str, Any]]], split: str | None, path: Path) -> list[tuple[int, dict]]:
    """Rows of ``split`` when the file has a split column; all rows otherwise."""
    if not split or not rows or "split" not in rows[0][1]:
        return rows
    wanted = canonical_split(split)
    chosen = [(n, r) for n, r in rows if canonical_split(str(r.get("split", ""))) == wanted]
    if not chosen:
        have = sorted({str(r.get("split", "")) for _, r in rows})
        raise DataError(f"{path}: no rows with split {split!r} (splits: {', '.join(have)})")
    return chosen


def load_manifest(
    path: str | os.PathLike, split: str | None = None, class_names: list[str] | None = None
) -> VideoDataset:
    path = Path(path)
    all_rows = read_rows(path)
    # Class names come from every split so that indices agree between splits.
    _, names = label_columns(all_rows, path, class_names)
    rows = select_split(all_rows, split, path)
    labels, _ = label_columns(rows, path, names)
    root = path.resolve().parent
    records, missing = [], []
    for (number, row), label in zip(rows, labels):
        video = Path(str(row["path"]).strip())
        video = video if video.is_absolute() else root / video
        start = _float(row.get("start_sec"), path, number, "start_sec")
        end = _float(row.get("end_sec"), path, number, "end_sec")
        if start is not None and end is not None and end <= start:
            raise DataError(f"{path}: line {number}: end_sec {end} is not after start_sec {start}")
        if not video.is_file():
            missing.append(str(video))
            continue
        records.append(VideoRecord(str(video), label, start, end))
    unsplit = not all_rows or "split" not in all_rows[0][1]
    return VideoDataset(records, names, name=f"manifest:{path.name}", missing=missing, unsplit=unsplit)
