"""A synthetic action-detection benchmark in the AVA file formats (``modist synth --task detection``).

Every video holds 2-3 *actors* drawn exactly as the classification benchmark draws its one actor
(:mod:`modist.synth.scene`: textured sprites on a background family, small distractor shapes
wandering about, camera pan in some videos), at the same pixel scale as the demo's benchmark, so
an encoder pretrained there sees familiar actors. Each actor moves with its own motion class from
:data:`modist.synth.classes.CLASS_NAMES` for the whole video; with probability ``multi_label`` it
combines a path (translate, oscillate, circle) with an in-place motion (rotate, zoom) and its box
carries both labels, as an AVA box carries a pose and an interaction. Appearance is drawn the same
way for every class, so only motion tells an actor's actions.

The **scene-bias knob and splits** follow the classification benchmark: in ``train``, ``val`` and
``test_biased`` the background family is the first actor's first class's own with probability
``scene_bias``; in ``test_unbiased`` it is uniform. ``val`` (drawn like ``train``) is for choosing
settings; the test splits are for reporting.

Keyframes are at 1 fps (timestamps ``900 + s`` for second ``s`` of the file: the 15-minute-clip
convention), from second 1 to ``seconds - 1``, so a clip centred on any keyframe lies inside the
video. Each keyframe's boxes (the tight box of the actor's full sprite, occluded or not) are written
as AVA v2.2's annotation CSVs, with the label map, an excluded-timestamps CSV (each test video's last
keyframe) and proposals CSVs: each actor's box jittered with a high score (missed with probability
``miss``), plus false positives with scores spread across the usual 0.8 threshold. The folder is a
valid ``ava:`` root as well as ``synth-det:``.

Example:
    >>> import tempfile
    >>> cfg = DetectionSynthConfig(train_videos=1, val_videos=1, test_videos=1, seconds=2, size=48)
    >>> out = generate_detection(tempfile.mkdtemp(), cfg)
    >>> len(list((out / "annotations").iterdir())), len(list((out / "videos_15min").iterdir()))
    (13, 4)
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from modist.atomic import atomic_path, write_json
from modist.data.adapters.ava import CLIP_OFFSET_SEC, write_label_map
from modist.data.video import write_video
from modist.synth.classes import CLASS_NAMES, Motion, sample_motion
from modist.synth.config import DetectionSynthConfig
from modist.synth.scene import (
    ACTOR_SIZE,
    apparent_vertices,
    draw_scenery,
    draw_sprite,
    fit_in_frame,
    make_sprite,
    plan_distractors,
    plan_pan,
)
from modist.synth.shapes import actor_outline
from modist.synth.textures import BACKGROUND_NAMES, render_background

#: AVA-style action ids (1-based) -> names: the classification benchmark's motion classes.
ACTIONS: dict[int, str] = {i + 1: name for i, name in enumerate(CLASS_NAMES)}
#: Classes that move the actor along a path, and classes that change it in place; a two-label
#: actor takes one of each (its offset from the first, its angle or scale from the second).
PATH_CLASSES = ("translate_right", "translate_left", "translate_up", "translate_down", "oscillate", "circle")
IN_PLACE_CLASSES = ("rotate_cw", "rotate_ccw", "zoom_in", "zoom_out")
SPLITS = ("train", "val", "test_biased", "test_unbiased")
UNBIASED_SPLITS = ("test_unbiased",)
GENERATOR_VERSION = 2
INFO_NAME = "synth_det.json"
MAX_OVERLAP_IOU = 0.25  # placements are redrawn until no two actors' boxes overlap more than this
_PLACEMENT_TRIES = 40


@dataclass(frozen=True)
class Actor:
    """One actor of a video: its action ids and its box per frame (normalised x1, y1, x2, y2)."""

    actions: tuple[int, ...]
    boxes: np.ndarray  # float [T, 4]


def split_counts(cfg: DetectionSynthConfig) -> dict[str, int]:
    return {"train": cfg.train_videos, "val": cfg.val_videos, "test_biased": cfg.test_videos,
            "test_unbiased": cfg.test_videos}


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that decides everything about video ``index`` of ``split`` (so any video can be
    regenerated alone, and a split's videos do not change when another split's count does)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 17, SPLITS.index(split), index]))


def draw_actions(rng: np.random.Generator, multi_label: float) -> tuple[str, ...]:
    """One class uniformly, or with probability ``multi_label`` a path class plus an in-place class."""
    if rng.random() < multi_label:
        return (str(rng.choice(PATH_CLASSES)), str(rng.choice(IN_PLACE_CLASSES)))
    return (CLASS_NAMES[int(rng.integers(len(CLASS_NAMES)))],)


def combined_motion(names: tuple[str, ...], rng: np.random.Generator, frames: int, unit: float) -> Motion:
    """The actor's pose over time: each class contributes what it moves (offset, angle or scale)."""
    motions = {name: sample_motion(CLASS_NAMES.index(name), rng, frames, unit) for name in names}
    offset, angle, scale = np.zeros((frames, 2)), None, np.ones(frames)
    for name, m in motions.items():
        if name in PATH_CLASSES:
            offset = m.offset
        if name in ("rotate_cw", "rotate_ccw") or angle is None:
            angle = m.angle
        if name in ("zoom_in", "zoom_out"):
            scale = m.scale
    return Motion(offset, angle, scale)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU per row of two [T, 4] box arrays."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def render_detection_video(cfg: DetectionSynthConfig, split: str, rng: np.random.Generator
                           ) -> tuple[np.ndarray, list[Actor], int]:
    """Frames uint8 [T, S, S, 3], the actors (boxes from their drawn sprites) and the background family."""
    size, frames, unit = cfg.size, cfg.seconds * cfg.fps, cfg.unit
    pan_rng, scene_rng, actor_rng, distractor_rng = rng.spawn(4)

    n = int(actor_rng.integers(cfg.min_actors, cfg.max_actors + 1))
    actions = [draw_actions(actor_rng, cfg.multi_label) for _ in range(n)]
    first_class = CLASS_NAMES.index(actions[0][0])
    biased, uniform = scene_rng.random() < cfg.scene_bias, int(scene_rng.integers(len(BACKGROUND_NAMES)))
    family = first_class % len(BACKGROUND_NAMES) if biased and split not in UNBIASED_SPLITS else uniform

    pan, margin = plan_pan(pan_rng, cfg.camera_pan_prob, frames, unit)
    scenery = render_background(family, size + 2 * margin, size + 2 * margin, scene_rng, unit)

    # Plan every actor, redrawing placements until their boxes do not overlap much.
    plans, planned_boxes = [], []
    for names in actions:
        outline = actor_outline(actor_rng, actor_rng.uniform(*ACTOR_SIZE) * unit * cfg.actor_scale)
        sprite = make_sprite(outline, actor_rng, unit * cfg.texture_scale)
        motion, actor_pan = fit_in_frame(outline, combined_motion(names, actor_rng, frames, unit), pan, size)
        path = apparent_vertices(outline, motion, actor_pan)
        low, high = 1.0 - path.min(axis=(0, 1)), size - 2.0 - path.max(axis=(0, 1))
        best = None
        for _ in range(_PLACEMENT_TRIES):
            start = actor_rng.uniform(low, np.maximum(low, high))
            box = np.concatenate([(path + start).min(axis=1), (path + start).max(axis=1)], axis=1)
            worst = max((float(_iou(box, other).max()) for other in planned_boxes), default=0.0)
            if best is None or worst < best[0]:
                best = (worst, start, box)
            if worst <= MAX_OVERLAP_IOU:
                break
        _, start, box = best
        planned_boxes.append(box)
        plans.append((sprite, start + motion.offset + actor_pan, motion.angle, motion.scale))

    distractors = plan_distractors(distractor_rng, cfg.num_distractors, pan, size, unit)
    video = np.empty((frames, size, size, 3), np.uint8)
    boxes = np.zeros((n, frames, 4))
    for i in range(frames):
        frame = draw_scenery(scenery, pan[i], distractors, i, size)
        for a, (sprite, centre, angle, scale) in enumerate(plans):
            ys, xs = np.nonzero(draw_sprite(frame, sprite, centre[i], angle[i], scale[i]))
            if len(xs):  # the tight box of the whole sprite, whether or not another actor hides part of it
                boxes[a, i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        video[i] = frame
    actors = [Actor(tuple(CLASS_NAMES.index(c) + 1 for c in names), boxes[a] / size)
              for a, names in enumerate(actions)]
    return video, actors, family


def _write_csv(path: Path, rows: list[list]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def _fmt(box: np.ndarray) -> list[str]:
    return [f"{c:.4f}" for c in box]


def generate_detection(out: str | os.PathLike, cfg: DetectionSynthConfig | None = None, *,
                       progress: bool = False) -> Path:
    """Write the benchmark under ``out`` (see the module docstring); returns ``out``.

    A folder already holding this exact benchmark (same settings, same generator) is reused as is.
    """
    cfg = (cfg or DetectionSynthConfig()).validate()
    out = Path(out)
    info = {"generator_version": GENERATOR_VERSION, "config": asdict(cfg), "actions": ACTIONS,
            "splits": split_counts(cfg)}
    if _is_complete(out, info):
        return out
    ann, videos = out / "annotations", out / "videos_15min"
    ann.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    (out / INFO_NAME).unlink(missing_ok=True)  # written last: its presence marks a complete benchmark
    write_label_map(ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt", ACTIONS)
    bar = tqdm(total=sum(split_counts(cfg).values()), desc="synth detection", unit="video", disable=not progress)
    for split, count in split_counts(cfg).items():
        gt, props, excluded = [], [], []
        for v in range(count):
            vid = f"{split}{v:04d}"
            rng = video_rng(cfg.seed, split, v)
            frames, actors, _ = render_detection_video(cfg, split, rng)
            write_video(videos / f"{vid}.mp4", frames, fps=cfg.fps, crf=cfg.crf)
            prop_rng = rng.spawn(1)[0]
            for sec in range(1, cfg.seconds):
                ts, f = f"{CLIP_OFFSET_SEC + sec:04d}", sec * cfg.fps
                for pid, actor in enumerate(actors):
                    box = actor.boxes[f]
                    gt.extend([vid, ts, *_fmt(box), action, pid] for action in actor.actions)
                    if prop_rng.random() >= cfg.miss:
                        wh = np.tile(box[2:] - box[:2], 2)
                        jit = np.clip(box + prop_rng.uniform(-0.05, 0.05, 4) * wh, 0, 1)
                        props.append([vid, ts, *_fmt(jit), "", f"{prop_rng.uniform(0.85, 1.0):.4f}"])
                for _ in range(prop_rng.poisson(cfg.false_positives)):
                    side = prop_rng.uniform(0.1, 0.25, 2)
                    x, y = prop_rng.uniform(0, 1 - side)
                    fp = np.array([x, y, x + side[0], y + side[1]])
                    props.append([vid, ts, *_fmt(fp), "", f"{prop_rng.uniform(0.5, 0.95):.4f}"])
            if split.startswith("test") and cfg.seconds > 2:
                excluded.append([vid, f"{CLIP_OFFSET_SEC + cfg.seconds - 1:04d}"])
            bar.update()
        if count:
            _write_csv(ann / f"ava_{split}_v2.2.csv", gt)
            _write_csv(ann / f"ava_{split}_predicted_boxes.csv", props)
            _write_csv(ann / f"ava_{split}_excluded_timestamps_v2.2.csv", excluded)
    bar.close()
    write_json(out / INFO_NAME, info)
    return out


def _is_complete(out: Path, info: dict) -> bool:
    try:
        return json.loads((out / INFO_NAME).read_text()) == json.loads(json.dumps(info))
    except (OSError, ValueError):
        return False


def read_config(out: str | os.PathLike) -> DetectionSynthConfig:
    """The settings a benchmark folder was generated with."""
    return DetectionSynthConfig.from_dict(json.loads((Path(out) / INFO_NAME).read_text())["config"])


def with_overrides(cfg: DetectionSynthConfig, **given) -> DetectionSynthConfig:
    """``cfg`` with every non-``None`` value of ``given`` replaced, validated."""
    return replace(cfg, **{k: v for k, v in given.items() if v is not None}).validate()


__all__ = ["ACTIONS", "Actor", "DetectionSynthConfig", "IN_PLACE_CLASSES", "PATH_CLASSES", "SPLITS",
           "combined_motion", "draw_actions", "generate_detection", "read_config", "render_detection_video",
           "with_overrides"]
