"""End-to-end finetuning of an encoder (or a random init: the supervised-from-scratch baseline).

The recipe follows the MoDist release's UCF101 finetuning: one random clip per video
per epoch; random resized crop (area 0.3-1 of the frame, aspect 0.5-2), horizontal
flip, colour jitter (strength 0.4) with probability 0.6, grayscale with probability
0.5; dropout 0.5 before a linear classifier; SGD with momentum 0.9, weight decay 1e-4,
linear warm-up then cosine decay of the learning rate. Testing averages the class
probabilities of ``temporal_views x spatial_views`` views (:mod:`.multiview`).

Example:
    >>> from modist.evaluation.encoder import EvalEncoder
    >>> enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32)
    >>> result = finetune(enc, train_records, {"test": test_records}, num_classes=10)  # doctest: +SKIP
    >>> result.splits["test"].metrics["top1"]                                        # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.data.augment import PairedAugment
from modist.data.clips import MultiClipDataset, collate_clips
from modist.data.records import VideoRecord
from modist.data.sampling import clip_span
from modist.errors import DataError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.metrics import classification_metrics
from modist.evaluation.multiview import average_view_probs
from modist.evaluation.protocols import ProtocolResult
from modist.models.classifier import VideoClassifier
from modist.models.encoder_io import save_weights
from modist.models.inputs import InputPipeline
from modist.schedules import lr_factor

FINETUNED_WEIGHTS = "finetuned.safetensors"


@dataclass(frozen=True)
class FinetuneRecipe:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: float = 2.0
    dropout: float = 0.5
    crop_scale: tuple[float, float] = (0.3, 1.0)
    crop_ratio: tuple[float, float] = (0.5, 2.0)
    flip: bool = True
    color_jitter: float = 0.4
    color_jitter_prob: float = 0.6
    grayscale_prob: float = 0.5
    temporal_views: int = 10
    spatial_views: int = 3
    max_steps: int | None = None  # stop early (smoke tests); the schedule still spans all epochs
    seed: int = 0

    def augment(self, crop_size: int) -> PairedAugment:
        return PairedAugment(crop_size, scale=self.crop_scale, ratio=self.crop_ratio, flip=self.flip,
                             color_jitter=self.color_jitter, color_jitter_prob=self.color_jitter_prob,
                             grayscale_prob=self.grayscale_prob, train=True)


class RandomClipDataset(MultiClipDataset):
    """One clip per video at a uniformly random start (a new draw each epoch)."""

    def __init__(self, records: list[VideoRecord], source, clip_frames: int, stride: int):
        super().__init__(records, source, clip_frames, stride, num_clips=1)

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        last_start = max(num_frames - clip_span(self.clip_frames, self.stride), 0)
        # Drawn from torch so that torch.manual_seed and DataLoader worker seeding apply.
        return [int(torch.randint(0, last_start + 1, ()).item())]


@dataclass
class FinetuneResult:
    model: VideoClassifier
    history: list[dict]
    splits: dict[str, ProtocolResult] = field(default_factory=dict)
    skipped_train: int = 0


def finetune(
    encoder: EvalEncoder,
    train_records: list[VideoRecord],
    test_splits: dict[str, list[VideoRecord]],
    num_classes: int,
    recipe: FinetuneRecipe = FinetuneRecipe(),
    *,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    progress: bool = True,
    frame_cache: int = 0,
) -> FinetuneResult:
    """Finetune a copy of ``encoder.backbone`` on ``train_records``, then test each split.

    ``frame_cache > 0`` keeps that many decoded videos in memory between epochs (small datasets).
    """
    if len(train_records) < 2:
        raise DataError(f"finetune: the training split has {len(train_records)} video(s); at least 2 are needed")
    if any(r.label is None for r in train_records):
        raise DataError("finetune: the training split has unlabeled videos")
    device = torch.device(device)
    torch.manual_seed(recipe.seed)
    model = VideoClassifier(copy.deepcopy(encoder.backbone), num_classes, recipe.dropout).to(device)
    m = encoder.motion
    source = encoder.clip_source(frame_cache)
    clips = RandomClipDataset(train_records, source, encoder.clip_frames, encoder.stride)
    batch_size = min(recipe.batch_size, len(train_records))
    loader = DataLoader(clips, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_clips,
                        num_workers=num_workers, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(recipe.seed))
    inputs = InputPipeline(recipe.augment(encoder.crop_size), m.encoding, max_flow=m.max_flow, edge_max=m.edge_max)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    per_epoch = len(loader)
    total = recipe.epochs * per_epoch
    warmup = int(round(recipe.warmup_epochs * per_epoch))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup, "cosine"))
    steps = total if recipe.max_steps is None else min(total, recipe.max_steps)
    history: list[dict] = []
    skipped = 0
    bar = tqdm(total=steps, desc="finetune", disable=not progress, leave=False)
    model.train()
    while len(history) < steps:
        before = len(history)
        for batch in loader:
            skipped += batch["skipped"]
            if batch["size"] < 2:  # BatchNorm needs two clips; a batch of unreadable videos is dropped
                continue
            rgb, motion = inputs(batch, device, encoder.modality == "motion")
            x = (rgb if encoder.modality == "rgb" else motion)[0]
            labels = batch["label"].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, labels)
            if not torch.isfinite(loss):
                raise DataError(f"finetune: the loss became {loss.item()} at step {len(history) + 1}; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"step": len(history) + 1, "epoch": len(history) // per_epoch + 1, "loss": loss.item(),
                            "train_acc": (logits.argmax(1) == labels).float().mean().item(),
                            "lr": opt.param_groups[0]["lr"]})
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if len(history) >= steps:
                break
        if len(history) == before:
            raise DataError("finetune: no readable training videos (every batch was skipped)")
    bar.close()
    result = FinetuneResult(model, history, skipped_train=skipped)
    for split, records in test_splits.items():
        result.splits[split] = evaluate_views(model, encoder, records, num_classes, split=split,
                                              temporal_views=recipe.temporal_views,
                                              spatial_views=recipe.spatial_views, device=device,
                                              batch_size=batch_size, num_workers=num_workers, progress=progress)
    return result


def save_finetuned(out_dir: str | os.PathLike, result: FinetuneResult) -> Path:
    """Write the finetuned classifier (``backbone.*`` and ``fc.*``) to ``out_dir/finetuned.safetensors``."""
    return save_weights(Path(out_dir) / FINETUNED_WEIGHTS, result.model)


@torch.no_grad()
def evaluate_views(model: nn.Module, encoder: EvalEncoder, records: list[VideoRecord], num_classes: int, *,
                   split: str = "test", temporal_views: int = 10, spatial_views: int = 3,
                   device: torch.device | str = "cpu", batch_size: int = 8, num_workers: int = 0,
                   progress: bool = True) -> ProtocolResult:
    """Top-1/top-5 of ``model`` with class probabilities averaged over the views of each video."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    views = encoder.view_pipeline(spatial_views)
    dataset = MultiClipDataset(records, encoder.clip_source(), encoder.clip_frames, encoder.stride, temporal_views)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_clips, num_workers=num_workers)
    probs, labels, skipped = [], [], 0
    for batch in tqdm(loader, desc=f"test {split}", disable=not progress, leave=False):
        skipped += batch["skipped"]
        if batch["size"] == 0:
            continue
        rgb, motion = views(batch, device, encoder.modality == "motion")
        x = rgb if encoder.modality == "rgb" else motion  # [V, B, ...]
        v, b = x.shape[:2]
        logits = model(x.flatten(0, 1)).reshape(v, b, -1).transpose(0, 1)
        probs.append(average_view_probs(logits.float().cpu()))
        labels.append(batch["label"])
    model.train(was_training)
    if not probs:
        raise DataError(f"split {split!r}: no readable videos to test")
    p = torch.cat(probs).numpy()
    y = torch.cat(labels).numpy().astype(np.int64)
    if (y < 0).any():
        raise DataError(f"split {split!r}: has unlabeled videos; testing needs labels")
    pred = p.argmax(1)
    metrics = classification_metrics(y, pred, num_classes, p)
    return ProtocolResult("finetune", split, metrics, y, pred, len(y), skipped,
                          {"views": f"{temporal_views}x{spatial_views}"})
