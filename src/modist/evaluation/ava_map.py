"""Frame-mAP at IoU 0.5 on AVA, computed exactly as the official evaluator computes it.

The official evaluator is ActivityNet's ``Evaluation/get_ava_performance.py`` over the TF
object-detection code in ``Evaluation/ava/`` (``object_detection_evaluation.py``,
``per_image_evaluation.py``, ``metrics.py``, ``np_box_ops.py``). PySlowFast ships a copy
(``slowfast/utils/ava_eval_helper.py`` + ``slowfast/utils/ava_evaluation/``, also in the MaCLR
release) whose ``read_csv`` lacks the 50-row heap and the score sort; its numbers differ, so it is
reproduced too, as ``protocol="pyslowfast"``. Both agree with the original code to the last bit on
random files in any row order, run with the same numpy (checked against the code itself; the tests
compare with a transcription of it).

**What the official code does** (``protocol="activitynet"``, the default):

* **Reading.** A keyframe is ``video_id,%04d`` of the integer timestamp. Rows whose action is not
  in the label map (the evaluated list: 60 classes for AVA v2.x) are dropped from both files.
  Each keyframe's rows go through a heap of tuples ``(score, action_id, y1, x1, y2, x2)``: a row
  is pushed while the heap holds fewer than ``capacity`` rows (50 for detections; no limit for
  ground truth), later only if its score is *strictly* above the heap's smallest tuple, which it
  replaces. The heap's list is then sorted by descending score, stably, so rows of equal score
  keep the heap's internal order: a function of the tuples *and* of the order the rows arrived
  in. Ground-truth rows go through the same code with the person id (8th column) as their
  "score" (1.0 without one), so a keyframe's ground-truth boxes come in descending person id,
  not in file order.
* **Keyframes.** Ground truth and detections of excluded keyframes are dropped (``exclusions``;
  the code of March 2019 to April 2020, which also keys keyframes by the integer second).
  Detections on a keyframe without ground truth are all false positives. ``only_gt_keyframes=True``
  follows the code since April 2020, which instead ignores detections on keyframes the
  ground-truth file does not list (a two-column row lists a keyframe without boxes); that code
  has no exclusions file and keys keyframes by ``%.6f`` of the timestamp, which is the same for
  AVA's whole-second timestamps.
* **Matching**, per keyframe and class, in the order reading leaves them (descending score):
  detections with ``x1 >= x2`` or ``y1 >= y2`` are removed; each remaining one takes the
  ground-truth box of highest IoU (``np.argmax``: the first in the ground-truth order above on
  ties); it is a true positive if that IoU >= 0.5 and the box is not yet taken, else a false
  positive (no second choice). IoU uses areas ``(x2 - x1) * (y2 - y1)`` without the ``+1`` of pixel-based VOC code.
* **AP**, per class with ground truth: the class's detections are concatenated keyframe by
  keyframe, in the order each keyframe first appears in the detection file, and ranked by
  ``np.argsort(scores)[::-1]``: numpy's default (unstable) sort, reversed, so equal scores come in
  the order numpy's sort leaves them, reversed (for a few equal scores, usually the later first). Precision
  and recall are cumulated; ``compute_average_precision`` pads recall with 0 and 1 and precision
  with 0 and 0, makes precision monotone from the right and sums ``(r[i] - r[i-1]) * p[i]``
  where recall changes. mAP is ``np.nanmean`` over the classes with ground truth; a class with
  ground truth and no detection scores 0.

**Why the order of rows matters.** Where scores are distinct within each class and keyframe, the
official result does not depend on the order of the prediction rows. Equal scores are where it
does: which of them keeps the last of the 50 places, which one is matched first within a
keyframe, and how they are ranked for AP all follow the order rows arrive in (through the heap,
and through the order keyframes first appear). On small random files with 1-2 decimal scores
this moved the official mAP by up to 0.06 between two orders of the same rows; scores written
with few decimals tie often. modist keeps each of those rules, so any file gives the official
number as written; ``np.argsort``'s tie order is numpy's, so this holds on the same numpy
version and CPU as the official run.

**PySlowFast's copy** (``protocol="pyslowfast"``, ``slowfast/utils/ava_eval_helper.py``): its
``read_csv`` appends rows in file order, keeps them all (no 50-row cap) and does not sort, so
detections are matched **in the order the rows are written**, not by score (a low-scoring row
written first takes the ground-truth box), and ground-truth boxes are in file order. The rest is
the code above (exclusions, no-ground-truth keyframes, AP). PySlowFast's own numbers (its model
zoo, and releases built on it) come from its ``evaluate_ava``, which hands this code each
keyframe's boxes in the order its test loader read them, all classes of a box together. On small
random files not sorted by score, with distinct scores, the two protocols differed by up to 0.25
mAP; sorted by score, with at most 50 rows per keyframe and no ties in score or IoU, they agree.

Example:
    >>> import numpy as np
    >>> average_precision(np.array([1.0, 0.5, 1/3]), np.array([0.5, 0.5, 0.5]))
    0.5
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modist.data.adapters.ava import AvaBoxes, read_ava_csv, read_exclusions, read_label_map
from modist.errors import ConfigError

IOU_THRESHOLD = 0.5
MAX_DETECTIONS_PER_KEYFRAME = 50
#: name -> (rows kept per keyframe by default, rows go through the official heap and score sort)
PROTOCOLS = {"activitynet": (MAX_DETECTIONS_PER_KEYFRAME, True), "pyslowfast": (0, False)}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of ``x1, y1, x2, y2`` boxes, without the +1 of pixel coordinates.

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.], [0, 0, 2, 2.]])).round(4).tolist()
        [[0.3333, 1.0]]
    """
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """PASCAL VOC AP of a precision/recall curve, as the official ``compute_average_precision``."""
    precision, recall = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    if precision.size == 0:
        return 0.0
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.flatnonzero(r[1:] != r[:-1]) + 1
    return float(np.sum((r[idx] - r[idx - 1]) * p[idx]))


def precision_recall(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative precision and recall as the official ``compute_precision_recall`` ranks detections.

    The ranking is ``np.argsort(scores)[::-1]``: numpy's default sort reversed, so equal scores are
    ranked as that sort leaves them, reversed, not in input order (numpy's introsort keeps ties of a
    small array in place, so the last of them comes first; its SIMD sorts promise nothing).

    Example:
        >>> p, r = precision_recall(np.array([0.2, 0.9, 0.5]), np.array([True, False, True]), 2)
        >>> p.round(4).tolist(), r.tolist()  # ranked 0.9 (FP), 0.5 (TP), 0.2 (TP)
        ([0.0, 0.5, 0.6667], [0.0, 0.5, 1.0])
    """
    order = np.argsort(np.asarray(scores, dtype=np.float64))[::-1]
    hits = np.asarray(tp, dtype=np.int64)[order]
    ctp, cfp = np.cumsum(hits), np.cumsum(1 - hits)
    return ctp.astype(np.float64) / np.maximum(ctp + cfp, 1), ctp.astype(np.float64) / num_gt


_EVALUATOR = {"activitynet": "ActivityNet evaluator", "pyslowfast": "PySlowFast's copy of the evaluator"}


@dataclass
class FrameMapResult:
    """mAP over the evaluated classes with ground truth, and what went into it."""

    mean_ap: float
    ap: dict[int, float]  # evaluated classes only
    num_gt: dict[int, int]
    num_detections: dict[int, int]
    names: dict[int, str] = field(default_factory=dict)
    keyframes: int = 0
    protocol: str = "activitynet"

    def to_json(self) -> dict:
        return {"metric": "frame-mAP@0.5 (AVA official)", "protocol": self.protocol, "mAP": self.mean_ap,
                "keyframes": self.keyframes,
                "per_class": [{"id": c, "name": self.names.get(c, str(c)), "AP": self.ap[c],
                               "num_gt": self.num_gt[c], "num_detections": self.num_detections.get(c, 0)}
                              for c in sorted(self.ap)]}

    def table(self) -> str:
        """Markdown table: mAP, then AP per class."""
        lines = [f"frame-mAP@0.5: **{100 * self.mean_ap:.2f}** over {len(self.ap)} classes, "
                 f"{self.keyframes} keyframes ({_EVALUATOR[self.protocol]})", "",
                 "| id | action | AP | GT boxes | detections |", "|---:|---|---:|---:|---:|"]
        for c in sorted(self.ap):
            lines.append(f"| {c} | {self.names.get(c, c)} | {100 * self.ap[c]:.2f} | {self.num_gt[c]} | "
                         f"{self.num_detections.get(c, 0)} |")
        return "\n".join(lines)


class _Row:
    """A row number carried in a heap tuple without taking part in comparisons (always equal)."""

    __slots__ = ("i",)
    __hash__ = None

    def __init__(self, i: int) -> None:
        self.i = i

    def __eq__(self, other: object) -> bool:
        return True


def _read_csv_order(rows: np.ndarray, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray,
                    capacity: int) -> np.ndarray:
    """One keyframe's rows as the official ``read_csv`` hands them on: kept by its heap, by descending score.

    The heap holds ``(score, action_id, y1, x1, y2, x2)`` tuples; a row enters while it holds fewer
    than ``capacity`` (no limit if < 1), later only if its score beats the smallest tuple, which it
    replaces. The heap's list is then sorted by descending score, stably. Equal scores thus keep
    the heap's internal order, which the tuples and the arrival order decide; the row number rides
    along as an always-equal last element so every comparison is the official one.
    """
    s = scores[rows]
    if np.unique(s).size == s.size:  # no ties: the heap keeps the top scores, whatever their order
        order = rows[np.argsort(-s, kind="stable")]
        return order[:capacity] if capacity > 0 else order
    heap: list[tuple] = []
    b = boxes[rows].tolist()
    for n, (i, score, label) in enumerate(zip(rows.tolist(), s.tolist(), labels[rows].tolist())):
        x1, y1, x2, y2 = b[n]
        item = (score, label, y1, x1, y2, x2, _Row(i))
        if capacity < 1 or len(heap) < capacity:
            heapq.heappush(heap, item)
        elif score > heap[0][0]:
            heapq.heapreplace(heap, item)
    return np.asarray([t[-1].i for t in sorted(heap, key=lambda t: -t[0])], dtype=np.int64)


def _ordered(rows: AvaBoxes, capacity: int, *, official: bool, gt: bool = False) -> dict[str, np.ndarray]:
    """Row indices per keyframe (keyframes in order of first appearance), in the order matching sees them.

    ``official``: through the ``read_csv`` heap and score sort; ground truth's sort key is the person
    id where the file has one (the official reader takes any 8th column as the score), else 1.0.
    Otherwise file order, every row (PySlowFast's reader).
    """
    out = {}
    scores = np.where(rows.person_ids >= 0, rows.person_ids, 1.0).astype(np.float64) if gt else rows.scores
    for key, idx in rows.by_key().items():
        if official:
            out[key] = _read_csv_order(idx, rows.boxes, rows.labels, scores, capacity)
        else:
            out[key] = idx
    return out


def _match(det: np.ndarray, gt: np.ndarray, iou_threshold: float) -> np.ndarray:
    """True positives of one keyframe's detections of one class, matched greedily in the order given."""
    tp = np.zeros(len(det), dtype=bool)
    if len(det) == 0 or len(gt) == 0:
        return tp
    iou = box_iou(det, gt)
    best = np.argmax(iou, axis=1)  # the first ground-truth box on ties, as the official code
    taken = np.zeros(len(gt), dtype=bool)
    for i, j in enumerate(best):
        if iou[i, j] >= iou_threshold and not taken[j]:
            tp[i] = taken[j] = True
    return tp


def frame_map(gt: AvaBoxes, pred: AvaBoxes, classes: Mapping[int, str], *, excluded: set[str] | frozenset = frozenset(),
              iou_threshold: float = IOU_THRESHOLD, max_per_keyframe: int | None = None,
              only_gt_keyframes: bool = False, protocol: str = "activitynet") -> FrameMapResult:
    """Official frame-mAP of ``pred`` against ``gt`` over ``classes`` (id -> name), see the module docstring.

    ``protocol``: ``"activitynet"`` (the official evaluator) or ``"pyslowfast"`` (PySlowFast's copy:
    rows matched in file order, no cap). ``max_per_keyframe`` changes the official heap's capacity
    of 50 (0: no limit). Rows of both files are taken in the order they were read: the official
    result depends on it.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    default_cap, official = PROTOCOLS[protocol]
    if max_per_keyframe and not official:
        raise ConfigError(f"protocol {protocol!r} keeps every row: a cap per keyframe needs 'activitynet'")
    capacity = default_cap if max_per_keyframe is None else max_per_keyframe
    wanted = np.asarray(sorted(classes), dtype=np.int64)
    if only_gt_keyframes:
        listed = gt.all_keys | set(gt.keys)
        pred = pred.select(np.array([k in listed for k in pred.keys], dtype=bool))

    def keep(rows: AvaBoxes) -> AvaBoxes:
        mask = np.isin(rows.labels, wanted) & np.array([k not in excluded for k in rows.keys], dtype=bool)
        return rows.select(mask)

    gt, pred = keep(gt), keep(pred)
    gt_rows = _ordered(gt, 0, official=official, gt=True)
    num_gt = {int(c): int(np.sum(gt.labels == c)) for c in wanted}
    scores: dict[int, list[np.ndarray]] = {int(c): [] for c in wanted}
    tps: dict[int, list[np.ndarray]] = {int(c): [] for c in wanted}
    for key, rows in _ordered(pred, capacity, official=official).items():
        boxes = pred.boxes[rows]
        rows = rows[(boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])]
        labels = pred.labels[rows]
        g = gt_rows.get(key, np.zeros(0, dtype=np.int64))
        for c in np.unique(labels):
            mine = rows[labels == c]
            scores[int(c)].append(pred.scores[mine])
            tps[int(c)].append(_match(pred.boxes[mine], gt.boxes[g[gt.labels[g] == c]], iou_threshold))
    ap, dets = {}, {}
    for c in (int(c) for c in wanted):
        s = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        dets[c] = int(s.size)
        if num_gt[c] == 0:
            continue
        t = np.concatenate(tps[c]) if tps[c] else np.zeros(0, dtype=bool)
        ap[c] = average_precision(*precision_recall(s, t, num_gt[c]))
    mean = float("nan")
    if ap:
        # np.nanmean over one slot per id up to the largest, as the official code sums: same rounding
        slots = np.full(max(int(wanted.max()), 1), np.nan)
        for c, v in ap.items():
            slots[c - 1] = v
        mean = float(np.nanmean(slots)) if wanted.min() >= 1 else float(np.mean(list(ap.values())))
    return FrameMapResult(mean, ap, {c: num_gt[c] for c in ap}, dets, {int(c): classes[c] for c in wanted},
                          keyframes=len(gt_rows), protocol=protocol)


def evaluate_files(gt_csv: str | os.PathLike, pred_csv: str | os.PathLike, labels: str | os.PathLike, *,
                   exclusions: str | os.PathLike | None = None, only_gt_keyframes: bool = False,
                   protocol: str = "activitynet") -> FrameMapResult:
    """Frame-mAP of a prediction CSV against an annotation CSV (the official file formats), rows as written."""
    return frame_map(read_ava_csv(Path(gt_csv)), read_ava_csv(Path(pred_csv), scored=True), read_label_map(labels),
                     excluded=read_exclusions(exclusions), only_gt_keyframes=only_gt_keyframes, protocol=protocol)


__all__ = ["PROTOCOLS", "FrameMapResult", "average_precision", "box_iou", "evaluate_files", "frame_map",
           "precision_recall"]
