"""``modist bench pretrain``: end-to-end training rate against the step alone, in one run.

Both halves use what ``modist pretrain --config`` builds: the recipe's method, optimiser state,
``TrainStep`` and batch stream (loader workers, decoding, flow, augmentation, motion
encoding). The **end-to-end** half draws every micro-batch from the stream, as training does;
the **step-alone** half repeats one batch that is already on the device, so it has the same
shapes and costs no data work. Their ratio is the share of the step rate the data path
sustains, and the time spent waiting for the next batch is the device's idle time per step.

Nothing is written: no run directory, no checkpoint. Timings follow ``warmup`` untimed steps
(first decodes, worker start-up, compilation); on CUDA the device is synchronised around each
timed section.

Example (tiny, random-init; the numbers mean nothing):
    >>> import tempfile
    >>> from modist.synth import SynthConfig, generate
    >>> d = tempfile.mkdtemp()
    >>> _ = generate(d, SynthConfig(train_per_class=1, test_per_class=0, train_unbiased_per_class=0, size=32,
    ...                             num_frames=16), progress=False)
    >>> settings = PretrainBenchSettings(config="demo", steps=1, warmup=1, overrides=(
    ...     f"data.dataset=synth:{d}", "train.batch_size=4", "model.base_width=4", "data.clip_frames=4",
    ...     "method.queue_size=16", "model.proj_hidden=16", "data.crop_size=32", "train.device=cpu"))
    >>> result = run_pretrain_bench(settings)
    >>> result.steps, result.clips_per_step
    (1, 4)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from modist.config import load_config
from modist.configs import recipe_path
from modist.errors import ConfigError
from modist.methods.base import Batch
from modist.runtime import TorchrunEnv, resolve_device
from modist.training.batches import build_batch_stream, load_dataset
from modist.training.build import build_training_method
from modist.training.rng import seed_everything
from modist.training.step import compile_networks
from modist.training.trainer import TrainingState


@dataclass(frozen=True)
class PretrainBenchSettings:
    """What to time: a recipe (name or YAML path) with overrides, and how many steps."""

    config: str = "demo"
    overrides: tuple[str, ...] = ()
    steps: int = 10
    warmup: int = 2


@dataclass
class PretrainBenchResult:
    """Seconds per optimiser step, end to end and for the step alone, and the data wait."""

    setup: str
    steps: int
    clips_per_step: int
    end_to_end_s: float
    step_alone_s: float
    wait_s: float

    @property
    def end_to_end_clips_per_s(self) -> float:
        return self.clips_per_step / self.end_to_end_s

    @property
    def step_alone_clips_per_s(self) -> float:
        return self.clips_per_step / self.step_alone_s

    def table(self) -> str:
        return (
            "| | s / step | clips/s |\n|---|---:|---:|\n"
            f"| end to end (loader + step) | {self.end_to_end_s:.3f} | {self.end_to_end_clips_per_s:.1f} |\n"
            f"| step alone (one batch on the device) | {self.step_alone_s:.3f} | {self.step_alone_clips_per_s:.1f} |\n"
            f"| waiting for data, per step | {self.wait_s:.3f} | |\n"
        )

    def last_line(self) -> str:
        share = self.step_alone_s / self.end_to_end_s
        return (f"end to end {self.end_to_end_clips_per_s:.1f} clips/s = {100 * share:.0f} % of the step alone "
                f"({self.step_alone_clips_per_s:.1f} clips/s); device idle {1000 * self.wait_s:.0f} ms per step")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_pretrain_bench(settings: PretrainBenchSettings) -> PretrainBenchResult:
    """Time ``settings.steps`` steps end to end, then as many on one repeated batch."""
    if settings.steps < 1 or settings.warmup < 1:
        raise ConfigError(f"steps and warmup must be >= 1, got {settings.steps} and {settings.warmup}")
    cfg = load_config(recipe_path(settings.config), [*settings.overrides, "train.progress=false"])
    t = cfg.train
    device = resolve_device(t.device)
    env = TorchrunEnv()
    seed_everything(t.seed)
    dataset = load_dataset(cfg)
    method = build_training_method(cfg, num_classes=len(dataset.class_names), device=device, distributed=False)
    training = TrainingState.build(cfg, method, env=env, device=device)
    if t.compile:
        compile_networks(method)
    stream = build_batch_stream(cfg, dataset, with_motion=method.needs_motion, env=env, device=device)
    method.train()
    wait = 0.0

    def timed_batches(count: int):
        nonlocal wait
        for _ in range(count):
            start = time.perf_counter()
            batch = next(stream)
            _sync(device)
            wait += time.perf_counter() - start
            yield batch

    step = 0
    for _ in range(settings.warmup):
        training.step_fn(timed_batches(t.accumulate), step, count=t.accumulate)
        step += 1
    _sync(device)
    wait, start = 0.0, time.perf_counter()
    for _ in range(settings.steps):
        training.step_fn(timed_batches(t.accumulate), step, count=t.accumulate)
        step += 1
    _sync(device)
    end_to_end = (time.perf_counter() - start) / settings.steps
    waited = wait / settings.steps

    held: Batch = next(stream)  # one batch on the device, reused: the step without data work
    _sync(device)
    start = time.perf_counter()
    for _ in range(settings.steps):
        training.step_fn([held] * t.accumulate, step)
        step += 1
    _sync(device)
    alone = (time.perf_counter() - start) / settings.steps
    clips = held.rgb.shape[1] * t.accumulate
    setup = (f"bench pretrain: {settings.config} ({cfg.method.name}, {cfg.model.arch}, batch {t.batch_size} x "
             f"{t.accumulate}, {cfg.data.num_workers} loader worker(s)) on {device}, {settings.steps} timed steps "
             f"after {settings.warmup}, dataset {cfg.data.dataset}")
    return PretrainBenchResult(setup, settings.steps, clips, end_to_end, alone, waited)
