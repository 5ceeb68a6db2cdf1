"""One pretraining run: data -> method -> optimiser loop -> checkpoints, curves, encoder.

The same function runs in one process or in each process of a ``torchrun`` launch
(DDP; ``train.batch_size`` is per rank). Only rank 0 writes checkpoints, metrics,
curves and the exported encoder, and shows the progress bar. A run resumes exactly
(``train.resume``): networks, queues, key encoders, optimiser, schedule, gradient
scaler, every rank's RNG states and the sampler position are restored.

Example:
    >>> from modist.config import load_config
    >>> cfg = load_config("cpu_small", ["train.out_dir=runs/mine"])        # doctest: +SKIP
    >>> result = pretrain(cfg)                                             # doctest: +SKIP
    >>> result.out_dir / "encoder.safetensors"                             # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from modist.config import PretrainConfig, to_dict
from modist.data.records import VideoDataset
from modist.distributed import (
    gather_objects,
    mean_across_ranks,
    setup_distributed,
    teardown_distributed,
)
from modist.errors import DataError
from modist.methods import Method
from modist.runtime import TorchrunEnv
from modist.schedules import lr_factor
from modist.training.batches import BatchStream, build_batch_stream, load_dataset
from modist.training.build import build_training_method
from modist.training.loggers import require_logger
from modist.training.optim import build_optimizer, scaled_lr
from modist.training.resume import ResumePoint, find_resume_point, load_state_strict
from modist.training.rng import rank_seed, restore_rng_state, rng_state, seed_everything
from modist.training.run_dir import RunDir
from modist.training.step import TrainStep, compile_networks

log = logging.getLogger(__name__)

__all__ = ["TrainResult", "pretrain"]

StepCallback = Callable[[int, dict], None]


@dataclass
class TrainResult:
    out_dir: Path
    method: Method | None  # None when the run was already complete (``complete``): nothing was built
    steps: int
    seconds: float
    clips_per_sec: float
    skipped_videos: int  # distinct unreadable files (on rank 0: of every rank)
    history: list[dict] = field(default_factory=list)
    start_step: int = 0  # > 0 when the run resumed from a checkpoint
    rank: int = 0  # this process's rank under torchrun (only rank 0 wrote the run directory)
    resumed_from: Path | None = None  # the checkpoint this process continued from
    skipped_paths: list[str] = field(default_factory=list)
    #: the folder already held this run's final checkpoint and encoder: nothing was trained or written
    complete: bool = False

    @property
    def steps_run(self) -> int:
        """Optimiser steps this process ran (``steps`` less the steps a resumed checkpoint covered)."""
        return self.steps - self.start_step

    def loss_drop(self, window: int = 20) -> tuple[float, float]:
        """Mean loss over the first and the last ``window`` logged steps of the whole run."""
        losses = [h["loss"] for h in self.history]
        if not losses:
            return float("nan"), float("nan")
        return float(np.mean(losses[:window])), float(np.mean(losses[-window:]))


def pretrain(cfg: PretrainConfig, dataset: VideoDataset | None = None, *, desc: str | None = None,
             on_step: StepCallback | None = None) -> TrainResult:
    """Run the optimisation steps of ``cfg.train.steps`` not done yet and write the run directory.

    ``dataset`` replaces ``data.dataset`` when given. ``on_step(step, record)`` is called after
    every step (after its checkpoint, if any). ``train.threads`` applies for the run only: the
    caller's torch thread setting is restored afterwards.
    """
    with _intra_op_threads(cfg.train.threads):
        env, device = setup_distributed(cfg.train.distributed, cfg.train.device)
        try:
            result = _locked(cfg, dataset, desc=desc, on_step=on_step, env=env, device=device)
        except BaseException:
            if env.owns_group and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()  # no barrier: the other ranks may be gone
            raise
        teardown_distributed(env)
    return result


@contextlib.contextmanager
def _intra_op_threads(threads: int) -> Iterator[None]:
    if threads <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainingState:
    """Everything an optimiser step changes, and so everything a checkpoint must hold."""

    method: Method
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    step_fn: TrainStep

    @classmethod
    def build(cls, cfg: PretrainConfig, method: Method, *, env: TorchrunEnv, device: torch.device) -> TrainingState:
        t, o = cfg.train, cfg.optim
        global_batch = t.batch_size * env.world_size * t.accumulate
        optimizer = build_optimizer(o, method.learnable_params, scaled_lr(o, global_batch))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, t.steps, o.warmup_steps, o.schedule))
        step_fn = TrainStep(method, optimizer, scheduler=scheduler, total_steps=t.steps, precision=t.precision,
                            distributed=env.enabled, device=device)
        return cls(method, optimizer, scheduler, step_fn)

    def state_dict(self) -> dict:
        return {"method": self.method.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.step_fn.scaler.state_dict()}

    def restore(self, point: ResumePoint) -> None:
        state = point.state
        load_state_strict(self.method, state["method"], point.path, "method")
        load_state_strict(self.optimizer, state["optimizer"], point.path, "optimizer")
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.step_fn.scaler.load_state_dict(state["scaler"])


def _locked(cfg: PretrainConfig, dataset: VideoDataset | None, *, desc: str | None, on_step: StepCallback | None,
            env: TorchrunEnv, device: torch.device) -> TrainResult:
    require_logger(cfg.train.logger)  # a missing package, before anything is written
    # The folder is locked and checked before the minutes data loading can take.
    run_dir = RunDir(cfg, writer=env.is_main)
    try:
        return _pretrain(cfg, dataset, run_dir, desc=desc, on_step=on_step, env=env, device=device)
    finally:
        run_dir.close()


def _pretrain(cfg: PretrainConfig, dataset: VideoDataset | None, run_dir: RunDir, *, desc: str | None,
              on_step: StepCallback | None, env: TorchrunEnv, device: torch.device) -> TrainResult:
    t = cfg.train
    seed_everything(t.seed)  # identical networks and queues on every rank
    resume = None if t.overwrite and t.resume == "auto" else find_resume_point(cfg)
    if resume is not None and gather_objects(run_dir.complete(resume.step))[0]:  # rank 0 looks at the folder
        # Rerunning a finished run's command must not rewrite its metrics, config, curves or encoder.
        return TrainResult(run_dir.path, None, t.steps, 0.0, 0.0, 0, run_dir.read_history(), resume.step, env.rank,
                           resume.path, complete=True)
    replaced = run_dir.start(resumed_at=resume.step if resume is not None else None)
    if env.is_main and resume is not None:
        log.info("resuming from %s at step %d of %d", resume.path, resume.step, t.steps)
    elif replaced:
        why = "as train.overwrite asks" if t.overwrite else "no checkpoint to resume from"
        log.info("starting %s at step 0 (%s): replaced %s", run_dir.path, why, ", ".join(replaced))
    dataset = dataset if dataset is not None else load_dataset(cfg)
    if env.is_main and getattr(dataset, "missing", None):
        log.warning("%d video file(s) listed by %s are missing and left out, e.g. %s", len(dataset.missing),
                    cfg.data.dataset, dataset.missing[0])
    method = _build_method(cfg, dataset, env=env, device=device)
    training = TrainingState.build(cfg, method, env=env, device=device)
    if resume is not None:
        training.restore(resume)
    start_step, start_batch = (resume.step, resume.batches) if resume is not None else (0, 0)
    if t.compile:
        compile_networks(method)
    _restore_rng(resume, env=env, seed=t.seed, start_step=start_step)
    stream = build_batch_stream(cfg, dataset, with_motion=method.needs_motion, env=env, device=device,
                                start_batch=start_batch)
    with run_dir:
        start = time.perf_counter()
        _loop(cfg, training, stream, run_dir, env=env, device=device, start_step=start_step,
              desc=desc or f"pretrain {cfg.method.name}", on_step=on_step)
        seconds = time.perf_counter() - start
    if start_step < t.steps:  # else the checkpoint resumed from is already the final one
        _save(cfg, training, stream, run_dir, env=env, step=t.steps)
    run_dir.export(method)
    skipped_paths = sorted(set().union(*gather_objects(sorted(stream.skipped_paths))))
    if skipped_paths and env.is_main:
        log.warning("%d unreadable video file(s) were skipped during training, e.g. %s",
                    len(skipped_paths), skipped_paths[0])
    return TrainResult(run_dir.path, method, t.steps, seconds, stream.clips / max(seconds, 1e-9), len(skipped_paths),
                       run_dir.history, start_step, env.rank, resume.path if resume is not None else None,
                       skipped_paths)


def _build_method(cfg: PretrainConfig, dataset: VideoDataset, *, env: TorchrunEnv, device: torch.device) -> Method:
    if len(dataset) < cfg.train.batch_size * env.world_size:
        raise DataError(too_few_videos(cfg, len(dataset), env.world_size))
    method = build_training_method(cfg, num_classes=len(dataset.class_names), device=device, distributed=env.enabled)
    if method.needs_labels and any(r.label is None for r in dataset.records):
        raise DataError(f"method.name={cfg.method.name} needs labels but dataset {cfg.data.dataset!r} "
                        "has unlabeled videos")
    return method


def too_few_videos(cfg: PretrainConfig, videos: int, processes: int) -> str:
    """Why ``videos`` cannot fill one batch per process, and the largest ``train.batch_size`` that can.

    Example:
        >>> from modist.config import load_config
        >>> cfg = load_config(None, ["train.batch_size=32", "data.dataset=folder:clips"])
        >>> too_few_videos(cfg, 10, 1)
        "dataset 'folder:clips' has 10 videos, fewer than train.batch_size=32 x 1 process(es); train.batch_size=10 fits"
    """
    per_process, k = videos // processes, cfg.data.clips_per_video
    fits = per_process // k * k  # a multiple of data.clips_per_video
    text = (f"dataset {cfg.data.dataset!r} has {videos} videos, fewer than train.batch_size={cfg.train.batch_size} "
            f"x {processes} process(es)")
    if fits >= 2:  # InfoNCE needs two clips a batch
        return f"{text}; train.batch_size={fits} fits"
    return f"{text}; training needs at least {2 * processes} videos"


def _restore_rng(resume: ResumePoint | None, *, env: TorchrunEnv, seed: int, start_step: int) -> None:
    """Every rank's RNG as the checkpoint left it; reseeded where that is impossible."""
    rngs = resume.rng if resume is not None else None
    if rngs and len(rngs) == env.world_size:
        restore_rng_state(rngs[env.rank])
        return
    if resume is not None:
        log.warning("%s was written by %d process(es), not %d: augmentation randomness is reseeded",
                    resume.path, len(rngs or []), env.world_size)
    seed_everything(rank_seed(seed, env.rank) + start_step)


def _loop(cfg: PretrainConfig, training: TrainingState, stream: BatchStream, run_dir: RunDir, *, env: TorchrunEnv,
          device: torch.device, start_step: int, desc: str, on_step: StepCallback | None) -> None:
    t = cfg.train
    training.method.train()
    start = time.perf_counter()
    # (time, clips, data wait) after each of the last log_every steps: throughput and data wait of that window.
    window = deque([(start, stream.clips, stream.wait_s)], maxlen=t.log_every + 1)
    with tqdm(range(start_step, t.steps), initial=start_step, total=t.steps, leave=True, desc=desc,
              disable=not (t.progress and env.is_main)) as bar:
        for step in bar:
            micro_batches = itertools.islice(stream, t.accumulate)  # drawn one at a time by the step
            lr = training.optimizer.param_groups[0]["lr"]  # the rate this step uses (the scheduler moves it on)
            logs = mean_across_ranks(training.step_fn(micro_batches, step, count=t.accumulate), device)
            now = time.perf_counter()
            window.append((now, stream.clips, stream.wait_s))
            then, clips, waited = window[0]
            record = {"step": step + 1, "loss": logs.pop("loss"), "lr": lr, **logs, "elapsed_s": round(now - start, 3),
                      "clips_per_s": round((stream.clips - clips) / max(now - then, 1e-9), 3),
                      "data_wait_s": round(stream.wait_s - waited, 3)}
            shown = (step + 1) % t.log_every == 0 or step + 1 == t.steps
            run_dir.log(record, flush=shown)
            if shown:
                bar.set_postfix({"loss": f"{record['loss']:.3f}", "clips/s": f"{record['clips_per_s']:.1f}"})
            if t.checkpoint_every and (step + 1) % t.checkpoint_every == 0 and step + 1 < t.steps:
                _save(cfg, training, stream, run_dir, env=env, step=step + 1)
            if on_step is not None:
                on_step(step + 1, record)


def _save(cfg: PretrainConfig, training: TrainingState, stream: BatchStream, run_dir: RunDir, *, env: TorchrunEnv,
          step: int) -> None:
    every_rng = gather_objects(rng_state())  # a collective: every rank takes part
    run_dir.save_checkpoint(step, {**training.state_dict(), "step": step, "batches": stream.batches,
                                   "rng": every_rng, "world_size": env.world_size, "config": to_dict(cfg)})
