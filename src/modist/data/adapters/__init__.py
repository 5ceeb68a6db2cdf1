"""Dataset adapters: official annotation files -> :class:`~modist.data.records.VideoDataset`.

``resolve_dataset`` turns a CLI argument into a dataset: ``kind:ROOT`` with kind one of
``folder``, ``manifest``, ``synth``, ``kinetics``, ``ucf101``, ``hmdb51``, ``ssv2``, or a
bare path whose kind is detected:

=================================================  ========
what ROOT is / holds                               kind
=================================================  ========
a ``.csv`` / ``.jsonl`` file                       manifest
``manifest.csv`` and ``synth.json``                synth
``manifest.csv`` and ``prepared.json``             manifest (a ``modist prepare`` output)
``classInd.txt`` (in ROOT or ROOT/ucfTrainTestlist) ucf101
``*_test_split1.txt`` (in ROOT or a sub-folder)    hmdb51
``labels.json`` (in ROOT or ROOT/labels)           ssv2
anything else                                      folder
=================================================  ========

Kinetics is never guessed (its CSVs look like any manifest): name it, ``kinetics:ROOT``.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "list.csv").write_text("path,label,split\\nclip.mp4,0,train\\nother.mp4,1,test\\n")
    >>> ds = resolve_dataset(str(root / "list.csv"), split="test")  # kind detected: manifest
    >>> ds.name, ds.missing == [str(root.resolve() / "other.mp4")]
    ('manifest:list.csv', True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from modist.data.adapters.folder import load_folder
from modist.data.adapters.hmdb51 import load_hmdb51, splits_dir
from modist.data.adapters.holdout import Holdout, hold_out
from modist.data.adapters.kinetics import load_kinetics
from modist.data.adapters.manifest import load_manifest
from modist.data.adapters.ssv2 import load_ssv2
from modist.data.adapters.synth import load_synth
from modist.data.adapters.ucf101 import load_ucf101
from modist.data.records import VideoDataset
from modist.errors import DataError

LOADERS: dict[str, Callable[[Path, str, int], VideoDataset]] = {
    "folder": lambda root, split, fold: load_folder(root, split),
    "manifest": lambda root, split, fold: load_manifest(root / "manifest.csv" if root.is_dir() else root, split),
    "synth": lambda root, split, fold: load_synth(root, split),
    "kinetics": lambda root, split, fold: load_kinetics(root, split),
    "ucf101": lambda root, split, fold: load_ucf101(root, split, fold),
    "hmdb51": lambda root, split, fold: load_hmdb51(root, split, fold),
    "ssv2": lambda root, split, fold: load_ssv2(root, split),
}
KINDS = tuple(LOADERS)


def detect_kind(root: Path) -> str:
    """The adapter for a bare path (see the module docstring's table)."""
    if root.is_file():
        if root.suffix.lower() in (".csv", ".jsonl", ".ndjson"):
            return "manifest"
        raise DataError(f"{root}: not a dataset (expected a folder or a .csv/.jsonl manifest)")
    if not root.is_dir():
        raise DataError(f"{root}: dataset not found")
    if (root / "manifest.csv").is_file() and (root / "synth.json").is_file():
        return "synth"
    if (root / "manifest.csv").is_file() and (root / "prepared.json").is_file():
        return "manifest"  # written by `modist prepare`
    if (root / "classInd.txt").is_file() or (root / "ucfTrainTestlist" / "classInd.txt").is_file():
        return "ucf101"
    if splits_dir(root) is not None:
        return "hmdb51"
    if (root / "labels.json").is_file() or (root / "labels" / "labels.json").is_file():
        return "ssv2"
    return "folder"


def parse_spec(spec: str) -> tuple[str, Path]:
    """``(kind, root)`` of ``kind:ROOT`` or of a bare path (kind detected)."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*):(.*)", spec)
    if match and not Path(spec).exists():
        kind, root = match.group(1).lower(), match.group(2)
        if kind not in LOADERS:
            raise DataError(f"{spec}: unknown dataset kind {kind!r} (choose from {', '.join(KINDS)})")
        if not root:
            raise DataError(f"{spec}: no path after '{kind}:'")
        return kind, Path(root).expanduser()
    root = Path(spec).expanduser()
    return detect_kind(root), root


def resolve_dataset(spec: str, split: str = "train", fold: int = 1) -> VideoDataset:
    """The dataset a CLI argument names; DataError (naming the file) if it cannot be read."""
    kind, root = parse_spec(spec)
    if not root.exists():
        raise DataError(f"{root}: {kind} dataset not found")
    return LOADERS[kind](root, split, fold)


__all__ = [
    "KINDS",
    "Holdout",
    "detect_kind",
    "hold_out",
    "load_folder",
    "load_hmdb51",
    "load_kinetics",
    "load_manifest",
    "load_ssv2",
    "load_synth",
    "load_ucf101",
    "parse_spec",
    "resolve_dataset",
]
