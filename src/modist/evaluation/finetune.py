"""End-to-end finetuning of an encoder (or a random init: the supervised-from-scratch baseline).

:class:`FinetuneRecipe` holds every value of a run; its defaults are the ``modist``
protocol and :meth:`FinetuneRecipe.from_values` builds it from a named protocol of
:mod:`.presets` (``maclr``: the release's ``configs/UCF101/SLOW_32x8_R50.yaml``). Each
epoch draws one random clip per video ``expand_dataset`` times; random resized crop,
horizontal flip, colour jitter and grayscale as the recipe says; dropout before a linear
classifier; SGD with momentum (BatchNorm parameters may get their own weight decay) and a
per-step learning rate: ``schedule="modist"`` warms up linearly then decays along a half
cosine (:func:`modist.schedules.lr_factor`), ``schedule="pyslowfast"`` is
:func:`pyslowfast_lr` (``slowfast/utils/lr_policy.py``). ``precise_bn_batches > 0``
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
import math
import os
from dataclasses import dataclass, field, fields
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
from modist.errors import ConfigError, DataError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.metrics import classification_metrics
from modist.evaluation.multiview import average_view_probs
from modist.evaluation.precise_bn import update_bn_stats
from modist.evaluation.protocols import ProtocolResult
from modist.models.classifier import VideoClassifier
from modist.models.encoder_io import save_weights
from modist.models.inputs import InputPipeline
from modist.schedules import lr_factor

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


def pyslowfast_lr(epoch: float, *, base_lr: float, epochs: float, warmup_epochs: float = 0.0,
                  warmup_start_lr: float = 0.0) -> float:
    """PySlowFast's cosine learning rate at fractional ``epoch`` (``slowfast/utils/lr_policy.py``).

    ``base_lr * (1 + cos(pi * epoch / epochs)) / 2``; during warm-up a line from
    ``warmup_start_lr`` (epoch 0) to the cosine's value at ``warmup_epochs``.

    Example:
        >>> [round(pyslowfast_lr(e, base_lr=0.01, epochs=10, warmup_epochs=1.7, warmup_start_lr=0.001), 6)
        ...  for e in (0, 0.85, 1.7, 5, 10)]
        [0.001, 0.005152, 0.009304, 0.005, 0.0]
    """
    def cosine(e: float) -> float:
        return base_lr * (math.cos(math.pi * e / epochs) + 1.0) * 0.5

    if epoch < warmup_epochs:
        end = cosine(warmup_epochs)
        return epoch * (end - warmup_start_lr) / warmup_epochs + warmup_start_lr
    return cosine(epoch)


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
    model = VideoClassifier(copy.deepcopy(encoder.backbone), num_classes, recipe.dropout).to(device)
    if recipe.fc_init_std is not None:
        nn.init.normal_(model.fc.weight, std=recipe.fc_init_std)
        nn.init.zeros_(model.fc.bias)
    if recipe.frozen_backbone:
        model.backbone.requires_grad_(False)
    m = encoder.motion
    source = encoder.clip_source(frame_cache)
    # Repeating the list is the release's EXPAND_DATASET: item i is video i % N, shuffled together.
    clips = RandomClipDataset(train_records * recipe.expand_dataset, source, encoder.clip_frames, encoder.stride)
    batch_size = min(recipe.batch_size, len(clips))
    if batch_size < recipe.batch_size:
        log.warning("%s: batch size %d is more than the %d training clips of an epoch; using %d",
                    task, recipe.batch_size, len(clips), batch_size)
    loader = DataLoader(clips, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_clips,
                        num_workers=num_workers, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(recipe.seed))
    inputs = InputPipeline(recipe.augment(encoder.crop_size), m.encoding, max_flow=m.max_flow, edge_max=m.edge_max)
    opt = torch.optim.SGD(param_groups(model, recipe), lr=recipe.lr, momentum=recipe.momentum,
                          nesterov=recipe.nesterov)
    per_epoch = len(loader)
    total = recipe.epochs * per_epoch
    steps = total if recipe.max_steps is None else min(total, recipe.max_steps)
    history: list[dict] = []
    skipped = 0
    bar = tqdm(total=steps, desc=task, disable=not progress, leave=False)
    model.train()
    if recipe.frozen_backbone:
        model.backbone.eval()  # BN normalises with, and keeps, the checkpoint's statistics
    while len(history) < steps:
        before = len(history)
        for batch in loader:
            skipped += batch["skipped"]
            if batch["size"] < 2:  # BatchNorm needs two clips; a batch of unreadable videos is dropped
                continue
            rgb, motion = inputs(batch, device, encoder.modality == "motion")
            x = (rgb if encoder.modality == "rgb" else motion)[0]
            labels = batch["label"].to(device)
            lr = learning_rate(recipe, len(history), per_epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            logits = model(x)
            loss = F.cross_entropy(logits, labels)
            if not torch.isfinite(loss):
                raise DataError(f"{task}: the loss became {loss.item()} at step {len(history) + 1}; "
                                "lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"step": len(history) + 1, "epoch": len(history) // per_epoch + 1, "loss": loss.item(),
                            "train_acc": (logits.argmax(1) == labels).float().mean().item(), "lr": lr})
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if len(history) >= steps:
                break
        if len(history) == before:
            raise DataError(f"{task}: no readable training videos (every batch was skipped)")
    bar.close()
    if recipe.precise_bn_batches > 0:
        def training_clips():
            for batch in loader:
                if batch["size"] < 2:
                    continue
                rgb, motion = inputs(batch, device, encoder.modality == "motion")
                yield (rgb if encoder.modality == "rgb" else motion)[0]

        update_bn_stats(model, training_clips(), min(recipe.precise_bn_batches, per_epoch))
    result = FinetuneResult(model, history, skipped_train=skipped)
    tester = encoder if recipe.test_crop_size is None else encoder.with_overrides(crop_size=recipe.test_crop_size)
    for split, records in test_splits.items():
        result.splits[split] = evaluate_views(model, tester, records, num_classes, split=split,
                                              temporal_views=recipe.temporal_views,
                                              spatial_views=recipe.spatial_views, device=device,
                                              batch_size=batch_size, num_workers=num_workers, progress=progress,
                                              protocol=task)
    return result


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
    return ProtocolResult(protocol, split, metrics, y, pred, len(y), skipped,
                          {"views": f"{temporal_views}x{spatial_views}"})
