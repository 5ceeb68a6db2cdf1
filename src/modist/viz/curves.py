"""Training-curve plots (loss and its terms per step)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from modist.atomic import atomic_path


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window <= 1:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_training_curves(history: list[dict], out_png: str | os.PathLike, title: str = "") -> None:
    """Plot every ``loss*`` series of ``history`` (moving average) against the step."""
    if not history:
        return
    keys = [k for k in history[0] if k.startswith("loss") or k == "train_acc"]
    steps = np.array([h["step"] for h in history])
    window = max(1, len(history) // 50)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key in keys:
        values = np.array([h.get(key, np.nan) for h in history], dtype=float)
        smoothed = _smooth(values, window)
        ax.plot(steps[len(steps) - len(smoothed):], smoothed, label=key, linewidth=1.5 if key == "loss" else 1.0)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
