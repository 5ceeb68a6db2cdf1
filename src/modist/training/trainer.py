"""One pretraining run: data -> method -> optimiser loop -> checkpoint and curves."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.config import PretrainConfig, to_dict, to_yaml
from modist.data.augment import PairedAugment
from modist.data.clips import ClipSource, FlowSpec, PairClipDataset, collate_clips
from modist.data.records import VideoDataset
from modist.errors import DataError
from modist.flow import motion_channels
from modist.methods import Method, build_method
from modist.methods.base import Batch
from modist.training.checkpoint import export_encoder, save_checkpoint
from modist.training.device import resolve_device
from modist.training.inputs import InputPipeline
from modist.training.schedule import lr_factor

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    out_dir: Path
    method: Method
    steps: int
    seconds: float
    clips_per_sec: float
    skipped_videos: int
    history: list[dict] = field(default_factory=list)

    def loss_drop(self, window: int = 20) -> tuple[float, float]:
        """Mean loss over the first and the last ``window`` steps."""
        losses = [h["loss"] for h in self.history]
        return float(np.mean(losses[:window])), float(np.mean(losses[-window:]))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_dataset(cfg: PretrainConfig) -> VideoDataset:
    from modist.data.adapters import resolve_dataset

    return resolve_dataset(cfg.data.dataset, split=cfg.data.split, fold=cfg.data.fold)


def build_input_pipeline(cfg: PretrainConfig, train: bool = True) -> InputPipeline:
    d = cfg.data
    augment = PairedAugment(d.crop_size, scale=(d.crop_scale_min, 1.0), flip=d.flip, color_jitter=d.color_jitter,
                            grayscale_prob=d.grayscale_prob, blur_prob=d.blur_prob, train=train)
    return InputPipeline(augment, cfg.motion.encoding, cfg.motion.max_flow, cfg.motion.edge_max)


def build_clip_source(cfg: PretrainConfig, with_motion: bool) -> ClipSource:
    flow = FlowSpec(cfg.motion.method, cfg.motion.preset, cfg.motion.gap) if with_motion else None
    return ClipSource(flow, short_side=cfg.data.short_side, cache_videos=cfg.data.cache_videos)


def _optimizer(cfg: PretrainConfig, params) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


def _batches(loader: DataLoader):
    while True:
        yield from loader


def pretrain(cfg: PretrainConfig, dataset: VideoDataset | None = None, desc: str | None = None) -> TrainResult:
    """Run ``cfg.train.steps`` optimisation steps and write the run directory."""
    seed_everything(cfg.train.seed)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    dataset = dataset if dataset is not None else load_dataset(cfg)
    if len(dataset) < cfg.train.batch_size:
        raise DataError(f"dataset {cfg.data.dataset!r} has {len(dataset)} videos, fewer than train.batch_size")

    method = build_method(cfg, motion_channels(cfg.motion.encoding), num_classes=len(dataset.class_names)).to(device)
    if method.needs_labels and any(r.label is None for r in dataset.records):
        raise DataError(f"method.name={cfg.method.name} needs labels but dataset {cfg.data.dataset!r} has unlabeled videos")
    source = build_clip_source(cfg, method.needs_motion)
    clips = PairClipDataset(dataset.records, source, cfg.data.clip_frames, cfg.data.stride,
                            cfg.data.min_gap_sec, cfg.data.max_gap_sec)
    loader = DataLoader(clips, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.data.num_workers, collate_fn=collate_clips,
                        persistent_workers=cfg.data.num_workers > 0, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(cfg.train.seed))
    inputs = build_input_pipeline(cfg)
    optimizer = _optimizer(cfg, [p for p in method.parameters() if p.requires_grad])
    total = cfg.train.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total, cfg.optim.warmup_steps, cfg.optim.schedule))

    out_dir = Path(cfg.train.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.jsonl"
    metrics_path.unlink(missing_ok=True)
    history: list[dict] = []
    skipped = 0
    clips_seen = 0
    start = time.perf_counter()
    method.train()
    batches = _batches(loader)
    bar = tqdm(range(total), desc=desc or f"pretrain {cfg.method.name}", disable=not cfg.train.progress, leave=False)
    with metrics_path.open("a") as metrics_file:
        for step in bar:
            batch = next(batches)
            skipped += batch["skipped"]
            while batch["size"] < 2:  # a batch made only of unreadable videos
                batch = next(batches)
                skipped += batch["skipped"]
            rgb, motion = inputs(batch, device, with_motion=method.needs_motion)
            loss, logs = method.training_step(Batch(rgb, motion, batch["label"].to(device)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            method.after_optimizer_step(step + 1, total)
            clips_seen += batch["size"]
            record = {"step": step + 1, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"], **logs}
            history.append(record)
            metrics_file.write(json.dumps(record) + "\n")
            if (step + 1) % cfg.train.log_every == 0 or step + 1 == total:
                bar.set_postfix(loss=f"{record['loss']:.3f}")
                metrics_file.flush()
            if cfg.train.checkpoint_every and (step + 1) % cfg.train.checkpoint_every == 0 and step + 1 < total:
                _save(out_dir, cfg, method, optimizer, scheduler, step + 1)
    seconds = time.perf_counter() - start
    _save(out_dir, cfg, method, optimizer, scheduler, total)
    export_encoder(out_dir, method.eval_encoder(), {
        "arch": cfg.model.arch if method.eval_modality == "rgb" else (cfg.model.motion_arch or cfg.model.arch),
        "in_channels": 3 if method.eval_modality == "rgb" else motion_channels(cfg.motion.encoding),
        "width_divisor": 1.0 if method.eval_modality == "rgb" else cfg.model.motion_width_divisor,
        "base_width": cfg.model.base_width,
        "modality": method.eval_modality,
        "method": cfg.method.name,
        "clip_frames": cfg.data.clip_frames,
        "stride": cfg.data.stride,
        "crop_size": cfg.data.crop_size,
    })
    from modist.viz.curves import plot_training_curves

    plot_training_curves(history, out_dir / "curves.png", title=f"{cfg.method.name} pretraining")
    if skipped:
        log.warning("%d unreadable video(s) were skipped during training", skipped)
    return TrainResult(out_dir, method, total, seconds, clips_seen / max(seconds, 1e-9), skipped, history)


def _save(out_dir: Path, cfg: PretrainConfig, method, optimizer, scheduler, step: int) -> None:
    state = {
        "method": method.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "config": to_dict(cfg),
    }
    save_checkpoint(out_dir / "checkpoint.pt", state, to_yaml(cfg))
