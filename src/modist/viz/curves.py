"""Training-curve plots: loss and its terms, learning rate and throughput per step.

Drawn with matplotlib's object API (a ``Figure`` of its own, no ``pyplot`` state), so a
run can redraw its curves from a background thread while it trains.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> history = [{"step": s, "loss": 5 - s / 10, "lr": 0.1, "clips_per_s": 20.0, "data_wait_s": 0.5}
    ...            for s in range(1, 11)]
    >>> out = Path(tempfile.mkdtemp()) / "curves.png"
    >>> curve_panels(history)
    ['loss', 'lr', 'throughput']
    >>> plot_training_curves(history, out, title="demo")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from modist.atomic import atomic_path


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window <= 1:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _series(history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of the records that hold ``key``."""
    rows = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    if not rows:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*rows)
    return np.asarray(steps), np.asarray(values, dtype=float)


def curve_panels(history: list[dict]) -> list[str]:
    """The panels ``history`` has data for: ``loss`` always, ``lr`` and ``throughput`` when logged."""
    panels = ["loss"]
    if any("lr" in h for h in history):
        panels.append("lr")
    if any("clips_per_s" in h for h in history):
        panels.append("throughput")
    return panels


def plot_training_curves(history: list[dict], out_png: str | os.PathLike, title: str = "") -> None:
    """Plot every ``loss*`` series of ``history``, the learning rate and throughput (moving averages).

    One panel each, sharing the step axis; the throughput panel shows clips/s and, on its
    right axis, the seconds the steps waited for data. Written atomically.
    """
    if not history:
        return
    panels = curve_panels(history)
    fig = Figure(figsize=(6, 2.2 + 1.6 * len(panels)), dpi=100)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    window = max(1, len(history) // 50)
    loss_ax = axes[0]
    keys = [k for k in history[0] if k.startswith("loss") or k == "train_acc"]
    for key in keys:
        steps, values = _series(history, key)
        smoothed = _smooth(values, window)
        loss_ax.plot(steps[len(steps) - len(smoothed):], smoothed, label=key,
                     linewidth=1.5 if key == "loss" else 1.0)
    loss_ax.set_ylabel("loss")
    loss_ax.legend(fontsize=8)
    loss_ax.set_title(title)
    if "lr" in panels:
        ax = axes[panels.index("lr")]
        ax.plot(*_series(history, "lr"), color="tab:purple", linewidth=1.0)
        ax.set_ylabel("learning rate")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if "throughput" in panels:
        ax = axes[panels.index("throughput")]
        steps, rate = _series(history, "clips_per_s")
        smoothed = _smooth(rate, window)
        ax.plot(steps[len(steps) - len(smoothed):], smoothed, color="tab:green", linewidth=1.0)
        ax.set_ylabel("clips/s", color="tab:green")
        steps, wait = _series(history, "data_wait_s")
        if len(steps):
            right = ax.twinx()
            smoothed = _smooth(wait, window)
            right.plot(steps[len(steps) - len(smoothed):], smoothed, color="tab:red", linewidth=0.8, alpha=0.7)
            right.set_ylabel("data wait (s)", color="tab:red")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
