"""AVA-style action detection: train a RoI head on an encoder, predict, score with the official frame-mAP.

Protocol (PySlowFast's AVA recipe at a smaller scale):

* **Input.** Per keyframe, ``clip_frames`` frames ``stride`` apart centred on it (exact seek), the
  whole frame resized to ``input_size`` x ``input_size`` so that normalised boxes need no change
  (default: the synthetic benchmark's own frame size, so its actors keep the pixel scale of the
  pretraining data; on AVA the encoder's crop size), normalised with the Kinetics mean/std the
  encoders were trained with. RGB encoders only.
* **Training** boxes are the ground-truth person boxes, each coordinate jittered by up to
  ``box_jitter`` of the box's side; targets are multi-hot over the evaluated classes; loss is
  binary cross-entropy. No flip: the synthetic benchmark's classes are directions.
* **Testing** boxes are the person proposals of the test keyframe scoring at least
  ``proposal_threshold`` (without a proposals file: the ground-truth boxes, reported as such);
  each box is written once per evaluated class with its sigmoid score.
* **Frozen** (default) trains the head only, the backbone in eval mode (BN statistics kept);
  ``finetune`` trains both, the backbone at the same learning rate. A frozen backbone sees each
  keyframe's clip once: its time-averaged feature map is kept (up to 1 GiB) and the head trains on it.

Example:
    >>> r = DetectRecipe()
    >>> r.finetune, r.proposal_threshold, r.resolution, r.peak_lr, DetectRecipe(finetune=True).peak_lr
    (False, 0.8, 7, 0.1, 0.01)
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
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
from modist.distributed import gather_objects, mean_across_ranks, setup_distributed, teardown_distributed
from modist.errors import ConfigError, DataError
from modist.evaluation.ava_map import FrameMapResult, frame_map
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.fit import fit
from modist.models.detection import ActionDetector, dilate_last_stage
from modist.runtime import distributed_world
from modist.schedules import cosine_factor

log = logging.getLogger(__name__)

DETECTION_KINDS = ("ava", "synth-det")
# Chosen on the synthetic benchmark's val split by the mean frame-mAP over several encoders
# (docs/detection.md): the frozen head wants a large step, finetuning the backbone a small one.
FROZEN_LR = 0.1
FINETUNE_LR = 0.01


@dataclass
class DetectRecipe:
    """Head training and testing settings."""

    epochs: int = 10
    lr: float | None = None  # peak learning rate; None: FROZEN_LR or FINETUNE_LR
    batch_size: int = 8
    finetune: bool = False
    proposal_threshold: float = 0.8
    box_jitter: float = 0.05
    weight_decay: float = 1e-7  # PySlowFast's AVA setting
    dropout: float = 0.5
    resolution: int = 7
    dilate: bool = True  # SlowFast's AVA backbone: last stage at spatial stride 1, dilation 2
    max_steps: int | None = None
    seed: int = 0
    panels: int = 6
    input_size: int | None = None  # frame side clips are resized to; None: see the module docstring


    @property
    def peak_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return FINETUNE_LR if self.finetune else FROZEN_LR


@dataclass
class DetectionResult:
    """The official metric and what the run wrote."""

    metric: FrameMapResult
    history: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    model: ActionDetector | None = None  # the trained detector (backbone and head)

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
        raise ConfigError(f"dataset {spec!r}: expected ava:ROOT or synth-det:DIR")
    if not Path(root).is_dir():
        raise DataError(f"{root}: {kind} dataset folder not found")
    return load_ava(root, split, proposals=proposals, allow_pickle=allow_pickle)


def native_frame_size(spec: str) -> int | None:
    """The frame side of a ``synth-det:`` benchmark (None for AVA or an unreadable settings file)."""
    from modist.synth.detection import read_config

    kind, _, root = spec.partition(":")
    if kind != "synth-det":
        return None
    try:
        return read_config(root).size
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        return None


def _frames_to_input(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> normalised float [3, T, size, size]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    return (x - mean) / std


class _Memo:
    """Per-keyframe tensors, the first ``max_bytes`` worth kept in memory (all of a small benchmark)."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.left, self.cache = max_bytes, {}

    def get(self, key: str, make) -> torch.Tensor:
        if key in self.cache:
            return self.cache[key]
        x = make()
        size = x.numel() * x.element_size()
        if size <= self.left:
            self.cache[key] = x
            self.left -= size
        return x


class _Clips:
    """Decoded keyframe clips, normalised and resized to ``size`` (up to ``max_bytes`` of them kept)."""

    def __init__(self, enc: EvalEncoder, size: int, *, max_bytes: int = 1 << 30):
        self.enc, self.size, self.memo = enc, size, _Memo(max_bytes)

    def __call__(self, kf: AvaKeyframe) -> torch.Tensor:
        def make():
            frames = keyframe_clip(kf.video, kf.time_sec, num_frames=self.enc.clip_frames, stride=self.enc.stride)
            return _frames_to_input(frames, self.size)

        return self.memo.get(kf.key, make)


class _Features:
    """The backbone's feature maps of a batch of keyframes. A frozen backbone's maps never change,
    so each keyframe's time-averaged map is computed once and kept; a trained one runs every time."""

    def __init__(self, model: ActionDetector, clips: _Clips, *, frozen: bool, device: torch.device):
        self.model, self.clips, self.frozen, self.device = model, clips, frozen, device
        self.memo = _Memo()

    def __call__(self, batch: list[AvaKeyframe]) -> torch.Tensor:
        if not self.frozen:
            return self.model.backbone.forward_features(torch.stack([self.clips(kf) for kf in batch]).to(self.device))
        todo = [kf for kf in batch if kf.key not in self.memo.cache]
        if todo:
            was_training = self.model.backbone.training
            self.model.backbone.eval()
            with torch.no_grad():
                x = torch.stack([self.clips(kf) for kf in todo]).to(self.device)
                maps = self.model.backbone.forward_features(x).mean(dim=2, keepdim=True)
            self.model.backbone.train(was_training)
            fresh = dict(zip((kf.key for kf in todo), maps))
        else:
            fresh = {}
        return torch.stack([self.memo.get(kf.key, lambda kf=kf: fresh[kf.key]) for kf in batch])


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


def _targets(batch: list[AvaKeyframe], column: dict[int, int], device: torch.device) -> torch.Tensor:
    """Multi-hot rows, one per box of the batch in order, over the evaluated classes."""
    target = torch.zeros(sum(len(kf.boxes) for kf in batch), len(column), device=device)
    r = 0
    for kf in batch:
        for labels in kf.labels:
            for c in labels:
                if c in column:
                    target[r, column[c]] = 1.0
            r += 1
    return target


def train_detector(model: ActionDetector, train: list[AvaKeyframe], class_ids: list[int], features: _Features,
                   recipe: DetectRecipe, *, device: torch.device) -> list[dict]:
    """Multi-label BCE on jittered ground-truth boxes; returns the loss of every step.

    Under ``torchrun`` each rank owns a fixed share of the keyframes (so a frozen backbone's kept
    maps are computed once in all, not once per rank) and takes ``batch_size / world`` of them per
    step; DDP averages the gradients, so a step sees ``batch_size`` keyframes as in one process.
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    frames = [kf for kf in train if len(kf.boxes)]
    if not frames:
        raise DataError("no training keyframe has a person box")
    rank, world = distributed_world()
    column = {c: i for i, c in enumerate(class_ids)}
    if not recipe.finetune:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    trained: torch.nn.Module = model if recipe.finetune else model.head
    if world > 1:
        trained = DDP(trained, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.SGD(trained.parameters(), lr=recipe.peak_lr, momentum=0.9, weight_decay=recipe.weight_decay)
    # Rank r owns keyframes r, r + world, ...; every rank takes the same number a pass.
    share = np.arange(rank, len(frames), world)[:max(len(frames) // world, 1)]
    local_batch = max(recipe.batch_size // world, 1)
    total = math.ceil(len(share) / local_batch) * recipe.epochs
    if recipe.max_steps:
        total = min(total, recipe.max_steps)
    # Rank 0 draws exactly what a single process draws.
    rng = np.random.default_rng(recipe.seed + 7919 * rank)

    def loss(batch: tuple[list[AvaKeyframe], torch.Tensor, torch.Tensor]) -> torch.Tensor:
        keyframes, rois, target = batch
        model.train()
        if recipe.finetune:
            logits = trained(torch.stack([features.clips(kf) for kf in keyframes]).to(device), rois)
        else:
            model.backbone.eval()
            logits = trained(features(keyframes), rois)
        return F.binary_cross_entropy_with_logits(logits, target)

    return fit(loss, _training_batches(frames, share, local_batch, column, recipe.box_jitter, rng, device),
               optimizer=opt, steps=total, lr=lambda step: recipe.peak_lr * cosine_factor(step, total),
               record=lambda step: {"step": step.index + 1,
                                    **mean_across_ranks({"loss": float(step.loss)}, device)})


def _training_batches(frames: list[AvaKeyframe], share: np.ndarray, batch_size: int, column: dict[int, int],
                      jitter: float, rng: np.random.Generator,
                      device: torch.device) -> Iterator[tuple[list[AvaKeyframe], torch.Tensor, torch.Tensor]]:
    """(keyframes, jittered RoIs, multi-hot targets) of each batch, pass after pass over ``share`` reshuffled."""
    while True:
        order = share[rng.permutation(len(share))]
        for start in range(0, len(order), batch_size):
            batch = [frames[i] for i in order[start:start + batch_size]]
            rois = _rois([_jitter(kf.boxes, jitter, rng) for kf in batch]).to(device)
            yield batch, rois, _targets(batch, column, device)


@torch.no_grad()
def predict(model: ActionDetector, test: list[AvaKeyframe], boxes_of: dict[str, np.ndarray], class_ids: list[int],
            features: _Features, *, device: torch.device,
            batch_size: int = 8) -> tuple[AvaBoxes, dict[str, np.ndarray]]:
    """Official prediction rows (every box x every class with its sigmoid score) and per-keyframe scores.

    Under ``torchrun`` each rank scores a share of the keyframes and every rank returns all rows.
    """
    model.eval()
    rank, world = distributed_world()
    todo = [kf for kf in test if len(boxes_of.get(kf.key, ()))]
    per_key: dict[str, np.ndarray] = {}
    for start in range(rank * batch_size, len(todo), world * batch_size):
        batch = todo[start:start + batch_size]
        per_frame = [boxes_of[kf.key] for kf in batch]
        probs = model.head(features(batch), _rois(per_frame).to(device)).sigmoid().cpu().numpy()
        r = 0
        for kf, b in zip(batch, per_frame):
            per_key[kf.key] = probs[r:r + len(b)]
            r += len(b)
    for part in gather_objects(per_key):  # [per_key] itself in one process
        per_key.update(part)
    keys, out_boxes, labels, scores = [], [], [], []
    ids = np.asarray(class_ids, dtype=np.int64)
    for kf in todo:  # the single-process row order, whoever scored the keyframe
        for box, p in zip(boxes_of[kf.key], per_key[kf.key]):
            keys.extend([kf.key] * len(ids))
            out_boxes.append(np.repeat(box[None], len(ids), axis=0))
            labels.append(ids)
            scores.append(p)
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
                  allow_pickle: bool = False, device: torch.device | str = "auto") -> DetectionResult:
    """Train, predict on the test split, score; writes results.json, results.md, predictions.csv, boxes.png.

    Launched by ``torchrun`` it joins the process group (each rank on ``cuda:LOCAL_RANK`` when
    ``device`` is ``auto`` or ``cuda``), shares the keyframes across ranks, and rank 0 writes.
    """
    from modist.viz.detection import plot_keyframe_boxes

    if enc.modality != "rgb":
        raise ConfigError(f"detection needs an RGB encoder; {enc.weights or 'this encoder'} is {enc.modality}")
    t0 = time.time()
    env, device = setup_distributed("auto", str(device))
    try:
        return _run_detection(enc, dataset, recipe, out=Path(out), train_split=train_split, test_split=test_split,
                              proposals=proposals, allow_pickle=allow_pickle, device=device, t0=t0,
                              main=env.is_main, plot=plot_keyframe_boxes)
    finally:
        teardown_distributed(env)


def _run_detection(enc: EvalEncoder, dataset: str, recipe: DetectRecipe, *, out: Path, train_split: str,
                   test_split: str, proposals, allow_pickle: bool, device: torch.device, t0: float, main: bool,
                   plot) -> DetectionResult:
    torch.manual_seed(recipe.seed)
    train = load_detection_dataset(dataset, train_split)
    test = load_detection_dataset(dataset, test_split, proposals=proposals, allow_pickle=allow_pickle)
    class_ids = sorted(test.label_map)
    names = test.label_map
    if recipe.dilate:
        dilate_last_stage(enc.backbone)
    model = ActionDetector(enc.backbone, len(class_ids), resolution=recipe.resolution, dropout=recipe.dropout)
    model.to(device)
    input_size = recipe.input_size or native_frame_size(dataset) or enc.crop_size
    # A frozen backbone keeps feature maps, so its clips are read once and need not be kept.
    clips = _Clips(enc, input_size, max_bytes=0 if not recipe.finetune else 1 << 30)
    features = _Features(model, clips, frozen=not recipe.finetune, device=device)
    history = train_detector(model, train.keyframes, class_ids, features, recipe, device=device)
    boxes_of, box_source = _test_boxes(test, recipe.proposal_threshold)
    rows, per_key = predict(model, test.keyframes, boxes_of, class_ids, features, device=device,
                            batch_size=recipe.batch_size)
    gt = read_ava_csv(test.gt_csv)
    metric = frame_map(gt, rows, names, excluded=test.excluded)
    # PySlowFast's copy of the evaluator (every row kept, file order) is what its published AVA
    # numbers come from; reported beside the official one so both comparisons can be made.
    pyslowfast_map = frame_map(gt, rows, names, excluded=test.excluded, protocol="pyslowfast").mean_ap
    meta = {"dataset": dataset, "train_split": train_split, "test_split": test_split,
            "train_keyframes": len(train), "test_keyframes": len(test), "test_boxes": box_source,
            "input_size": input_size, "world_size": distributed_world()[1],
            "mode": "finetune" if recipe.finetune else "frozen", "recipe": {**asdict(recipe), "lr": recipe.peak_lr},
            "encoder": {"checkpoint": str(enc.weights) if enc.weights else None, **enc.settings(),
                        "arch": enc.spec.arch}, "missing_videos": len(train.missing) + len(test.missing),
            "mAP_pyslowfast": pyslowfast_map, "seconds": round(time.time() - t0, 1)}
    result = DetectionResult(metric, history, meta, model)
    if not main:
        return result
    out.mkdir(parents=True, exist_ok=True)
    write_ava_csv(out / "predictions.csv", rows)
    write_json(out / "results.json", {**metric.to_json(), "meta": meta, "history": history})
    write_text(out / "results.md", f"# Action detection ({meta['mode']}, {dataset})\n\n{metric.table()}\n\n"
                                   f"Test boxes: {box_source}. PySlowFast's copy of the evaluator "
                                   f"(`--protocol pyslowfast`): {100 * pyslowfast_map:.2f}.\n")
    panels = _panels(test.keyframes, per_key, boxes_of, class_ids, names, recipe.panels)
    if panels:
        plot(panels, out / "boxes.png")
    log.info("detection: %s", json.dumps({"mAP": metric.mean_ap, "seconds": meta["seconds"]}))
    return result


__all__ = ["DETECTION_KINDS", "DetectRecipe", "DetectionResult", "load_detection_dataset", "predict",
           "run_detection", "train_detector"]
