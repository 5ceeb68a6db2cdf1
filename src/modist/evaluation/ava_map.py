"""Frame-mAP at IoU 0.5: AVA's official metric, computed as the ActivityNet evaluator does.

The official evaluator (ActivityNet ``Evaluation/ava``: ``get_ava_performance.py`` over the
TF object-detection ``object_detection_evaluation.PascalDetectionEvaluator``,
``per_image_evaluation.py``, ``metrics.py``, ``np_box_ops.py``; PySlowFast's
``slowfast/utils/ava_eval_helper.py`` wraps the same code) is reproduced with these conventions:

* **Boxes.** CSVs store ``x1, y1, x2, y2`` normalised; the TF code reorders them to
  ``y1, x1, y2, x2``. IoU is order-free, so it is computed here on ``x1, y1, x2, y2``:
  areas ``(x2 - x1) * (y2 - y1)`` **without** the ``+1`` of pixel-based VOC code.
* **Keyframes.** A keyframe is ``video_id,%04d`` of the integer timestamp. Ground truth and
  detections on excluded keyframes are dropped before anything else. Detections on a keyframe
  without ground truth are false positives (ActivityNet's ``get_ava_performance.py`` and PySlowFast);
  the 2019 challenge's variant instead ignores detections on keyframes the ground-truth file does
  not list (two-column rows list a keyframe without boxes): ``only_gt_keyframes=True``.
* **Classes.** Rows whose action is not in the label map given (the evaluated list: 60 classes
  for AVA v2.x) are dropped on reading, from both files. A class is evaluated when it has ground
  truth; mAP is the plain mean of their APs (``np.nanmean``), a class with ground truth but no
  detection scoring 0.
* **Detections kept.** At most 50 (box, action) rows per keyframe, the highest-scoring ones (the
  official ``read_csv(..., capacity=50)`` heap; a later row only displaces a lower score), across
  all classes together. A box with several labels is several rows.
* **Matching.** Per keyframe and class, detections with ``x1 >= x2`` or ``y1 >= y2`` are removed;
  the rest, in descending score, each take the ground-truth box of highest IoU (first on ties); a
  true positive if that IoU >= 0.5 and that box is not yet taken, else a false positive (a
  duplicate never moves on to its second-best box).
* **AP.** All detections of a class sorted by descending score; precision and recall cumulated;
  ``compute_average_precision`` pads recall with 0 and 1 and precision with 0 and 0, makes
  precision monotone from the right, and sums ``(r[i] - r[i-1]) * p[i]`` where recall changes.
  Equal scores keep file order here (numpy's unstable argsort in the official code leaves it
  unspecified).

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

IOU_THRESHOLD = 0.5
MAX_DETECTIONS_PER_KEYFRAME = 50


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
    """Cumulative precision and recall of detections sorted by descending score."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(hits), np.cumsum(1.0 - hits)
    return ctp / np.maximum(ctp + cfp, 1e-12), ctp / num_gt


@dataclass
class FrameMapResult:
    """mAP over the evaluated classes with ground truth, and what went into it."""

    mean_ap: float
    ap: dict[int, float]  # evaluated classes only
    num_gt: dict[int, int]
    num_detections: dict[int, int]
    names: dict[int, str] = field(default_factory=dict)
    keyframes: int = 0

    def to_json(self) -> dict:
        return {"metric": "frame-mAP@0.5 (AVA official)", "mAP": self.mean_ap, "keyframes": self.keyframes,
                "per_class": [{"id": c, "name": self.names.get(c, str(c)), "AP": self.ap[c],
                               "num_gt": self.num_gt[c], "num_detections": self.num_detections.get(c, 0)}
                              for c in sorted(self.ap)]}

    def table(self) -> str:
        """Markdown table: mAP, then AP per class."""
        lines = [f"frame-mAP@0.5: **{100 * self.mean_ap:.2f}** over {len(self.ap)} classes, "
                 f"{self.keyframes} keyframes", "", "| id | action | AP | GT boxes | detections |",
                 "|---:|---|---:|---:|---:|"]
        for c in sorted(self.ap):
            lines.append(f"| {c} | {self.names.get(c, c)} | {100 * self.ap[c]:.2f} | {self.num_gt[c]} | "
                         f"{self.num_detections.get(c, 0)} |")
        return "\n".join(lines)


def _keep_top(pred: AvaBoxes, capacity: int) -> dict[str, np.ndarray]:
    """Row indices per keyframe: the ``capacity`` best as the official heap keeps them, by descending score."""
    out = {}
    for key, rows in pred.by_key().items():
        if capacity > 0 and len(rows) > capacity:
            heap: list[tuple[float, int, int]] = []
            for n, i in enumerate(rows):
                item = (pred.scores[i], -n, int(i))
                if len(heap) < capacity:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
            rows = np.asarray(sorted(i for _, _, i in heap), dtype=np.int64)
        out[key] = rows[np.argsort(-pred.scores[rows], kind="stable")]
    return out


def frame_map(gt: AvaBoxes, pred: AvaBoxes, classes: Mapping[int, str], *, excluded: set[str] | frozenset = frozenset(),
              iou_threshold: float = IOU_THRESHOLD, max_per_keyframe: int = MAX_DETECTIONS_PER_KEYFRAME,
              only_gt_keyframes: bool = False) -> FrameMapResult:
    """Official frame-mAP of ``pred`` against ``gt`` over ``classes`` (id -> name), see the module docstring."""
    wanted = np.asarray(sorted(classes), dtype=np.int64)
    if only_gt_keyframes:
        listed = gt.all_keys | set(gt.keys)
        pred = pred.select(np.array([k in listed for k in pred.keys], dtype=bool))

    def keep(rows: AvaBoxes) -> AvaBoxes:
        mask = np.isin(rows.labels, wanted) & np.array([k not in excluded for k in rows.keys], dtype=bool)
        return rows.select(mask)

    gt, pred = keep(gt), keep(pred)
    gt_rows = gt.by_key()
    num_gt = {int(c): int(np.sum(gt.labels == c)) for c in wanted}
    scores: dict[int, list[np.ndarray]] = {int(c): [] for c in wanted}
    tps: dict[int, list[np.ndarray]] = {int(c): [] for c in wanted}
    for key, rows in _keep_top(pred, max_per_keyframe).items():
        boxes, labels = pred.boxes[rows], pred.labels[rows]
        valid = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
        rows, boxes, labels = rows[valid], boxes[valid], labels[valid]
        g = gt_rows.get(key, np.zeros(0, dtype=np.int64))
        for c in np.unique(labels):
            mine = labels == c
            gt_c = gt.boxes[g[gt.labels[g] == c]]
            tp = np.zeros(int(mine.sum()), dtype=bool)
            if len(gt_c):
                iou = box_iou(boxes[mine], gt_c)
                best = np.argmax(iou, axis=1)
                taken = np.zeros(len(gt_c), dtype=bool)
                for i, j in enumerate(best):
                    if iou[i, j] >= iou_threshold and not taken[j]:
                        tp[i] = taken[j] = True
            scores[int(c)].append(pred.scores[rows[mine]])
            tps[int(c)].append(tp)
    ap, dets = {}, {}
    for c in (int(c) for c in wanted):
        s = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        dets[c] = int(s.size)
        if num_gt[c] == 0:
            continue
        t = np.concatenate(tps[c]) if tps[c] else np.zeros(0, dtype=bool)
        ap[c] = average_precision(*precision_recall(s, t, num_gt[c]))
    mean = float(np.mean(list(ap.values()))) if ap else float("nan")
    return FrameMapResult(mean, ap, {c: num_gt[c] for c in ap}, dets, {int(c): classes[c] for c in wanted},
                          keyframes=len(gt_rows))


def evaluate_files(gt_csv: str | os.PathLike, pred_csv: str | os.PathLike, labels: str | os.PathLike, *,
                   exclusions: str | os.PathLike | None = None, only_gt_keyframes: bool = False) -> FrameMapResult:
    """Frame-mAP of a prediction CSV against an annotation CSV (the official file formats)."""
    return frame_map(read_ava_csv(Path(gt_csv)), read_ava_csv(Path(pred_csv), scored=True), read_label_map(labels),
                     excluded=read_exclusions(exclusions), only_gt_keyframes=only_gt_keyframes)


__all__ = ["FrameMapResult", "average_precision", "box_iou", "evaluate_files", "frame_map", "precision_recall"]
