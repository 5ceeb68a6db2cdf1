"""Saliency pictures from plain arrays: heat overlays, per-clip GIFs and contact sheets.

A heat map is normalised per clip (divided by its maximum over the clip's frames), so
frames of one clip are comparable with each other but clips and encoders each use their
own scale: the pictures show *where* an encoder looks, not how strongly.

Example:
    >>> import numpy as np, tempfile, os
    >>> frames = np.zeros((4, 8, 8, 3), np.uint8); heat = np.zeros((4, 8, 8)); heat[:, 2, 2] = 1.0
    >>> side_by_side(frames, heat).shape
    (4, 8, 16, 3)
    >>> d = tempfile.mkdtemp()
    >>> save_gif(side_by_side(frames, heat), os.path.join(d, "clip.gif"))
    >>> contact_sheet([frames[1]], {"enc": [heat_overlay(frames, heat)[1]]}, os.path.join(d, "sheet.png"))
    >>> sorted(os.listdir(d))
    ['clip.gif', 'sheet.png']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from modist.atomic import atomic_path


def heat_overlay(frames: np.ndarray, heat: np.ndarray, *, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """uint8 [T, H, W, 3] frames blended with ``heat`` [T, H, W] (colour-mapped, per-clip max = 1)."""
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != frames.shape[:3]:
        raise ValueError(f"heat map {heat.shape} does not match frames {frames.shape[:3]}")
    top = float(heat.max())
    norm = heat / top if top > 0 else heat
    colour = plt.get_cmap(cmap)(norm)[..., :3] * 255.0
    return (frames.astype(np.float32) * (1 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8)


def side_by_side(frames: np.ndarray, heat: np.ndarray, **overlay) -> np.ndarray:
    """[T, H, 2W, 3]: each frame beside its heat overlay."""
    return np.concatenate([frames, heat_overlay(frames, heat, **overlay)], axis=2)


def _upscale(img: np.ndarray, scale: int) -> np.ndarray:
    return img.repeat(scale, axis=-3).repeat(scale, axis=-2) if scale > 1 else img


def save_gif(panels: np.ndarray, path: str | os.PathLike, *, fps: float = 8.0, scale: int = 1) -> None:
    """Write uint8 [T, H, W, 3] as a looping GIF (pixels repeated ``scale`` times), atomically."""
    from PIL import Image

    images = [Image.fromarray(p) for p in _upscale(np.asarray(panels, np.uint8), scale)]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=0)


def contact_sheet(frames: Sequence[np.ndarray], columns: Mapping[str, Sequence[np.ndarray]],
                  out_png: str | os.PathLike, *, row_labels: Sequence[str] | None = None, title: str = "",
                  cell_inches: float = 1.3, dpi: int = 80) -> None:
    """One row per clip: its frame, then one overlay [H, W, 3] per column (e.g. per checkpoint)."""
    n = len(frames)
    if any(len(v) != n for v in columns.values()):
        raise ValueError("every column needs one image per row")
    names = ["frame", *columns]
    fig, axes = plt.subplots(n, len(names), figsize=(cell_inches * len(names), cell_inches * n + 0.4 * bool(title)),
                             dpi=dpi, squeeze=False)
    for r in range(n):
        cells = [frames[r], *(columns[c][r] for c in columns)]
        for c, img in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=9)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def saliency_grid(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                  columns: Mapping[str, Sequence[np.ndarray]], out_png: str | os.PathLike, *,
                  row_labels: Sequence[str] | None = None, title: str = "",
                  cell_inches: float = 1.6, dpi: int = 100) -> None:
    """One row per clip: its frame [H, W, 3], its actor mask [H, W], then one heat map [H, W] per column
    (e.g. per arm), each scaled to its own maximum (a shared colour bar, 0..1), the mask's outline drawn
    on every map.

    Example:
        >>> import tempfile, os
        >>> f = np.zeros((8, 8, 3), np.uint8); m = np.zeros((8, 8), bool); m[2:5, 2:5] = True
        >>> p = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> saliency_grid([f], [m], {"a": [m * 1.0], "b": [np.ones((8, 8))]}, p, title="t")
        >>> os.path.getsize(p) > 0
        True
    """
    n = len(frames)
    if len(masks) != n or any(len(v) != n for v in columns.values()):
        raise ValueError("every column needs one image per row")
    names = ["frame", "actor mask", *columns]
    fig, axes = plt.subplots(n, len(names), squeeze=False, dpi=dpi,
                             figsize=(cell_inches * len(names) + 1.0, cell_inches * n + 0.5 * bool(title) + 0.3))
    image = None
    for r in range(n):
        mask = np.asarray(masks[r], bool)
        for c, name in enumerate(names):
            ax = axes[r, c]
            if c == 0:
                ax.imshow(frames[r], interpolation="nearest")
            elif c == 1:
                ax.imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                heat = np.asarray(columns[name][r], np.float32)
                top = float(heat.max())
                image = ax.imshow(heat / top if top > 0 else heat, cmap="inferno", vmin=0, vmax=1,
                                  interpolation="nearest")
                if mask.any():
                    ax.contour(mask.astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / fig.get_figwidth(), 1))
    if image is not None:  # a shared bar in the reserved right margin, its label inside the figure
        bar = fig.add_axes((1 - 0.75 / fig.get_figwidth(), 0.15, 0.12 / fig.get_figwidth(), 0.7))
        fig.colorbar(image, cax=bar).set_label("saliency / clip max", fontsize=7)
        bar.tick_params(labelsize=6)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
