"""Confusion-matrix and per-class-accuracy plots of a classification result.

The confusion matrix is row-normalised (each true class sums to 1), so rare classes
are as visible as frequent ones; cells show counts when the matrix is small. Class
names label the axes up to ``max_labels`` classes (beyond that, indices only).

Example:
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> cm = np.array([[3, 1], [0, 4]])
    >>> plot_confusion(cm, ["a", "b"], os.path.join(d, "cm.png"))
    >>> os.path.isfile(os.path.join(d, "cm.png"))
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from modist.atomic import atomic_path


def _names(class_names: Sequence[str], n: int) -> list[str]:
    names = list(class_names)
    return names if len(names) == n else [str(i) for i in range(n)]


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], out_png: str | os.PathLike, title: str = "",
                   max_labels: int = 40) -> None:
    """Row-normalised confusion matrix ``cm[true, predicted]`` as a heat map."""
    n = cm.shape[0]
    support = cm.sum(axis=1, keepdims=True)
    norm = np.where(support > 0, cm / np.maximum(support, 1), 0.0)
    side = float(np.clip(0.35 * n + 2.5, 4.0, 16.0))
    fig, ax = plt.subplots(figsize=(side + 1.0, side), dpi=100)
    im = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    if n <= max_labels:
        names = _names(class_names, n)
        ax.set_xticks(range(n), names, rotation=90, fontsize=8)
        ax.set_yticks(range(n), names, fontsize=8)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def plot_per_class_accuracy(accuracy: np.ndarray, class_names: Sequence[str], out_png: str | os.PathLike,
                            title: str = "", chance: float | None = None, max_labels: int = 60) -> None:
    """Bar per class of its accuracy (NaN bars, classes absent from the test set, are left empty)."""
    n = len(accuracy)
    width = float(np.clip(0.3 * n + 2.0, 5.0, 20.0))
    fig, ax = plt.subplots(figsize=(width, 3.8), dpi=100)
    values = np.nan_to_num(np.asarray(accuracy, float), nan=0.0)
    ax.bar(range(n), 100 * values, color="tab:blue")
    mean = np.nanmean(accuracy) if np.isfinite(accuracy).any() else 0.0
    ax.axhline(100 * mean, color="tab:orange", linewidth=1, label=f"mean {100 * mean:.1f}")
    if chance is not None:
        ax.axhline(100 * chance, color="grey", linestyle="--", linewidth=1, label=f"chance {100 * chance:.1f}")
    if n <= max_labels:
        ax.set_xticks(range(n), _names(class_names, n), rotation=90, fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
