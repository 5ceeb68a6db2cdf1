"""Side-by-side flow visualisation of a video: frame | colour-coded flow | flow edges.

Example:
    >>> panels = flow_panels(np.zeros((3, 32, 32, 3), np.uint8))
    >>> panels.shape
    (2, 32, 96, 3)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from modist.atomic import atomic_path
from modist.data.sampling import flow_partners
from modist.errors import ConfigError
from modist.flow.color import flow_to_color
from modist.flow.encodings import flow_edges_uint8
from modist.flow.estimate import estimate

FORMATS = (".gif", ".mp4")


def flow_panels(
    frames: np.ndarray, estimator: str = "dis", flow_gap: int = 1, progress: bool = False,
    flow_direction: str = "forward", **options: Any
) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` -> ``[T - flow_gap, H, 3 W, 3]`` panels for pairs ``(t, t + flow_gap)``
    (``forward``, frames ``0 .. T - 1 - flow_gap``) or ``(t, t - flow_gap)`` (``backward``, frames
    ``flow_gap .. T - 1``): only frames whose partner is not clamped.

    Colours share one normalisation for the whole video (the 99th percentile of flow
    magnitude), so brightness means the same speed in every frame.
    """
    shown = np.arange(len(frames) - flow_gap) if flow_direction == "forward" else np.arange(flow_gap, len(frames))
    partners = flow_partners(shown, flow_gap, flow_direction, len(frames))
    flows = [
        estimate(frames[t], frames[u], estimator=estimator, **options)
        for t, u in tqdm(list(zip(shown, partners)), desc="flow", unit="pair", disable=not progress)
    ]
    if not flows:
        return np.zeros((0, frames.shape[1], 3 * frames.shape[2], 3), np.uint8)
    flow = np.stack(flows)
    max_flow = max(float(np.percentile(np.linalg.norm(flow, axis=-1), 99)), 1.0)
    edges = flow_edges_uint8(flow)
    panels = [
        np.concatenate([frames[t], flow_to_color(flow[k], max_flow), np.repeat(edges[k][..., None], 3, -1)], axis=1)
        for k, t in enumerate(shown)
    ]
    return np.stack(panels)


def write_animation(path: str | os.PathLike, frames: np.ndarray, fps: float) -> None:
    """Write uint8 ``[T, H, W, 3]`` as ``.gif`` (PIL) or ``.mp4`` (PyAV), atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"{path}: unsupported format {suffix or '(none)'}; use .gif or .mp4")
    if suffix == ".mp4":
        from modist.data.video import write_video

        write_video(path, frames, fps=fps)
        return
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=max(20, int(round(1000 / fps))), loop=0
        )
