"""Classification scores from predictions or class probabilities.

Example:
    >>> y = np.array([0, 0, 1, 1]); pred = np.array([0, 1, 1, 1])
    >>> confusion_matrix(y, pred, 2).tolist()
    [[1, 1], [0, 2]]
    >>> per_class_accuracy(y, pred, 2).tolist(), mean_class_accuracy(y, pred, 2)
    ([0.5, 1.0], 0.75)
"""

from __future__ import annotations

import numpy as np


def top1(labels: np.ndarray, pred: np.ndarray) -> float:
    return float((np.asarray(pred) == np.asarray(labels)).mean()) if len(labels) else 0.0


def topk(labels: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores."""
    if not len(labels):
        return 0.0
    k = min(k, probs.shape[1])
    best = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float((best == np.asarray(labels)[:, None]).any(axis=1).mean())


def confusion_matrix(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``C[i, j]`` = number of videos of class ``i`` predicted as ``j``."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(pred)), 1)
    return cm


def per_class_accuracy(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Recall of each class; NaN for a class absent from ``labels``."""
    cm = confusion_matrix(labels, pred, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def mean_class_accuracy(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Mean of the per-class accuracies over the classes present."""
    acc = per_class_accuracy(labels, pred, num_classes)
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else 0.0


def classification_metrics(labels: np.ndarray, pred: np.ndarray, num_classes: int,
                           probs: np.ndarray | None = None) -> dict[str, float]:
    """``top1``, ``mean_class_acc`` and, given probabilities, ``top5``."""
    out = {"top1": top1(labels, pred), "mean_class_acc": mean_class_accuracy(labels, pred, num_classes)}
    if probs is not None:
        out["top5"] = topk(labels, probs, 5)
    return out
