"""AVA-style action detection: train a RoI head on an encoder, predict, score with the official frame-mAP.

Protocol (PySlowFast's AVA recipe at a smaller scale):

* **Input.** Per keyframe, ``clip_frames`` frames ``stride`` apart centred on it (exact seek), the
  whole frame resized to ``crop_size`` x ``crop_size`` so that normalised boxes need no change,
  normalised with the Kinetics mean/std the encoders were trained with. RGB encoders only.
* **Training** boxes are the ground-truth person boxes, each coordinate jittered by up to
  ``box_jitter`` of the box's side; targets are multi-hot over the evaluated classes; loss is
  binary cross-entropy. No flip: the synthetic benchmark's classes are directions.
* **Testing** boxes are the person proposals of the test keyframe scoring at least
  ``proposal_threshold`` (without a proposals file: the ground-truth boxes, reported as such);
  each box is written once per evaluated class with its sigmoid score.
* **Frozen** (default) trains the head only, the backbone in eval mode (BN statistics kept);
  ``finetune`` trains both, the backbone at the same learning rate.

Example:
    >>> r = DetectRecipe()
    >>> r.finetune, r.proposal_threshold, r.resolution
    (False, 0.8, 7)
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from modist.atomic import write_json, write_text
from modist.data.adapters.ava import (
    AvaBoxes,
    AvaDataset,
    AvaKeyframe,
    keyframe_clip,
    load_ava,
    read_ava_csv,
    write_ava_csv,
)
from modist.data.augment import MEAN, STD
from modist.errors import ConfigError, DataError
from modist.evaluation.ava_map import FrameMapResult, frame_map
from modist.evaluation.encoder import EvalEncoder
from modist.models.detection import ActionDetector, dilate_last_stage

log = logging.getLogger(__name__)

DETECTION_KINDS = ("ava", "synth-det")


@dataclass
class DetectRecipe:
    """Head training and testing settings."""

    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 8
    finetune: bool = False
    proposal_threshold: float = 0.8
    box_jitter: float = 0.05
    weight_decay: float = 1e-7  # PySlowFast's AVA setting
    dropout: float = 0.5
    resolution: int = 7
    dilate: bool = False  # SlowFast's AVA backbone: last stage at spatial stride 1, dilation 2
    max_steps: int | None = None
    seed: int = 0
    panels: int = 6


@dataclass
class DetectionResult:
    """The official metric and what the run wrote."""

    metric: FrameMapResult
    history: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def mean_ap(self) -> float:
        return self.metric.mean_ap

    def table(self) -> str:
        return self.metric.table()


def load_detection_dataset(spec: str, split: str, *, proposals: str | os.PathLike | None = None,
                           allow_pickle: bool = False) -> AvaDataset:
    """``ava:ROOT`` or ``synth-det:DIR`` (the synthetic benchmark, written in the AVA layout)."""
    kind, sep, root = spec.partition(":")
    if not sep or kind not in DETECTION_KINDS or not root:
        raise ConfigError(f"--dataset {spec!r}: expected ava:ROOT or synth-det:DIR")
    if not Path(root).is_dir():
        raise DataError(f"{root}: {kind} dataset folder not found")
    return load_ava(root, split, proposals=proposals, allow_pickle=allow_pickle)


def _frames_to_input(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> normalised float [3, T, size, size]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    return (x - mean) / std


class _Clips:
    """Decoded keyframe clips, the first ``max_bytes`` worth kept in memory (all of a small benchmark)."""

    def __init__(self, enc: EvalEncoder, *, max_bytes: int = 1 << 30):
        self.enc, self.left, self.cache = enc, max_bytes, {}

    def __call__(self, kf: AvaKeyframe) -> torch.Tensor:
        if kf.key in self.cache:
            return self.cache[kf.key]
        frames = keyframe_clip(kf.video, kf.time_sec, num_frames=self.enc.clip_frames, stride=self.enc.stride)
        x = _frames_to_input(frames, self.enc.crop_size)
        size = x.numel() * x.element_size()
        if size <= self.left:
            self.cache[kf.key] = x
            self.left -= size
        return x


def _jitter(boxes: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    if amount <= 0 or len(boxes) == 0:
        return boxes
    wh = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    out = np.clip(boxes + rng.uniform(-amount, amount, boxes.shape) * wh, 0.0, 1.0)
    bad = (out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])
    out[bad] = boxes[bad]
    return out


def _rois(per_frame: list[np.ndarray]) -> torch.Tensor:
    rows = [np.concatenate([np.full((len(b), 1), i), b], axis=1) for i, b in enumerate(per_frame) if len(b)]
    return torch.from_numpy(np.concatenate(rows).astype(np.float32)) if rows else torch.zeros(0, 5)


def train_detector(model: ActionDetector, train: list[AvaKeyframe], class_ids: list[int], clips: _Clips,
                   recipe: DetectRecipe, *, device: torch.device) -> list[dict]:
    """Multi-label BCE on jittered ground-truth boxes; returns per-step loss."""
    frames = [kf for kf in train if len(kf.boxes)]
    if not frames:
        raise DataError("no training keyframe has a person box")
    column = {c: i for i, c in enumerate(class_ids)}
    params = list(model.parameters()) if recipe.finetune else list(model.head.parameters())
    if not recipe.finetune:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    opt = torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(frames) / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    if recipe.max_steps:
        total = min(total, recipe.max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    rng = np.random.default_rng(recipe.seed)
    history: list[dict] = []
    step = 0
    while step < total:
        order = rng.permutation(len(frames))
        for start in range(0, len(frames), recipe.batch_size):
            if step >= total:
                break
            batch = [frames[i] for i in order[start:start + recipe.batch_size]]
            x = torch.stack([clips(kf) for kf in batch]).to(device)
            rois = _rois([_jitter(kf.boxes, recipe.box_jitter, rng) for kf in batch]).to(device)
            target = torch.zeros(len(rois), len(class_ids), device=device)
            r = 0
            for kf in batch:
                for labels in kf.labels:
                    for c in labels:
                        if c in column:
                            target[r, column[c]] = 1.0
                    r += 1
            model.train()
            if not recipe.finetune:
                model.backbone.eval()
            with torch.set_grad_enabled(recipe.finetune):
                feats = model.backbone.forward_features(x)
            logits = model.head(feats, rois)
            loss = F.binary_cross_entropy_with_logits(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            history.append({"step": step, "loss": float(loss.detach())})
    return history


@torch.no_grad()
def predict(model: ActionDetector, test: list[AvaKeyframe], boxes_of: dict[str, np.ndarray], class_ids: list[int],
            clips: _Clips, *, device: torch.device, batch_size: int = 8) -> tuple[AvaBoxes, dict[str, np.ndarray]]:
    """Official prediction rows (every box x every class with its sigmoid score) and per-keyframe scores."""
    model.eval()
    keys, out_boxes, labels, scores = [], [], [], []
    per_key: dict[str, np.ndarray] = {}
    todo = [kf for kf in test if len(boxes_of.get(kf.key, ()))]
    ids = np.asarray(class_ids, dtype=np.int64)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        x = torch.stack([clips(kf) for kf in batch]).to(device)
        per_frame = [boxes_of[kf.key] for kf in batch]
        probs = model(x, _rois(per_frame).to(device)).sigmoid().cpu().numpy()
        r = 0
        for kf, b in zip(batch, per_frame):
            per_key[kf.key] = probs[r:r + len(b)]
            for box in b:
                keys.extend([kf.key] * len(ids))
                out_boxes.append(np.repeat(box[None], len(ids), axis=0))
                labels.append(ids)
                scores.append(probs[r])
                r += 1
    n = len(keys)
    rows = AvaBoxes(keys, np.concatenate(out_boxes) if out_boxes else np.zeros((0, 4)),
                    np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64),
                    np.concatenate(scores).astype(np.float64) if scores else np.zeros(0),
                    np.full(n, -1, dtype=np.int64), set(keys))
    return rows, per_key


def _test_boxes(test: AvaDataset, threshold: float) -> tuple[dict[str, np.ndarray], str]:
    if test.proposals is None:
        return {kf.key: kf.boxes for kf in test.keyframes}, "ground-truth boxes (no proposals file)"
    p = test.proposals
    out: dict[str, list] = {}
    for i in np.flatnonzero(p.scores >= threshold):
        out.setdefault(p.keys[i], []).append(p.boxes[i])
    return {k: np.asarray(v) for k, v in out.items()}, f"proposals scoring >= {threshold}"


def _panels(test: list[AvaKeyframe], per_key: dict[str, np.ndarray], boxes_of: dict[str, np.ndarray],
            class_ids: list[int], names: dict[int, str], count: int) -> list[dict]:
    panels = []
    for kf in [kf for kf in test if kf.key in per_key][:count]:
        frame = keyframe_clip(kf.video, kf.time_sec, num_frames=1, stride=1)[0]
        true = [(b.tolist(), ", ".join(names.get(c, str(c)) for c in ls) or "-") for b, ls in zip(kf.boxes, kf.labels)]
        pred = []
        for b, p in zip(boxes_of[kf.key], per_key[kf.key]):
            j = int(np.argmax(p))
            pred.append((b.tolist(), f"{names.get(class_ids[j], class_ids[j])} {p[j]:.2f}"))
        panels.append({"title": kf.key, "frame": frame, "true": true, "pred": pred})
    return panels


def run_detection(enc: EvalEncoder, dataset: str, recipe: DetectRecipe, *, out: str | os.PathLike,
                  train_split: str = "train", test_split: str = "val", proposals: str | os.PathLike | None = None,
                  allow_pickle: bool = False, device: torch.device | str = "cpu") -> DetectionResult:
    """Train, predict on the test split, score; writes results.json, results.md, predictions.csv, boxes.png."""
    from modist.viz.detection import plot_keyframe_boxes

    if enc.modality != "rgb":
        raise ConfigError(f"detection needs an RGB encoder; {enc.weights or 'this encoder'} is {enc.modality}")
    t0 = time.time()
    device = torch.device(device)
    torch.manual_seed(recipe.seed)
    train = load_detection_dataset(dataset, train_split)
    test = load_detection_dataset(dataset, test_split, proposals=proposals, allow_pickle=allow_pickle)
    class_ids = sorted(test.label_map)
    names = test.label_map
    if recipe.dilate:
        dilate_last_stage(enc.backbone)
    model = ActionDetector(enc.backbone, len(class_ids), resolution=recipe.resolution, dropout=recipe.dropout)
    model.to(device)
    clips = _Clips(enc)
    history = train_detector(model, train.keyframes, class_ids, clips, recipe, device=device)
    boxes_of, box_source = _test_boxes(test, recipe.proposal_threshold)
    rows, per_key = predict(model, test.keyframes, boxes_of, class_ids, clips, device=device,
                            batch_size=recipe.batch_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_ava_csv(out / "predictions.csv", rows)
    metric = frame_map(read_ava_csv(test.gt_csv), rows, names, excluded=test.excluded)
    meta = {"dataset": dataset, "train_split": train_split, "test_split": test_split,
            "train_keyframes": len(train), "test_keyframes": len(test), "test_boxes": box_source,
            "mode": "finetune" if recipe.finetune else "frozen", "recipe": asdict(recipe),
            "encoder": {"checkpoint": str(enc.weights) if enc.weights else None, **enc.settings(),
                        "arch": enc.meta.get("arch")}, "missing_videos": len(train.missing) + len(test.missing),
            "seconds": round(time.time() - t0, 1)}
    result = DetectionResult(metric, history, meta)
    write_json(out / "results.json", {**metric.to_json(), "meta": meta, "history": history})
    write_text(out / "results.md", f"# Action detection ({meta['mode']}, {dataset})\n\n{metric.table()}\n\n"
                                   f"Test boxes: {box_source}.\n")
    panels = _panels(test.keyframes, per_key, boxes_of, class_ids, names, recipe.panels)
    if panels:
        plot_keyframe_boxes(panels, out / "boxes.png")
    log.info("detection: %s", json.dumps({"mAP": metric.mean_ap, "seconds": meta["seconds"]}))
    return result


__all__ = ["DETECTION_KINDS", "DetectRecipe", "DetectionResult", "load_detection_dataset", "predict",
           "run_detection", "train_detector"]
