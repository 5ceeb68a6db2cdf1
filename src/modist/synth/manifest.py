"""Writing the benchmark's index file, ``manifest.csv``, and its per-video mask files.

Columns: ``path,label,label_name,split,background,mask_path``; paths are relative to
the manifest's folder. The reader, :func:`~modist.data.adapters.synth.read_manifest`,
lives in the data layer with the dataset adapter that uses it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modist.data.adapters.synth import ManifestRow, read_manifest
    >>> d = Path(tempfile.mkdtemp())
    >>> row = ManifestRow(d / "videos/train/train_00000.mp4", 3, "translate_down", "train", 3,
    ...                   d / "masks/train/train_00000.npz")
    >>> write_manifest(d / "manifest.csv", [row])
    >>> read_manifest(d / "manifest.csv")[0].label_name
    'translate_down'
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from modist.atomic import atomic_path, write_text
from modist.data.adapters.synth import MANIFEST_COLUMNS, ManifestRow
from modist.errors import DataError


def write_manifest(path: str | os.PathLike, rows: list[ManifestRow]) -> None:
    """Write ``rows`` atomically, with paths relative to the manifest's folder."""
    root = Path(path).resolve().parent
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([
            Path(row.path).resolve().relative_to(root).as_posix(), row.label, row.label_name, row.split,
            row.background, Path(row.mask_path).resolve().relative_to(root).as_posix(),
        ])
    write_text(path, buffer.getvalue())


def write_masks(path: str | os.PathLike, masks: np.ndarray) -> None:
    """Save bool [T, H, W] masks as compressed npz (key ``masks``), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, masks=np.asarray(masks, dtype=bool))


def read_masks(path: str | os.PathLike) -> np.ndarray:
    """bool [T, H, W] actor masks of one video, or DataError naming the file."""
    try:
        with np.load(path) as data:
            return data["masks"].astype(bool)
    except FileNotFoundError:
        raise DataError(f"{path}: mask file not found") from None
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{path}: not a mask file ({exc})") from None
