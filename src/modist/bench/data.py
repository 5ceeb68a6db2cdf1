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
* ``collate``: ``collate_clips`` stacking items into a batch;
* ``other``: the rest of the loader's time (sampler, per-item seeding, ``np.stack``);
* ``augment``: crops, flips, jitter and motion encoding (``InputPipeline``); in pretraining
  this runs on the training device, so it is reported apart from the loader's total (with
  ``motion.flow_device=device`` the flow is the device's too: RGB augmentation only here).

In the same run, for every video read, the decode floor: PyAV decoding only the packets
those frames need (from the keyframe before each requested frame to it, frames nothing
refers to skipped, no conversion), timed the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch

from modist.config import load_config
from modist.configs import recipe_path
from modist.data.records import VideoDataset, VideoRecord
from modist.data.timing import StageTimer, stage
from modist.data.video import VIDEO_EXTENSIONS
from modist.distributed import DistEnv
from modist.errors import DataError
from modist.training.batches import FlowOnDevice, build_input_pipeline, build_loader, load_dataset

#: The Kinetics-400 clips of the shared data (340x256, 30 fps, ~10 s, keyframes 4-8 s apart).
KINETICS_CLIPS = ("R6llTwEh07w.mp4", "SOX5yA1l24A.mp4", "WUzgd7C1pWA.mp4")
DEFAULT_DATASET = ",".join(f"../shared/data/videos/unlabeled/{name}" for name in KINETICS_CLIPS)
LOADER_STAGES = ("decode", "convert", "flow", "collate", "other")


@dataclass(frozen=True)
class DataBenchSettings:
    config: str = "k400_slow_r50_8x8"  # recipe name or YAML path
    overrides: tuple[str, ...] = ()  # key=value, as for `modist pretrain`
    dataset: str = DEFAULT_DATASET  # dataset spec, or comma-separated video files
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

    @property
    def loader_ms(self) -> float:
        """What a loader worker pays per sample: every stage but ``augment``."""
        return sum(self.ms.get(name, 0.0) for name in LOADER_STAGES)

    def table(self) -> str:
        lines = ["| stage | CPU ms per sample |", "|---|---|"]
        labels = {"decode": "seek + decode", "convert": "colour conversion + resize", "flow": "flow",
                  "collate": "collate", "other": "other loader work"}
        for name in LOADER_STAGES:
            lines.append(f"| {labels[name]} | {self.ms.get(name, 0.0):.1f} |")
        lines.append(f"| **loader total** | **{self.loader_ms:.1f}** |")
        augment = self.ms.get("augment", 0.0)
        lines.append(f"| augmentation + motion encoding (training device in pretrain) | {augment:.1f} |")
        lines.append(f"| decode floor (needed packets only, no conversion) | {self.floor_ms:.1f} |")
        return "\n".join(lines) + "\n"

    def last_line(self) -> str:
        return f"per sample: {self.loader_ms:.1f} ms CPU (decode floor {self.floor_ms:.1f} ms CPU)"


def dataset_from_spec(spec: str, split: str = "train", fold: int = 1) -> VideoDataset:
    """A dataset spec (``kind:ROOT`` or a folder), or comma-separated video files."""
    from modist.data.adapters import resolve_dataset

    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if parts and all(p.lower().endswith(VIDEO_EXTENSIONS) and Path(p).is_file() for p in parts):
        return VideoDataset([VideoRecord(p) for p in parts], name="files")
    return resolve_dataset(spec, split=split, fold=fold)


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
    flow = "none" if not settings.motion else (
        f"flow store {m.flow_store}" if m.source == "store" else
        f"{m.estimator}{':' + m.preset if m.estimator == 'dis' else ''} at gap {m.flow_gap} ({m.flow_device})")
    return (f"{settings.config}: 2 views x {d.clip_frames} frames at stride {d.stride}, short side "
            f"{d.short_side or 'native'}, flow {flow}, clips_per_video {d.clips_per_video}; "
            f"{videos} videos from {settings.dataset}; {settings.samples} samples, batch {settings.batch_size}, "
            f"one thread, {os.cpu_count()} CPUs on this machine")


def run_data_bench(settings: DataBenchSettings, *, on_setup: Callable[[str], None] | None = None) -> DataBenchResult:
    """Time ``settings.samples`` samples through the pretraining loader; see the module docstring."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    overrides = [*settings.overrides, "data.num_workers=0", f"train.batch_size={settings.batch_size}"]
    cfg = load_config(recipe_path(settings.config), overrides)
    if settings.dataset:
        dataset = dataset_from_spec(settings.dataset, cfg.data.split, cfg.data.fold)
    else:
        dataset = load_dataset(cfg)
    if len(dataset.records) < settings.samples:  # a few videos: each is read several times
        repeat = -(-settings.samples // max(len(dataset.records), 1))
        dataset = VideoDataset(dataset.records * repeat, dataset.class_names, dataset.name)
    device = torch.device("cpu")
    loader = build_loader(cfg, dataset, with_motion=settings.motion, env=DistEnv(), device=device)
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
    samples, epoch_batches = 0, iter(loader)
    warm = True
    # A whole pass without a readable video means nothing will ever read: stop, as training does.
    empty, max_empty = 0, -(-len(dataset) // settings.batch_size) + 1
    while True:
        try:
            batch = next(epoch_batches)
        except StopIteration:  # a small dataset: start another pass
            epoch_batches = iter(loader)
            continue
        empty = empty + 1 if batch["size"] == 0 else 0
        if empty >= max_empty:
            raise DataError(f"{settings.dataset or cfg.data.dataset}: {empty} batches in a row without a "
                            "readable video; `modist data check` lists them")
        if warm:  # first batch: imports, first opens; not timed
            warm = False
            timer.reset()
            begin = time.process_time()
            continue
        if batch["size"]:
            with stage(timer, "augment"):
                if isinstance(inputs, FlowOnDevice):  # flow is the training device's work: not timed on the CPU
                    inputs.inputs({k: v for k, v in batch.items() if k != "flow"}, device, with_motion=False)
                else:
                    inputs(batch, device, with_motion=settings.motion)
        samples += batch["size"]
        if samples >= settings.samples:
            break
    total = time.process_time() - begin
    result = DataBenchResult(setup, samples, reads=len(timer.requests))
    stages = dict(timer.seconds)
    stages["other"] = total - sum(stages.values())
    result.ms = {name: 1000 * sec / max(samples, 1) for name, sec in stages.items()}
    if settings.floor:
        floor = sum(decode_floor_seconds(path, times) for path, times in timer.requests)
        result.floor_ms = 1000 * floor / max(samples, 1)
    return result
