"""Something-Something v2 from the official label files.

``labels.json`` maps each template (with the ``[...]`` brackets removed) to a class id
string; ``train.json`` / ``validation.json`` / ``test.json`` list
``{"id", "label", "template", "placeholders"}`` (test: ``id`` only). A sample's class is
its template with the brackets removed, e.g. ``"Putting [something] on a surface"`` ->
``"Putting something on a surface"``. The label files are looked for in ROOT and
ROOT/labels; videos ``{id}.webm`` in ROOT/20bn-something-something-v2, ROOT/videos or ROOT.

The test list carries no labels (they are not public), so its records have ``label=None``:
fine for embedding, not for evaluation, which defaults to the validation split on SSv2
(as PySlowFast, whose ``slowfast/datasets/ssv2.py`` tests on ``validation.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from modist.data.adapters.files import canonical_split, first_existing, located_records, pick_video_root
from modist.data.records import VideoDataset
from modist.errors import DataError

VIDEO_DIR = "20bn-something-something-v2"
SPLIT_FILES = {"train": "train.json", "val": "validation.json", "test": "test.json"}


def template_class(template: str) -> str:
    """The class name of a template: the same text without the placeholder brackets."""
    return template.replace("[", "").replace("]", "")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def read_class_names(path: Path) -> list[str]:
    mapping = _load_json(path)
    if not isinstance(mapping, dict):
        raise DataError(f"{path}: expected an object mapping template -> id")
    try:
        by_id = {int(v): k for k, v in mapping.items()}
    except (TypeError, ValueError):
        raise DataError(f"{path}: class ids must be integers") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise DataError(f"{path}: class ids must run 0..{len(by_id) - 1}")
    return [by_id[i] for i in range(len(by_id))]


def load_ssv2(root: str | os.PathLike, split: str = "train") -> VideoDataset:
    root = Path(root)
    labels_path = first_existing([root / "labels.json", root / "labels" / "labels.json"], "SSv2 labels.json")
    class_names = read_class_names(labels_path)
    index = {name: i for i, name in enumerate(class_names)}
    kind = canonical_split(split)
    if kind not in SPLIT_FILES:
        raise DataError(f"SSv2: split must be train, val or test, got {split!r}")
    list_path = labels_path.parent / SPLIT_FILES[kind]
    if not list_path.is_file():
        raise DataError(f"{list_path}: SSv2 {kind} list not found")
    items = _load_json(list_path)
    if not isinstance(items, list):
        raise DataError(f"{list_path}: expected a list of samples")
    entries: list[tuple[str, int | None]] = []
    for number, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise DataError(f"{list_path}: entry {number} has no 'id'")
        label = None
        if "template" in item:
            name = template_class(str(item["template"]))
            if name not in index:
                raise DataError(f"{list_path}: entry {number}: template {item['template']!r} not in labels.json")
            label = index[name]
        entries.append((f"{item['id']}.webm", label))
    videos = pick_video_root(
        [root / VIDEO_DIR, root / "videos", root, labels_path.parent.parent / VIDEO_DIR],
        [r for r, _ in entries],
    )
    records, missing = located_records(videos, entries)
    return VideoDataset(records, class_names, name=f"ssv2:{kind}", missing=missing)
