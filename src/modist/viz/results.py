"""The demo's figures: linear-probe and kNN top-1 per method and test split; the length study's curves."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from modist.atomic import atomic_path


def plot_demo_results(summary: list[dict], out_png: str | os.PathLike, chance: float | None = None) -> None:
    """``summary`` rows have method, split, linear_mean/std, knn_mean/std (fractions)."""
    methods = list(dict.fromkeys(r["method"] for r in summary))
    splits = list(dict.fromkeys(r["split"] for r in summary))
    by_key = {(r["method"], r["split"]): r for r in summary}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), dpi=100, sharey=True)
    width = 0.8 / len(methods)
    x = np.arange(len(splits))
    for ax, metric in zip(axes, ("linear", "knn")):
        for i, m in enumerate(methods):
            rows = [by_key.get((m, s)) for s in splits]
            means = [100 * r[f"{metric}_mean"] if r else 0 for r in rows]
            stds = [100 * r[f"{metric}_std"] if r else 0 for r in rows]
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, means, width, yerr=stds, label=m, capsize=3)
        if chance is not None:
            ax.axhline(100 * chance, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks(x, splits)
        ax.set_title(f"{'linear probe' if metric == 'linear' else 'kNN'} top-1 (%)")
        ax.grid(axis="y", alpha=0.3)
    _save_with_legend(fig, axes[0], out_png, bottom=0.1)


def plot_length_study(curves: dict[str, list[dict]], out_png: str | os.PathLike) -> None:
    """``curves``: per method, points with ``steps``, ``linear_mean``/``_std`` (fractions) and
    ``lift_mean``/``_std`` (:func:`modist.demo.report.length_curves`); mean ± std over seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    panels = (("linear", 100, "linear probe top-1 on test_unbiased (%)"),
              ("lift", 1, "foreground lift (1 = no preference)"))
    for ax, (key, scale, title) in zip(axes, panels):
        for method, points in curves.items():
            points = [p for p in points if f"{key}_mean" in p]
            if not points:
                continue
            ax.errorbar([p["steps"] for p in points], [scale * p[f"{key}_mean"] for p in points],
                        yerr=[scale * p[f"{key}_std"] for p in points], marker="o", capsize=3, label=method)
        ax.set_xscale("log", base=2)
        steps = sorted({p["steps"] for points in curves.values() for p in points})
        ax.set_xticks(steps, [f"{s:,}" for s in steps])
        ax.minorticks_off()
        ax.set_xlabel("training steps")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="grey", linestyle="--", linewidth=1)
    _save_with_legend(fig, axes[0], out_png, bottom=0.08)


def _save_with_legend(fig, ax, out_png: str | os.PathLike, *, bottom: float) -> None:
    """One legend for the figure, below the axes (inside, it hides bars once there are more than
    three methods), then the PNG written atomically."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(max(len(labels), 1), 6), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
