"""One pretraining run: data -> method -> optimiser loop -> checkpoints, curves, encoder.

The same function runs in one process or in each process of a ``torchrun`` launch
(DDP; ``train.batch_size`` is per rank). Only rank 0 writes checkpoints, metrics,
curves and the exported encoder, and shows the progress bar. A run resumes exactly
(``train.resume``): networks, queues, key encoders, optimiser, schedule, gradient
scaler, every rank's RNG states and the sampler position are restored.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.config import PretrainConfig, to_dict, to_yaml
from modist.data.augment import PairedAugment
from modist.data.clips import ClipSource, PairClipDataset, collate_clips
from modist.data.records import VideoDataset
from modist.errors import DataError
from modist.flow import motion_channels
from modist.flow.sources import EstimatedFlow, FlowFromStore
from modist.methods import Method
from modist.methods.base import Batch
from modist.training.build import build_training_method
from modist.models.encoder_io import EncoderSpec, save_encoder
from modist.training.checkpoint import remove_checkpoints, save_step_checkpoint
from modist.training.distributed import (
    DistEnv, gather_objects, mean_across_ranks, min_across_ranks, setup_distributed, teardown_distributed,
)
from modist.training.inputs import InputPipeline
from modist.training.optim import build_optimizer, scaled_lr
from modist.training.resume import (
    load_resume_state, load_state_strict, read_history, resume_checkpoint, rewrite_history,
)
from modist.training.rng import rank_seed, restore_rng_state, rng_state, seed_everything
from modist.training.sampler import GlobalBatchSampler, SeededItems
from modist.training.schedule import lr_factor
from modist.training.step import TrainStep, channels_last_views, compile_pathways

log = logging.getLogger(__name__)

__all__ = ["TrainResult", "pretrain", "seed_everything", "load_dataset", "build_input_pipeline",
           "build_clip_source", "build_training_method"]


@dataclass
class TrainResult:
    out_dir: Path
    method: Method
    steps: int
    seconds: float
    clips_per_sec: float
    skipped_videos: int
    history: list[dict] = field(default_factory=list)
    start_step: int = 0  # > 0 when the run resumed from a checkpoint
    rank: int = 0  # this process's rank under torchrun (only rank 0 wrote the run directory)

    def loss_drop(self, window: int = 20) -> tuple[float, float]:
        """Mean loss over the first and the last ``window`` steps."""
        losses = [h["loss"] for h in self.history]
        return float(np.mean(losses[:window])), float(np.mean(losses[-window:]))


def load_dataset(cfg: PretrainConfig) -> VideoDataset:
    from modist.data.adapters import resolve_dataset

    return resolve_dataset(cfg.data.dataset, split=cfg.data.split, fold=cfg.data.fold)


def build_input_pipeline(cfg: PretrainConfig, train: bool = True) -> InputPipeline:
    d = cfg.data
    augment = PairedAugment(d.crop_size, scale=(d.crop_scale_min, 1.0), ratio=(1 / d.crop_aspect_max, d.crop_aspect_max),
                            flip=d.flip, color_jitter=d.color_jitter, grayscale_prob=d.grayscale_prob,
                            blur_prob=d.blur_prob, train=train)
    return InputPipeline(augment, cfg.motion.encoding, cfg.motion.max_flow, cfg.motion.edge_max)


def build_clip_source(cfg: PretrainConfig, with_motion: bool) -> ClipSource:
    m = cfg.motion
    flow = None
    if with_motion and m.source == "store":
        flow = FlowFromStore(m.flow_store, m.flow_gap)
    elif with_motion:
        flow = EstimatedFlow(m.estimator, m.preset, m.flow_gap)
    return ClipSource(flow, short_side=cfg.data.short_side, frame_cache=cfg.data.frame_cache)


def _truncate(batch: dict, n: int) -> dict:
    """The first ``n`` readable clips, so that every rank contributes equally many keys."""
    if batch["size"] == n:
        return batch
    out = {k: (v[:n] if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    out["size"] = n
    return out


def pretrain(cfg: PretrainConfig, dataset: VideoDataset | None = None, desc: str | None = None,
             on_step: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Run the optimisation steps of ``cfg.train.steps`` not done yet and write the run directory.

    ``on_step(step, record)`` is called after every step (after its checkpoint, if any).
    """
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    env, device = setup_distributed(cfg.train.distributed, cfg.train.device)
    try:
        result = _pretrain(cfg, dataset, desc, on_step, env, device)
    except BaseException:
        if env.owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()  # no barrier: the other ranks may be gone
        raise
    teardown_distributed(env)
    return result


def _pretrain(cfg: PretrainConfig, dataset: VideoDataset | None, desc: str | None,
              on_step: Callable[[int, dict], None] | None, env: DistEnv, device: torch.device) -> TrainResult:
    t = cfg.train
    seed_everything(t.seed)  # identical networks and queues on every rank
    dataset = dataset if dataset is not None else load_dataset(cfg)
    global_batch = t.batch_size * env.world_size
    if len(dataset) < global_batch:
        raise DataError(f"dataset {cfg.data.dataset!r} has {len(dataset)} videos, fewer than "
                        f"train.batch_size x {env.world_size} process(es)")
    method = build_training_method(cfg, len(dataset.class_names), device, env.enabled)
    if method.needs_labels and any(r.label is None for r in dataset.records):
        raise DataError(f"method.name={cfg.method.name} needs labels but dataset {cfg.data.dataset!r} has unlabeled videos")

    out_dir = Path(t.out_dir)
    resume_from = resume_checkpoint(cfg)
    state = load_resume_state(resume_from, cfg) if resume_from is not None else None
    optimizer = build_optimizer(cfg.optim, [p for p in method.parameters() if p.requires_grad],
                                scaled_lr(cfg.optim, global_batch * t.accumulate))
    total = t.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total, cfg.optim.warmup_steps, cfg.optim.schedule))
    step_fn = TrainStep(method, optimizer, scheduler, total, t.precision, env.enabled, device)
    start_step, start_batch = 0, 0
    if state is not None:
        load_state_strict(method, state["method"], resume_from, "method")
        load_state_strict(optimizer, state["optimizer"], resume_from, "optimizer")
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            step_fn.scaler.load_state_dict(state["scaler"])
        start_step, start_batch = int(state["step"]), int(state.get("batches", state["step"] * t.accumulate))
    if t.compile:
        compile_pathways(method)

    source = build_clip_source(cfg, method.needs_motion)
    clips = PairClipDataset(dataset.records, source, cfg.data.clip_frames, cfg.data.stride,
                            cfg.data.min_clip_gap_sec, cfg.data.max_clip_gap_sec)
    sampler = GlobalBatchSampler(len(clips), t.batch_size, env.world_size, env.rank, t.seed, start_batch=start_batch)
    loader = DataLoader(SeededItems(clips, t.seed), batch_size=t.batch_size, sampler=sampler,
                        num_workers=cfg.data.num_workers, collate_fn=collate_clips,
                        persistent_workers=cfg.data.num_workers > 0, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(t.seed))
    batches = iter(loader)
    rngs = state.get("rng") if state is not None else None
    if rngs and len(rngs) == env.world_size:
        restore_rng_state(rngs[env.rank])
    else:
        if state is not None:
            log.warning("%s was written by %d process(es), not %d: augmentation randomness is reseeded",
                        resume_from, len(rngs or []), env.world_size)
        seed_everything(rank_seed(t.seed, env.rank) + start_step)
    inputs = build_input_pipeline(cfg)

    metrics_path = out_dir / "metrics.jsonl"
    history: list[dict] = []
    if env.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if state is None:
            remove_checkpoints(out_dir)
            metrics_path.unlink(missing_ok=True)
        else:
            history = read_history(metrics_path, start_step)
            rewrite_history(metrics_path, history)
    counts = {"batches": start_batch, "skipped": 0, "clips": 0}
    # A whole epoch of batches without two readable clips means the data cannot be read:
    # stop instead of drawing batches forever.
    max_empty = -(-len(dataset) // global_batch) + 1

    def next_batch() -> Batch:
        empty = 0
        while True:
            batch = next(batches)
            counts["batches"] += 1
            counts["skipped"] += batch["skipped"]
            n = min_across_ranks(batch["size"], device)
            if n >= 2:  # else a batch made (almost) only of unreadable videos: every rank skips it
                break
            empty += 1
            if empty >= max_empty:
                raise DataError(f"dataset {cfg.data.dataset!r}: {empty} batches in a row without two readable "
                                f"videos ({counts['skipped']} unreadable reads); `modist data check` lists them")
        batch = _truncate(batch, n)
        counts["clips"] += n * env.world_size
        rgb, motion = inputs(batch, device, with_motion=method.needs_motion)
        if t.channels_last:
            rgb, motion = channels_last_views(rgb), channels_last_views(motion)
        return Batch(rgb, motion, batch["label"].to(device))

    def save(step: int) -> None:
        every_rng = gather_objects(rng_state())  # a collective: every rank takes part
        if env.is_main:
            save_step_checkpoint(out_dir, step, {
                "method": method.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": step_fn.scaler.state_dict(), "step": step,
                "batches": counts["batches"], "rng": every_rng, "world_size": env.world_size,
                "config": to_dict(cfg),
            }, to_yaml(cfg), keep=t.keep_checkpoints)

    start = time.perf_counter()
    method.train()
    bar = tqdm(range(start_step, total), initial=start_step, total=total, leave=False,
               desc=desc or f"pretrain {cfg.method.name}", disable=not (t.progress and env.is_main))
    metrics_file = metrics_path.open("a") if env.is_main else None
    try:
        for step in bar:
            logs = mean_across_ranks(step_fn(next_batch, step, t.accumulate), device)
            record = {"step": step + 1, "loss": logs.pop("loss"), "lr": optimizer.param_groups[0]["lr"], **logs}
            history.append(record)
            if metrics_file is not None:
                metrics_file.write(json.dumps(record) + "\n")
            if (step + 1) % t.log_every == 0 or step + 1 == total:
                bar.set_postfix(loss=f"{record['loss']:.3f}")
                if metrics_file is not None:
                    metrics_file.flush()
            if t.checkpoint_every and (step + 1) % t.checkpoint_every == 0 and step + 1 < total:
                save(step + 1)
            if on_step is not None:
                on_step(step + 1, record)
    finally:
        if metrics_file is not None:
            metrics_file.close()
    seconds = time.perf_counter() - start
    save(total)
    skipped = int(round(mean_across_ranks({"s": counts["skipped"]}, device)["s"] * env.world_size))
    if env.is_main:
        _export(out_dir, cfg, method)
        from modist.viz.curves import plot_training_curves

        plot_training_curves(history, out_dir / "curves.png", title=f"{cfg.method.name} pretraining")
        if skipped:
            log.warning("%d unreadable video(s) were skipped during training", skipped)
    return TrainResult(out_dir, method, total, seconds, counts["clips"] / max(seconds, 1e-9), skipped, history,
                       start_step, env.rank)


def _export(out_dir: Path, cfg: PretrainConfig, method: Method) -> None:
    rgb = method.eval_modality == "rgb"
    spec = EncoderSpec(
        arch=cfg.model.arch if rgb else (cfg.model.motion_arch or cfg.model.arch),
        in_channels=3 if rgb else motion_channels(cfg.motion.encoding),
        width_divisor=1.0 if rgb else cfg.model.motion_width_divisor,
        base_width=cfg.model.base_width,
        modality=method.eval_modality,
    )
    save_encoder(out_dir, method.eval_encoder(), spec, {
        "method": cfg.method.name,
        "clip_frames": cfg.data.clip_frames,
        "stride": cfg.data.stride,
        "crop_size": cfg.data.crop_size,
    })
