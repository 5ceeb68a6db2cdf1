"""End-to-end finetuning of an encoder (or a random init: the supervised-from-scratch baseline).

:class:`FinetuneRecipe` holds every value of a run; its defaults are the ``modist``
protocol and :meth:`FinetuneRecipe.from_values` builds it from a named protocol of
:mod:`.presets` (``maclr``: the release's ``configs/UCF101/SLOW_32x8_R50.yaml``). Each
epoch draws one random clip per video ``expand_dataset`` times; random resized crop,
horizontal flip, colour jitter and grayscale as the recipe says; dropout before a linear
classifier; SGD with momentum (BatchNorm parameters may get their own weight decay) and a
per-step learning rate: ``schedule="modist"`` warms up linearly then decays along a half
cosine (:func:`modist.schedules.lr_factor`), ``schedule="pyslowfast"`` is
:func:`modist.schedules.pyslowfast_lr` (``slowfast/utils/lr_policy.py``). ``precise_bn_batches > 0``
recomputes the BN statistics over that many augmented training batches before testing
(:mod:`.precise_bn`). ``frozen_backbone=True`` is the release's online linear protocol:
only the classifier trains, the backbone stays in eval mode (its BN statistics are never
updated), and every step still decodes, augments and encodes fresh clips. Testing averages
the class probabilities of ``temporal_views x spatial_views`` views (:mod:`.multiview`) at
``test_crop_size``.

Example:
    >>> from modist.evaluation.encoder import EvalEncoder
    >>> enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32)
    >>> result = finetune(enc, train_records, {"test": test_records}, num_classes=10)  # doctest: +SKIP
    >>> result.splits["test"].metrics["top1"]                                        # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.data.augment import PairedAugment
from modist.data.clips import ClipBatch, MultiClipDataset, collate_clips
from modist.data.records import VideoRecord
from modist.data.sampling import clip_span
from modist.errors import ConfigError, DataError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.fit import StepResult, fit
from modist.evaluation.metrics import classification_metrics
from modist.evaluation.multiview import average_view_probs
from modist.evaluation.precise_bn import update_bn_stats
from modist.evaluation.protocols import ProtocolResult
from modist.flow.inputs import InputPipeline, modality_input
from modist.models.classifier import VideoClassifier
from modist.models.encoder_io import save_weights
from modist.schedules import lr_factor, pyslowfast_lr

log = logging.getLogger(__name__)

FINETUNED_WEIGHTS = "finetuned.safetensors"
SCHEDULES = ("modist", "pyslowfast")


@dataclass(frozen=True)
class FinetuneRecipe:
    """Every value of a finetuning (or online linear) run; the defaults are the ``modist`` protocol."""

    epochs: int = 30
    expand_dataset: int = 1  # each epoch visits every training video this many times
    batch_size: int = 16
    lr: float = 0.01
    schedule: str = "modist"  # modist | pyslowfast
    warmup_epochs: float = 2.0
    warmup_start_lr: float | None = None  # pyslowfast: the warm-up's first rate
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    bn_weight_decay: float | None = None  # BatchNorm weights and biases; None: weight_decay
    dropout: float = 0.5
    fc_init_std: float | None = None  # classifier weights ~ N(0, std^2), bias 0; None: PyTorch's init
    frozen_backbone: bool = False  # train the classifier only, the backbone in eval mode
    precise_bn_batches: int = 0
    crop_scale: tuple[float, float] = (0.3, 1.0)
    crop_ratio: tuple[float, float] = (0.5, 2.0)
    flip: bool = True
    color_jitter: float = 0.4
    color_jitter_prob: float = 0.6
    grayscale_prob: float = 0.5
    temporal_views: int = 10
    spatial_views: int = 3
    test_crop_size: int | None = None  # None: the encoder's crop size
    max_steps: int | None = None  # stop early (smoke tests); the schedule still spans all epochs
    seed: int = 0

    def __post_init__(self):
        for key in ("epochs", "expand_dataset", "batch_size", "temporal_views", "spatial_views"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.warmup_epochs < 0 or self.precise_bn_batches < 0:
            raise ConfigError("warmup_epochs and precise_bn_batches must be >= 0")
        if self.test_crop_size is not None and self.test_crop_size < 1:
            raise ConfigError(f"test_crop_size must be >= 1, got {self.test_crop_size}")
        if self.frozen_backbone and self.precise_bn_batches:
            raise ConfigError("precise_bn_batches must be 0 with frozen_backbone: a frozen backbone keeps its "
                              "BN statistics")

    @classmethod
    def from_values(cls, values: dict, **run) -> FinetuneRecipe:
        """The recipe of a protocol's values (:func:`modist.evaluation.presets.values`); ``run``: max_steps, seed.

        Keys that are not recipe fields (clip shape, notes) are ignored.

        Example:
            >>> from modist.evaluation import presets
            >>> r = FinetuneRecipe.from_values(presets.values(presets.resolve("finetune", "maclr")))
            >>> r.epochs, r.expand_dataset, r.batch_size, r.precise_bn_batches, r.test_crop_size
            (10, 20, 64, 200, 256)
        """
        names = {f.name for f in fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
        return cls(**{**kwargs, **run})

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


def learning_rate(recipe: FinetuneRecipe, step: int, steps_per_epoch: int) -> float:
    """The learning rate of (0-based) ``step``."""
    if recipe.schedule == "pyslowfast":
        start = recipe.lr if recipe.warmup_start_lr is None else recipe.warmup_start_lr
        return pyslowfast_lr(step / steps_per_epoch, base_lr=recipe.lr, epochs=recipe.epochs,
                             warmup_epochs=recipe.warmup_epochs, warmup_start_lr=start)
    total = recipe.epochs * steps_per_epoch
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    return recipe.lr * lr_factor(step, total, warmup, "cosine")


def param_groups(model: nn.Module, recipe: FinetuneRecipe) -> list[dict]:
    """Trainable parameters: BatchNorm weights and biases (``bn_weight_decay``), then the rest (``weight_decay``)."""
    bn, other = [], []
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        (bn if isinstance(module, nn.modules.batchnorm._BatchNorm) else other).extend(own)
    bn_decay = recipe.weight_decay if recipe.bn_weight_decay is None else recipe.bn_weight_decay
    groups = [{"params": other, "weight_decay": recipe.weight_decay}]
    if bn:
        groups.append({"params": bn, "weight_decay": bn_decay})
    return groups


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

    With ``recipe.frozen_backbone`` only the classifier trains (the results are named
    ``linear``, else ``finetune``). ``frame_cache > 0`` keeps that many decoded videos in
    memory between epochs (small datasets).
    """
    if len(train_records) < 2:
        raise DataError(f"finetune: the training split has {len(train_records)} video(s); at least 2 are needed")
    if any(r.label is None for r in train_records):
        raise DataError("finetune: the training split has unlabeled videos")
    task = "linear" if recipe.frozen_backbone else "finetune"
    device = torch.device(device)
    torch.manual_seed(recipe.seed)
    model = _classifier(encoder, num_classes, recipe, device)
    loader = _training_loader(encoder, train_records, recipe, task=task, device=device, num_workers=num_workers,
                              frame_cache=frame_cache)
    m = encoder.motion
    inputs = InputPipeline(recipe.augment(encoder.crop_size), m.encoding, max_flow=m.max_flow, edge_max=m.edge_max)
    clips = _TrainingClips(loader, inputs, encoder.modality, device, task)
    history = _train(model, clips, recipe, progress=progress)
    if recipe.precise_bn_batches > 0:
        update_bn_stats(model, (x for x, _ in clips.one_pass()), min(recipe.precise_bn_batches, len(loader)))
    result = FinetuneResult(model, history, skipped_train=clips.skipped)
    tester = encoder if recipe.test_crop_size is None else encoder.with_overrides(crop_size=recipe.test_crop_size)
    for split, records in test_splits.items():
        result.splits[split] = evaluate_views(model, tester, records, num_classes, split=split,
                                              temporal_views=recipe.temporal_views,
                                              spatial_views=recipe.spatial_views, device=device,
                                              batch_size=loader.batch_size, num_workers=num_workers,
                                              progress=progress, protocol=task)
    return result


def _classifier(encoder: EvalEncoder, num_classes: int, recipe: FinetuneRecipe,
                device: torch.device) -> VideoClassifier:
    """A copy of the encoder's backbone under a fresh classifier (its weights drawn from the global RNG)."""
    model = VideoClassifier(copy.deepcopy(encoder.backbone), num_classes, recipe.dropout).to(device)
    if recipe.fc_init_std is not None:
        nn.init.normal_(model.fc.weight, std=recipe.fc_init_std)
        nn.init.zeros_(model.fc.bias)
    if recipe.frozen_backbone:
        model.backbone.requires_grad_(False)
    return model


def _training_loader(encoder: EvalEncoder, records: list[VideoRecord], recipe: FinetuneRecipe, *, task: str,
                     device: torch.device, num_workers: int, frame_cache: int) -> DataLoader:
    """Shuffled batches of one random clip per video, ``expand_dataset`` times per epoch; incomplete batches dropped."""
    source = encoder.clip_source(frame_cache)
    # Repeating the list is the release's EXPAND_DATASET: item i is video i % N, shuffled together.
    clips = RandomClipDataset(records * recipe.expand_dataset, source, encoder.clip_frames, encoder.stride)
    batch_size = min(recipe.batch_size, len(clips))
    if batch_size < recipe.batch_size:
        log.warning("%s: batch size %d is more than the %d training clips of an epoch; using %d",
                    task, recipe.batch_size, len(clips), batch_size)
    return DataLoader(clips, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_clips,
                      num_workers=num_workers, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(recipe.seed))


class _TrainingClips:
    """The first view of each training batch on the device, with its labels; counts unreadable videos."""

    def __init__(self, loader: DataLoader, inputs: InputPipeline, modality: str, device: torch.device, task: str):
        self.loader, self.inputs, self.modality, self.device, self.task = loader, inputs, modality, device, task
        self.skipped = 0

    def one_pass(self, count: bool = False) -> Iterator[tuple[torch.Tensor, ClipBatch]]:
        """(input, batch) of every batch of one pass over the loader that holds two clips or more."""
        for batch in self.loader:
            if count:
                self.skipped += batch.skipped
            if batch.size < 2:  # BatchNorm needs two clips; a batch of unreadable videos is dropped
                continue
            yield modality_input(self.inputs, batch, self.device, self.modality)[0], batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(input, labels), pass after pass; a pass with no usable batch is an error."""
        while True:
            empty = True
            for x, batch in self.one_pass(count=True):
                empty = False
                yield x, batch.labels.to(self.device)
            if empty:
                raise DataError(f"{self.task}: no readable training videos (every batch was skipped)")


def _train(model: VideoClassifier, clips: _TrainingClips, recipe: FinetuneRecipe, *, progress: bool) -> list[dict]:
    """SGD on the cross-entropy of ``model``; one history row per step (loss, training accuracy, rate)."""
    opt = torch.optim.SGD(param_groups(model, recipe), lr=recipe.lr, momentum=recipe.momentum,
                          nesterov=recipe.nesterov)
    per_epoch = len(clips.loader)
    total = recipe.epochs * per_epoch
    steps = total if recipe.max_steps is None else min(total, recipe.max_steps)
    model.train()
    if recipe.frozen_backbone:
        model.backbone.eval()  # BN normalises with, and keeps, the checkpoint's statistics

    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, labels = batch
        logits = model(x)
        return F.cross_entropy(logits, labels), {"train_acc": (logits.argmax(1) == labels).float().mean().item()}

    def record(step: StepResult) -> dict:
        return {"step": step.index + 1, "epoch": step.index // per_epoch + 1, "loss": step.loss.item(),
                **step.logs, "lr": step.lr}

    return fit(loss, clips, optimizer=opt, steps=steps, lr=lambda step: learning_rate(recipe, step, per_epoch),
               record=record, finite_loss=True, progress=progress, desc=clips.task)


def save_finetuned(out_dir: str | os.PathLike, result: FinetuneResult) -> Path:
    """Write the finetuned classifier (``backbone.*`` and ``fc.*``) to ``out_dir/finetuned.safetensors``."""
    return save_weights(Path(out_dir) / FINETUNED_WEIGHTS, result.model)


@torch.no_grad()
def evaluate_views(model: nn.Module, encoder: EvalEncoder, records: list[VideoRecord], num_classes: int, *,
                   split: str = "test", temporal_views: int = 10, spatial_views: int = 3,
                   device: torch.device | str = "cpu", batch_size: int = 8, num_workers: int = 0,
                   progress: bool = True, protocol: str = "finetune") -> ProtocolResult:
    """Top-1/top-5 of ``model`` with class probabilities averaged over the views of each video.

    The test crop size is ``encoder.crop_size``; ``protocol`` names the result.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    views = encoder.view_pipeline(spatial_views)
    dataset = MultiClipDataset(records, encoder.clip_source(), encoder.clip_frames, encoder.stride, temporal_views)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_clips, num_workers=num_workers)
    probs, labels, skipped = [], [], 0
    for batch in tqdm(loader, desc=f"test {split}", disable=not progress, leave=False):
        skipped += batch.skipped
        if batch.size == 0:
            continue
        x = modality_input(views, batch, device, encoder.modality)  # [V, B, ...]
        v, b = x.shape[:2]
        logits = model(x.flatten(0, 1)).reshape(v, b, -1).transpose(0, 1)
        probs.append(average_view_probs(logits.float().cpu()))
        labels.append(batch.labels)
    model.train(was_training)
    if not probs:
        raise DataError(f"split {split!r}: no readable videos to test")
    p = torch.cat(probs).numpy()
    y = torch.cat(labels).numpy().astype(np.int64)
    if (y < 0).any():
        raise DataError(f"split {split!r}: has unlabeled videos; testing needs labels")
    pred = p.argmax(1)
    metrics = classification_metrics(y, pred, num_classes, p)
    return ProtocolResult(protocol, split, metrics, y, pred, len(y), skipped,
                          {"views": f"{temporal_views}x{spatial_views}"})
