"""``modist bench data``: CPU cost of one training sample on the path ``modist pretrain`` runs.

The samples come from :mod:`modist.training.batches` exactly as in pretraining
(``load_dataset`` or the named videos -> ``build_loader`` -> ``build_input_pipeline``): a
recipe plus ``key=value`` overrides fixes clip length, stride, short side, flow estimator
and ``data.clips_per_video``. The loader runs in this process (``data.num_workers=0``) with
one thread, and :class:`~modist.data.timing.StageTimer` splits the CPU time
(:func:`time.process_time`) by stage:

* ``decode``: open, seek, demux and decode (PyAV, one thread);
* ``convert``: colour conversion and resize of the kept frames (swscale);
* ``flow``: on-the-fly flow estimation in the loader (or reading a flow store);
* ``motion``: open, seek and decode a prepared copy's encoded motion input (its packets count
  in the decode floor too);
* ``collate``: ``collate_clips`` stacking items into a batch;
* ``other``: the rest of the loader's time (sampler, per-item seeding, ``np.stack``);
* ``augment``: crops, flips, jitter and motion encoding (``InputPipeline``); in pretraining
  this runs on the training device, so it is reported apart from the loader's total (with
  ``motion.flow_device=device`` the flow is the device's too: RGB augmentation only here).

In the same run, for every video read, the decode floor: PyAV decoding only the packets
those frames need (from the keyframe before each requested frame to it, frames nothing
refers to skipped, no conversion), timed the same way.

A recipe whose motion input is prepared (``motion.source`` auto or prepared, as
``maclr_k400``) on raw videos is timed the way it trains: :func:`measure_preparation` first
runs the one-time ``modist prepare --config`` on (up to ``samples + batch_size`` of) the
videos into a temporary folder and reports its cost (CPU seconds and bytes per second of
video, by stage), then the samples are timed on that copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import numpy as np
import torch

from modist.config import load_config
from modist.configs import recipe_path
from modist.data.records import VideoDataset, VideoRecord
from modist.data.timing import StageTimer, stage
from modist.data.video import VIDEO_EXTENSIONS
from modist.errors import DataError
from modist.runtime import TorchrunEnv
from modist.training.batches import FlowOnDevice, build_input_pipeline, build_loader, load_dataset

LOADER_STAGES = ("decode", "convert", "flow", "motion", "collate", "other")


@dataclass(frozen=True)
class DataBenchSettings:
    config: str = "k400_slow_r50_8x8"  # recipe name or YAML path
    overrides: tuple[str, ...] = ()  # key=value, as for `modist pretrain`
    dataset: str = ""  # dataset spec, or comma-separated video files; "": the recipe's data.dataset
    samples: int = 24  # training samples timed (after one untimed batch)
    batch_size: int = 4  # samples per loader batch
    motion: bool = True  # False: no flow (an RGB-only method)
    floor: bool = True  # also time the decode floor


@dataclass
class DataBenchResult:
    setup: str
    samples: int
    ms: dict[str, float] = field(default_factory=dict)  # CPU ms per sample by stage
    floor_ms: float = 0.0  # decode floor, CPU ms per sample
    reads: int = 0  # video reads timed
    prepare: PrepareCost | None = None  # the one-time preparation measured first, if the recipe needs one

    @property
    def loader_ms(self) -> float:
        """What a loader worker pays per sample: every stage but ``augment``."""
        return sum(self.ms.get(name, 0.0) for name in LOADER_STAGES)

    def table(self) -> str:
        lines = ["| stage | CPU ms per sample |", "|---|---|"]
        labels = {"decode": "seek + decode", "convert": "colour conversion + resize", "flow": "flow",
                  "motion": "prepared motion input: seek + decode", "collate": "collate", "other": "other loader work"}
        for name in LOADER_STAGES:
            lines.append(f"| {labels[name]} | {self.ms.get(name, 0.0):.1f} |")
        lines.append(f"| **loader total** | **{self.loader_ms:.1f}** |")
        augment = self.ms.get("augment", 0.0)
        lines.append(f"| augmentation + motion encoding (training device in pretrain) | {augment:.1f} |")
        lines.append(f"| decode floor (needed packets only, no conversion) | {self.floor_ms:.1f} |")
        return "\n".join(lines) + "\n"

    def last_line(self) -> str:
        return f"per sample: {self.loader_ms:.1f} ms CPU (decode floor {self.floor_ms:.1f} ms CPU)"


@dataclass
class PrepareCost:
    """The one-time ``modist prepare --config`` of the benchmark's videos, measured on one thread."""

    videos: int
    video_seconds: float
    cpu_seconds: float
    stages: dict[str, float]  # CPU seconds by stage: "rgb" (the RGB copy), "flow", "motion" (encode + write)
    bytes: int
    motion_bytes: int
    wall_seconds: float
    failed: int = 0  # unreadable videos, left out of the copy (the loader would skip them too)

    def per_video_second(self, seconds: float) -> float:
        return seconds / self.video_seconds if self.video_seconds else 0.0

    def line(self, config: str) -> str:
        """One line: CPU seconds and bytes per second of video, by stage and by stream."""
        names = {"rgb": "RGB copy", "flow": "flow", "motion": "motion input encoding"}
        split = ", ".join(f"{label} {self.per_video_second(self.stages.get(k, 0.0)):.2f}" for k, label in names.items())
        rgb_bytes = self.bytes - self.motion_bytes
        skipped = f" ({self.failed} unreadable skipped)" if self.failed else ""
        return (f"one-time preparation (modist prepare --config {config}), one thread, {self.videos} videos{skipped}, "
                f"{self.video_seconds:.1f} s of video: {self.per_video_second(self.cpu_seconds):.2f} CPU s per "
                f"video-second ({split}); {self.per_video_second(self.bytes) / 1e3:.1f} kB per video-second (RGB "
                f"{self.per_video_second(rgb_bytes) / 1e3:.1f}, motion input "
                f"{self.per_video_second(self.motion_bytes) / 1e3:.1f})")


def needs_preparation(settings: DataBenchSettings, cfg) -> bool:
    """Whether the recipe trains from a prepared copy that the benchmark's dataset is not."""
    from modist.data.prepared import prepared_motion_root

    spec = settings.dataset or cfg.data.dataset
    return settings.motion and cfg.motion.source in ("auto", "prepared") and prepared_motion_root(spec) is None


def measure_preparation(settings: DataBenchSettings, cfg, out: str | os.PathLike, limit: int) -> PrepareCost:
    """Prepare the first ``limit`` videos of the benchmark's dataset for ``cfg`` into ``out``, one thread."""
    from modist.data.prepare import prepare_records
    from modist.flow.motion_input import for_recipe

    dataset = dataset_from_spec(settings.dataset or cfg.data.dataset, cfg.data.split, cfg.data.fold)
    records = list(dict.fromkeys(dataset.records))[:limit]
    rgb, motion = for_recipe(cfg)
    timer = StageTimer()
    summary = prepare_records(records, out, rgb, class_names=dataset.class_names, split=cfg.data.split, motion=motion,
                              timer=timer)
    if not summary.done:
        raise DataError(f"{settings.dataset or cfg.data.dataset}: none of {len(records)} videos could be prepared "
                        f"({summary.errors[0] if summary.errors else 'no videos'}); `modist data check` lists them")
    return PrepareCost(summary.done, summary.done_seconds, summary.cpu_seconds, dict(timer.seconds), summary.bytes,
                       summary.motion_bytes, summary.wall_seconds, summary.failed)


def dataset_from_spec(spec: str, split: str = "train", fold: int = 1) -> VideoDataset:
    """A dataset spec (``kind:ROOT`` or a folder), or comma-separated video files."""
    from modist.data.adapters import resolve_dataset

    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if parts and all(p.lower().endswith(VIDEO_EXTENSIONS) and Path(p).is_file() for p in parts):
        return VideoDataset([VideoRecord(p) for p in parts], name="files")
    return resolve_dataset(spec, split=split, fold=fold)


def dataset_available(spec: str) -> bool:
    """Whether ``spec`` (as :func:`dataset_from_spec` takes it) names files or a folder on this machine.

    >>> dataset_available("ucf101:/no/such/UCF101"), dataset_available("/no/a.mp4,/no/b.mp4")
    (False, False)
    """
    from modist.data.adapters import parse_spec

    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if len(parts) > 1 or (parts and parts[0].lower().endswith(VIDEO_EXTENSIONS)):
        return all(Path(p).is_file() for p in parts)
    try:
        return bool(parts) and parse_spec(parts[0])[1].exists()
    except DataError:  # a bare path that is not there
        return False


def decode_floor_seconds(path: str, times: list[float]) -> float:
    """CPU seconds PyAV needs to decode only the packets the frames shown at ``times`` need.

    Packets are demuxed first (untimed); then each run from the keyframe before a requested
    frame up to that frame is decoded once, frames nothing refers to skipped unless requested.
    """
    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        codec = stream.codec_context
        codec.thread_count = 1
        tb = float(stream.time_base)
        start = stream.start_time or 0
        packets = [p for p in container.demux(stream) if p.pts is not None and p.size]
        if not packets:
            return 0.0
        shown = np.array([(p.pts - start) * tb for p in packets])
        keyframe = np.maximum.accumulate(np.where([p.is_keyframe for p in packets], np.arange(len(packets)), 0))
        order = np.argsort(shown, kind="stable")
        eps = 1e-4
        wanted = {int(order[max(np.searchsorted(shown[order], t + eps, side="right") - 1, 0)]) for t in times}
        needed = np.zeros(len(packets), bool)
        for j in wanted:
            needed[keyframe[j]: j + 1] = True
        runs = np.split(np.flatnonzero(needed), np.flatnonzero(np.diff(np.flatnonzero(needed)) != 1) + 1)
        begin = time.process_time()
        for run in runs:
            codec.flush_buffers()
            for j in run.tolist():
                codec.skip_frame = "DEFAULT" if j in wanted else "NONREF"
                codec.decode(packets[j])
            codec.skip_frame = "DEFAULT"
            codec.decode(None)  # drain the frames held for reordering
        return time.process_time() - begin


def describe(settings: DataBenchSettings, cfg, videos: int) -> str:
    d, m = cfg.data, cfg.motion
    from modist.data.prepared import prepared_motion_root

    prepared = settings.motion and m.source in ("auto", "prepared") and prepared_motion_root(cfg.data.dataset)
    flow = "none" if not settings.motion else (
        f"prepared motion input ({m.encoding} of {m.estimator} flow at gap {m.flow_gap} {m.flow_direction})"
        if prepared else
        f"flow store {m.flow_store}" if m.source == "store" else
        f"{m.estimator}{':' + m.preset if m.estimator == 'dis' else ''} at gap {m.flow_gap} {m.flow_direction} "
        f"({m.flow_device})")
    if settings.motion:
        flow += f" of {m.clip_frames or d.clip_frames} frames at stride {m.stride or d.stride}"
    return (f"{settings.config}: 2 views x {d.clip_frames} frames at stride {d.stride}, short side "
            f"{d.short_side or 'native'}, flow {flow}, clips_per_video {d.clips_per_video}; "
            f"{videos} videos from {settings.dataset or cfg.data.dataset}; {settings.samples} samples, "
            f"batch {settings.batch_size}, "
            f"one thread, {os.cpu_count()} CPUs on this machine")


def run_data_bench(settings: DataBenchSettings, *, on_setup: Callable[[str], None] | None = None) -> DataBenchResult:
    """Time ``settings.samples`` samples through the pretraining loader; see the module docstring."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if settings.dataset:  # the recipe's motion.source=auto looks at data.dataset for a prepared copy
        settings = replace(settings, overrides=(*settings.overrides, f"data.dataset={settings.dataset}"))
    overrides = [*settings.overrides, "data.num_workers=0", f"train.batch_size={settings.batch_size}"]
    cfg = load_config(recipe_path(settings.config), overrides)
    if needs_preparation(settings, cfg):
        return _run_on_prepared_copy(settings, cfg, on_setup)
    if settings.dataset:
        dataset = dataset_from_spec(settings.dataset, cfg.data.split, cfg.data.fold)
    else:
        dataset = load_dataset(cfg)
    if len(dataset.records) < settings.samples:  # a few videos: each is read several times
        repeat = -(-settings.samples // max(len(dataset.records), 1))
        dataset = VideoDataset(dataset.records * repeat, dataset.class_names, dataset.name)
    device = torch.device("cpu")
    loader = build_loader(cfg, dataset, with_motion=settings.motion, env=TorchrunEnv(), device=device)
    inputs = build_input_pipeline(cfg)
    setup = describe(settings, cfg, len(dataset))
    if on_setup is not None:
        on_setup(setup)
    timer = StageTimer()
    loader.dataset.dataset.source.timer = timer
    collate = loader.collate_fn

    def timed_collate(items):
        with stage(timer, "collate"):
            return collate(items)

    loader.collate_fn = timed_collate
    samples, total = _time_samples(settings, loader, inputs, timer, device, videos=len(dataset),
                                   where=settings.dataset or cfg.data.dataset)
    result = DataBenchResult(setup, samples, reads=len(timer.requests))
    stages = dict(timer.seconds)
    stages["other"] = total - sum(stages.values())
    result.ms = {name: 1000 * sec / max(samples, 1) for name, sec in stages.items()}
    if settings.floor:
        floor = sum(decode_floor_seconds(path, times) for path, times in timer.requests)
        result.floor_ms = 1000 * floor / max(samples, 1)
    return result


def _run_on_prepared_copy(settings: DataBenchSettings, cfg, on_setup: Callable[[str], None] | None
                          ) -> DataBenchResult:
    """Prepare the benchmark's videos into a temporary folder (measured), then time the samples on that copy."""
    out = tempfile.mkdtemp(prefix="modist-bench-prepare-")
    try:
        cost = measure_preparation(settings, cfg, out, settings.samples + settings.batch_size)
        if on_setup is not None:
            on_setup(cost.line(settings.config))
        result = run_data_bench(replace(settings, dataset=out), on_setup=on_setup)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result.prepare = cost
    return result


def _time_samples(settings: DataBenchSettings, loader, inputs, timer: StageTimer, device: torch.device, *,
                  videos: int, where: str) -> tuple[int, float]:
    """Samples drawn after one untimed batch until ``settings.samples``, and the CPU seconds they took."""
    samples, epoch_batches = 0, iter(loader)
    warm = True
    # A whole pass without a readable video means nothing will ever read: stop, as training does.
    empty, max_empty = 0, -(-videos // settings.batch_size) + 1
    while True:
        try:
            batch = next(epoch_batches)
        except StopIteration:  # a small dataset: start another pass
            epoch_batches = iter(loader)
            continue
        empty = empty + 1 if batch.size == 0 else 0
        if empty >= max_empty:
            raise DataError(f"{where}: {empty} batches in a row without a readable video; `modist data check` "
                            "lists them")
        if warm:  # first batch: imports, first opens; not timed
            warm = False
            timer.reset()
            begin = time.process_time()
            continue
        if batch.size:
            with stage(timer, "augment"):
                if isinstance(inputs, FlowOnDevice):  # flow is the training device's work: not timed on the CPU
                    inputs.inputs(batch, device, with_motion=False)
                else:
                    inputs(batch, device, with_motion=settings.motion)
        samples += batch.size
        if samples >= settings.samples:
            break
    return samples, time.process_time() - begin
