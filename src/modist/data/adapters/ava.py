"""AVA (spatio-temporal action detection) in its official file formats.

Files, as distributed with AVA v2.x (``ROOT/annotations/``):

* annotation CSVs ``ava_{train,val}_v2.2.csv``: ``video_id, middle_frame_timestamp, x1, y1,
  x2, y2, action_id, person_id``, one row per (person box, action); a box with several actions
  is repeated. Coordinates are normalised to [0, 1], **x before y**.
* prediction CSVs (what a detector submits, :func:`write_ava_csv`): the same first seven
  columns, then the score instead of the person id.
* the action list ``.pbtxt``: ``item { name: "..." id: N }`` blocks (the full v2.2 list spells
  the id ``label_id`` and adds ``label_type``). The list given to the evaluator *is* the set of
  evaluated classes (``ava_action_list_v2.2_for_activitynet_2019.pbtxt``: 60 of 80).
* excluded timestamps ``ava_{train,val}_excluded_timestamps_v2.2.csv``: ``video_id, timestamp``.
* person proposals as CSV ``video_id, timestamp, x1, y1, x2, y2[, action_id], score`` (the
  layout of PySlowFast's ``ava_{train,val}_predicted_boxes.csv``; the action column may be
  empty). The pickled proposal dicts some releases ship are read only by
  :func:`read_proposals_pickle`, which needs ``allow_pickle=True``: unpickling runs code.

A keyframe is named by :func:`keyframe_key` as the official code does,
``"%s,%04d" % (video_id, int(timestamp))``. Videos are the official 15-minute clips
(``ROOT/videos_15min/<video_id>.<ext>``, seconds 900-1800 of the movie), so timestamp ``t``
is ``t - 900`` seconds into the file; keyframes are at 1 fps from 902 s to 1798 s.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "gt.csv").write_text("vid1,0902,0.1,0.2,0.5,0.9,12,0\\nvid1,0902,0.1,0.2,0.5,0.9,80,0\\n")
    >>> rows = read_ava_csv(root / "gt.csv")
    >>> rows.keys, rows.labels.tolist(), rows.boxes[0].tolist()
    (['vid1,0902', 'vid1,0902'], [12, 80], [0.1, 0.2, 0.5, 0.9])
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modist.atomic import atomic_path
from modist.errors import DataError

#: the 15-minute clips start at this second of the movie
CLIP_OFFSET_SEC = 900
FIRST_KEYFRAME_SEC = 902
LAST_KEYFRAME_SEC = 1798
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def keyframe_key(video_id: str, timestamp: float | str) -> str:
    """The official keyframe id ``video_id,TTTT`` (timestamp truncated to whole seconds)."""
    return f"{video_id},{int(float(timestamp)):04d}"


@dataclass
class AvaBoxes:
    """Rows of an AVA CSV: keyframe key, box ``x1,y1,x2,y2`` (normalised), action id, score, person id.

    ``all_keys`` also holds keyframes listed without a box (two-column rows).
    """

    keys: list[str]
    boxes: np.ndarray  # [N, 4] float64
    labels: np.ndarray  # [N] int64
    scores: np.ndarray  # [N] float64; 1.0 for ground truth
    person_ids: np.ndarray  # [N] int64; -1 where the file has none
    all_keys: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, mask: np.ndarray) -> AvaBoxes:
        idx = np.flatnonzero(mask)
        return AvaBoxes([self.keys[i] for i in idx], self.boxes[idx], self.labels[idx], self.scores[idx],
                        self.person_ids[idx], set(self.all_keys))

    def by_key(self) -> dict[str, np.ndarray]:
        """Row indices of each keyframe, in file order."""
        out: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            out.setdefault(key, []).append(i)
        return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def _float(text: str, path: Path, line: int, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: {what} {text!r} is not a number") from None


def read_ava_csv(path: str | os.PathLike, *, scored: bool = False) -> AvaBoxes:
    """An annotation CSV (``scored=False``: 8th column = person id) or prediction CSV (8th = score).

    Rows of two columns (a keyframe without boxes) only add to ``all_keys``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: AVA CSV not found")
    keys: list[str] = []
    boxes: list[list[float]] = []
    labels: list[int] = []
    scores: list[float] = []
    persons: list[int] = []
    all_keys: set[str] = set()
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) not in (2, 7, 8):
                raise DataError(f"{path}:{line}: expected 2, 7 or 8 columns, got {len(row)}")
            key = keyframe_key(row[0], _float(row[1], path, line, "timestamp"))
            all_keys.add(key)
            if len(row) == 2:
                continue
            box = [_float(v, path, line, "coordinate") for v in row[2:6]]
            try:
                label = int(row[6])
            except ValueError:
                raise DataError(f"{path}:{line}: action id {row[6]!r} is not an integer") from None
            extra = row[7].strip() if len(row) == 8 else ""
            keys.append(key)
            boxes.append(box)
            labels.append(label)
            if scored:
                scores.append(_float(extra, path, line, "score") if extra else 1.0)
                persons.append(-1)
            else:
                scores.append(1.0)
                persons.append(int(_float(extra, path, line, "person id")) if extra else -1)
    return AvaBoxes(keys, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(labels, dtype=np.int64),
                    np.asarray(scores, dtype=np.float64), np.asarray(persons, dtype=np.int64), all_keys)


def write_ava_csv(path: str | os.PathLike, rows: AvaBoxes, *, scored: bool = True) -> None:
    """The official CSV (8th column: score if ``scored`` else person id), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        for i, key in enumerate(rows.keys):
            video, ts = key.rsplit(",", 1)
            last = f"{rows.scores[i]:.6f}" if scored else str(int(rows.person_ids[i]))
            writer.writerow([video, ts, *(f"{v:.3f}" for v in rows.boxes[i]), int(rows.labels[i]), last])


def read_exclusions(path: str | os.PathLike | None) -> set[str]:
    """Keyframe keys of an excluded-timestamps CSV (``video_id, timestamp``); empty for None."""
    if path is None:
        return set()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: excluded-timestamps CSV not found")
    out: set[str] = set()
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) < 2:
                raise DataError(f"{path}:{line}: expected video_id,timestamp")
            out.add(keyframe_key(row[0], _float(row[1], path, line, "timestamp")))
    return out


_ITEM = re.compile(r"item\s*\{(.*?)\}", re.S)
_NAME = re.compile(r"name\s*:\s*\"([^\"]*)\"")
_ID = re.compile(r"(?:label_)?id\s*:\s*(\d+)")


def read_label_map(path: str | os.PathLike) -> dict[int, str]:
    """Action id -> name of an AVA ``.pbtxt`` action list, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: label map not found")
    text = path.read_text()
    out: dict[int, str] = {}
    for n, block in enumerate(_ITEM.findall(text), 1):
        name, ident = _NAME.search(block), _ID.search(block)
        if not ident:
            raise DataError(f"{path}: item {n} has no id")
        out[int(ident.group(1))] = name.group(1) if name else str(ident.group(1))
    if not out:
        raise DataError(f"{path}: no 'item {{ name: ... id: ... }}' entries")
    return out


def write_label_map(path: str | os.PathLike, names: Mapping[int, str]) -> None:
    """A ``.pbtxt`` action list in the layout of the ActivityNet evaluation list."""
    text = "".join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n' for i, name in names.items())
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def read_proposals_csv(path: str | os.PathLike) -> AvaBoxes:
    """Person proposals ``video_id, timestamp, x1, y1, x2, y2[, action_id], score`` (labels are -1)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: proposals CSV not found")
    keys, boxes, scores = [], [], []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) not in (7, 8):
                raise DataError(f"{path}:{line}: expected 7 or 8 columns (video_id,timestamp,x1,y1,x2,y2,"
                                f"[action_id,]score), got {len(row)}")
            keys.append(keyframe_key(row[0], _float(row[1], path, line, "timestamp")))
            boxes.append([_float(v, path, line, "coordinate") for v in row[2:6]])
            scores.append(_float(row[-1], path, line, "score"))
    n = len(keys)
    return AvaBoxes(keys, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.full(n, -1, dtype=np.int64),
                    np.asarray(scores, dtype=np.float64), np.full(n, -1, dtype=np.int64), set(keys))


def read_proposals_pickle(path: str | os.PathLike, *, allow_pickle: bool = False) -> AvaBoxes:
    """A pickled ``{"video_id,TTTT": array [N, 4 or 5] (x1, y1, x2, y2[, score])}`` proposal dict.

    Unpickling runs code stored in the file, so it needs ``allow_pickle=True``, given only for
    files from a trusted source.
    """
    import pickle

    path = Path(path)
    if not allow_pickle:
        raise DataError(f"{path}: pickled proposals are read only when allowed (unpickling runs code); "
                        "convert them to CSV or allow pickle explicitly")
    if not path.is_file():
        raise DataError(f"{path}: proposals file not found")
    with open(path, "rb") as f:
        try:
            data = pickle.load(f)  # noqa: S301 - the caller opted in above
        except Exception as exc:
            raise DataError(f"{path}: not a readable proposals pickle ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a dict of keyframe -> boxes, got {type(data).__name__}")
    keys, boxes, scores = [], [], []
    for raw_key, value in data.items():
        video, _, ts = str(raw_key).rpartition(",")
        arr = np.asarray(value, dtype=np.float64).reshape(-1, np.shape(value)[-1] if np.ndim(value) == 2 else 4)
        if arr.shape[1] not in (4, 5):
            raise DataError(f"{path}: boxes of {raw_key!r} have {arr.shape[1]} columns, expected 4 or 5")
        for r in arr:
            keys.append(keyframe_key(video, ts))
            boxes.append(r[:4])
            scores.append(r[4] if arr.shape[1] == 5 else 1.0)
    n = len(keys)
    return AvaBoxes(keys, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.full(n, -1, dtype=np.int64),
                    np.asarray(scores, dtype=np.float64), np.full(n, -1, dtype=np.int64), set(keys))


# ----------------------------------------------------------------------------- the dataset

@dataclass
class AvaKeyframe:
    """One annotated keyframe: where its video is, when, and its person boxes with action sets."""

    key: str
    video: str
    time_sec: float  # seconds into the video file
    boxes: np.ndarray  # [P, 4] x1,y1,x2,y2 normalised
    labels: list[list[int]]  # action ids of each box


@dataclass
class AvaDataset:
    """Keyframes of one split plus the label map and what the evaluator needs."""

    keyframes: list[AvaKeyframe]
    label_map: dict[int, str]
    gt_csv: Path
    excluded: set[str] = field(default_factory=set)
    proposals: AvaBoxes | None = None
    missing: list[str] = field(default_factory=list)
    name: str = ""

    def __len__(self) -> int:
        return len(self.keyframes)


def group_keyframes(rows: AvaBoxes, videos: Mapping[str, str], *, excluded: Iterable[str] = (),
                    offset_sec: float = CLIP_OFFSET_SEC, classes: Iterable[int] | None = None) -> list[AvaKeyframe]:
    """Keyframes of annotation rows: one box per distinct (keyframe, coordinates), actions merged."""
    keep = None if classes is None else set(classes)
    excluded = set(excluded)
    frames: dict[str, AvaKeyframe] = {}
    box_index: dict[tuple[str, tuple[float, ...]], int] = {}
    for i, key in enumerate(rows.keys):
        video_id, ts = key.rsplit(",", 1)
        if key in excluded or video_id not in videos:
            continue
        kf = frames.get(key)
        if kf is None:
            kf = frames[key] = AvaKeyframe(key, videos[video_id], int(ts) - offset_sec, np.zeros((0, 4)), [])
        coords = tuple(np.round(rows.boxes[i], 4).tolist())
        j = box_index.get((key, coords))
        if j is None:
            j = box_index[(key, coords)] = len(kf.labels)
            kf.boxes = np.concatenate([kf.boxes, rows.boxes[i][None]])
            kf.labels.append([])
        label = int(rows.labels[i])
        if (keep is None or label in keep) and label not in kf.labels[j]:
            kf.labels[j].append(label)
    return sorted(frames.values(), key=lambda k: k.key)


def _find(folder: Path, patterns: Iterable[str]) -> Path | None:
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[-1]  # the newest version (v2.2 sorts after v2.1)
    return None


def find_videos(folder: Path) -> dict[str, str]:
    """video_id -> path of every video file in ``folder``."""
    if not folder.is_dir():
        return {}
    return {p.stem: str(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_EXTENSIONS}


def load_ava(root: str | os.PathLike, split: str = "train", *, labels: str | os.PathLike | None = None,
             proposals: str | os.PathLike | None = None, allow_pickle: bool = False,
             offset_sec: float = CLIP_OFFSET_SEC) -> AvaDataset:
    """The keyframes of ``split`` (``train``/``val``) under ``ROOT`` laid out as docs/detection.md says.

    ``ROOT/annotations/`` holds ``ava_<split>_v2.*.csv``, ``ava_<split>_excluded_timestamps_v2.*.csv``,
    the action list (``*for_activitynet*.pbtxt`` preferred: the evaluated classes) and proposals
    ``ava_<split>_predicted_boxes.csv``; ``ROOT/videos_15min/`` (else ``ROOT/videos``) the clips.
    """
    root = Path(root)
    ann = root / "annotations" if (root / "annotations").is_dir() else root
    gt = _find(ann, (f"ava_{split}_v2*.csv", f"ava_{split}.csv"))
    if gt is None:
        raise DataError(f"{ann}: no ava_{split}_v2.x.csv annotation file")
    label_file = (Path(labels) if labels
                  else _find(ann, ("*for_activitynet*.pbtxt", "ava_action_list*.pbtxt", "*.pbtxt")))
    if label_file is None:
        raise DataError(f"{ann}: no action list .pbtxt")
    label_map = read_label_map(label_file)
    excluded = read_exclusions(_find(ann, (f"ava_{split}_excluded_timestamps*.csv",)))
    video_dir = root / "videos_15min" if (root / "videos_15min").is_dir() else root / "videos"
    videos = find_videos(video_dir)
    rows = read_ava_csv(gt)
    wanted = sorted({k.rsplit(",", 1)[0] for k in rows.keys})
    missing = [v for v in wanted if v not in videos]
    if wanted and len(missing) == len(wanted):
        raise DataError(f"{video_dir}: none of the {len(wanted)} videos of {gt.name} found")
    keyframes = group_keyframes(rows, videos, excluded=excluded, offset_sec=offset_sec, classes=label_map)
    prop = None
    prop_file = Path(proposals) if proposals else _find(ann, (f"ava_{split}_predicted_boxes.csv",))
    if prop_file is not None:
        prop = (read_proposals_pickle(prop_file, allow_pickle=allow_pickle) if prop_file.suffix in (".pkl", ".pickle")
                else read_proposals_csv(prop_file))
    return AvaDataset(keyframes, label_map, gt, excluded, prop, missing, name=f"ava:{root.name}/{split}")


def keyframe_clip(path: str, time_sec: float, *, num_frames: int, stride: int, short_side: int | None = None):
    """``num_frames`` frames ``stride`` apart centred on ``time_sec`` (exact seek), uint8 [T, H, W, 3]."""
    from modist.data.video import VideoReader

    with VideoReader(path, short_side=short_side) as reader:
        start = time_sec - (num_frames * stride / 2) / reader.fps
        return reader.clip(max(start, 0.0), num_frames, stride).frames


__all__ = [
    "AvaBoxes",
    "AvaDataset",
    "AvaKeyframe",
    "group_keyframes",
    "keyframe_clip",
    "keyframe_key",
    "load_ava",
    "read_ava_csv",
    "read_exclusions",
    "read_label_map",
    "read_proposals_csv",
    "read_proposals_pickle",
    "write_ava_csv",
    "write_label_map",
]
