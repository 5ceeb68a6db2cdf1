"""A synthetic action-detection benchmark in the AVA file formats (``modist synth --task detection``).

Each video shows 2-3 actors, textured rectangles on a textured background, each moving with its
own motion class for the whole video (appearance is random, so only motion tells the class).
Keyframes are at 1 fps; their person boxes, one action each, are written exactly as AVA v2.2's
annotation CSVs, with the label map, an excluded-timestamps CSV (one excluded keyframe per test
video) and proposals CSVs: each actor's box jittered with a high score (missed with probability
``miss``), plus false positives with scores spread across the usual 0.8 threshold. The folder is
a valid ``ava:`` root as well as ``synth-det:``.

Timestamps follow the 15-minute-clip convention: timestamp ``900 + s`` is second ``s`` of the file.

Example:
    >>> import tempfile
    >>> out = generate_detection(tempfile.mkdtemp(), DetectionSynthConfig(train_videos=1, val_videos=1, seconds=3))
    >>> len(sorted(p.name for p in (out / "annotations").iterdir())), len(list((out / "videos_15min").iterdir()))
    (7, 2)
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from modist.atomic import atomic_path, write_json
from modist.data.adapters.ava import CLIP_OFFSET_SEC, write_label_map
from modist.data.video_write import write_video

#: action id -> (name, velocity (dx, dy) in px per frame at 64 px; "wave" oscillates sideways)
ACTIONS = {1: ("walk right", (1.0, 0.0)), 2: ("walk left", (-1.0, 0.0)), 3: ("climb up", (0.0, -1.0)),
           4: ("fall down", (0.0, 1.0)), 5: ("stand still", (0.0, 0.0)), 6: ("wave", (0.0, 0.0))}


@dataclass
class DetectionSynthConfig:
    train_videos: int = 24
    val_videos: int = 8
    seconds: int = 5  # keyframes at 1 .. seconds-1
    fps: int = 8
    size: int = 64
    min_actors: int = 2
    max_actors: int = 3
    false_positives: float = 1.0  # mean false-positive proposals per keyframe
    miss: float = 0.05
    seed: int = 0


def _texture(rng: np.random.Generator, h: int, w: int, period: int) -> np.ndarray:
    small = rng.integers(0, 256, (max(1, h // period) + 1, max(1, w // period) + 1, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, period, 0), period, 1)[:h, :w]


def _video(rng: np.random.Generator, cfg: DetectionSynthConfig) -> tuple[np.ndarray, list[dict]]:
    n_frames, s = cfg.seconds * cfg.fps, cfg.size
    scale = s / 64
    frames = np.repeat(_texture(rng, s, s, max(2, int(8 * scale)))[None] // 2 + 40, n_frames, axis=0)
    actors = []
    n = int(rng.integers(cfg.min_actors, cfg.max_actors + 1))
    classes = rng.choice(sorted(ACTIONS), size=n, replace=n > len(ACTIONS))
    for cls in classes:
        w, h = int(rng.integers(10, 15) * scale), int(rng.integers(16, 22) * scale)
        vx, vy = (v * scale for v in ACTIONS[int(cls)][1])
        span_x, span_y = abs(vx) * (n_frames - 1), abs(vy) * (n_frames - 1)
        x0 = rng.uniform(0, max(s - w - span_x, 1)) + (span_x if vx < 0 else 0)
        y0 = rng.uniform(0, max(s - h - span_y, 1)) + (span_y if vy < 0 else 0)
        t = np.arange(n_frames)
        xs, ys = x0 + vx * t, y0 + vy * t
        if int(cls) == 6:
            amp = 3 * scale
            xs = np.clip(x0 + amp * np.sin(2 * np.pi * t / cfg.fps * 2), 0, s - w)
        xs, ys = np.clip(xs, 0, s - w), np.clip(ys, 0, s - h)
        patch = _texture(rng, h, w, max(2, int(3 * scale)))
        for f in range(n_frames):
            x, y = int(round(xs[f])), int(round(ys[f]))
            frames[f, y:y + h, x:x + w] = patch
        boxes = np.stack([xs.round(), ys.round(), xs.round() + w, ys.round() + h], axis=1) / s
        actors.append({"action": int(cls), "boxes": boxes})
    return frames, actors


def _write_csv(path: Path, rows: list[list]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def generate_detection(out: str | os.PathLike, cfg: DetectionSynthConfig | None = None) -> Path:
    """Write the benchmark under ``out`` (see the module docstring); returns ``out``."""
    cfg = cfg or DetectionSynthConfig()
    out = Path(out)
    ann, videos = out / "annotations", out / "videos_15min"
    ann.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    write_label_map(ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt", {k: v[0] for k, v in ACTIONS.items()})
    for split, count in (("train", cfg.train_videos), ("val", cfg.val_videos)):
        gt, props, excluded = [], [], []
        for v in range(count):
            vid = f"{split}{v:04d}"
            frames, actors = _video(rng, cfg)
            write_video(videos / f"{vid}.mp4", frames, fps=cfg.fps)
            for sec in range(1, cfg.seconds):
                ts, f = f"{CLIP_OFFSET_SEC + sec:04d}", sec * cfg.fps
                for pid, actor in enumerate(actors):
                    box = actor["boxes"][f]
                    gt.append([vid, ts, *(f"{c:.3f}" for c in box), actor["action"], pid])
                    if rng.random() >= cfg.miss:
                        wh = np.tile(box[2:] - box[:2], 2)
                        jit = np.clip(box + rng.uniform(-0.05, 0.05, 4) * wh, 0, 1)
                        props.append([vid, ts, *(f"{c:.3f}" for c in jit), "", f"{rng.uniform(0.85, 1.0):.4f}"])
                for _ in range(rng.poisson(cfg.false_positives)):
                    x, y = rng.uniform(0, 0.75, 2)
                    fp = [x, y, x + rng.uniform(0.15, 0.25), y + rng.uniform(0.2, 0.3)]
                    props.append([vid, ts, *(f"{c:.3f}" for c in fp), "", f"{rng.uniform(0.5, 0.95):.4f}"])
            if split == "val" and cfg.seconds > 2:
                excluded.append([vid, f"{CLIP_OFFSET_SEC + cfg.seconds - 1:04d}"])
        _write_csv(ann / f"ava_{split}_v2.2.csv", gt)
        _write_csv(ann / f"ava_{split}_predicted_boxes.csv", props)
        _write_csv(ann / f"ava_{split}_excluded_timestamps_v2.2.csv", excluded)
    write_json(out / "synth_det.json", {"config": asdict(cfg), "actions": {k: v[0] for k, v in ACTIONS.items()}})
    return out


def read_config(out: str | os.PathLike) -> dict:
    return json.loads((Path(out) / "synth_det.json").read_text())


__all__ = ["ACTIONS", "DetectionSynthConfig", "generate_detection"]
