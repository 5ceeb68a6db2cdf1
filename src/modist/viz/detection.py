"""Keyframes with true boxes (green, their action names) and predicted boxes (red, top action and score).

Example:
    >>> import numpy as np, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "boxes.png")
    >>> panel = {"title": "v,0902", "frame": np.zeros((32, 48, 3), np.uint8),
    ...          "true": [([0.1, 0.1, 0.5, 0.9], "walk")], "pred": [([0.2, 0.1, 0.6, 0.9], "walk 0.83")]}
    >>> plot_keyframe_boxes([panel], out)
    >>> os.path.getsize(out) > 1000
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from modist.atomic import atomic_path


def plot_keyframe_boxes(panels: Sequence[dict], out_png: str | os.PathLike, *, columns: int = 3) -> None:
    """One panel per keyframe: ``frame`` uint8 [H, W, 3]; ``true``/``pred`` lists of (normalised x1y1x2y2, text)."""
    n = max(len(panels), 1)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, panel in zip(axes.flat, panels):
        frame = panel["frame"]
        h, w = frame.shape[:2]
        ax.imshow(frame)
        for color, key, va in (("lime", "true", "bottom"), ("red", "pred", "top")):
            for (x1, y1, x2, y2), text in panel.get(key, []):
                ax.add_patch(Rectangle((x1 * w, y1 * h), (x2 - x1) * w, (y2 - y1) * h, fill=False,
                                       edgecolor=color, linewidth=1.5))
                ax.text(x1 * w, (y1 if va == "bottom" else y2) * h, text, color=color, fontsize=7, va=va,
                        bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
        ax.set_title(panel.get("title", ""), fontsize=8)
    fig.suptitle("true (green) vs predicted (red) boxes", fontsize=9)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


__all__ = ["plot_keyframe_boxes"]
