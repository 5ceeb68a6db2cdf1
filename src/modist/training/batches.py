"""From the config to device batches: the dataset, the loader, and a stream that counts.

The pretraining data path is ``records -> PairClipDataset(ClipSource) -> DataLoader with a
GlobalBatchSampler -> collate_clips -> BatchStream -> InputPipeline -> Batch``.
``modist bench data --config`` times exactly this path.

Where the motion input comes from is ``motion.source`` (:func:`resolve_motion_source`):
``prepared`` reads a ``modist prepare --config`` copy's encoded motion input (refused in one
line when the copy was made for other motion settings), ``auto`` does so when ``data.dataset``
is such a copy and estimates on the fly otherwise, saying once what that costs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from modist.config import PretrainConfig
from modist.data.adapters import resolve_dataset
from modist.data.augment import PairedAugment
from modist.data.backends import describe_backend
from modist.data.clips import ClipBatch, ClipSource, PairClipDataset, PartnerFrames, collate_clips
from modist.data.frame_difference import FrameDifference
from modist.data.prepared import MotionInputSettings, PreparedMotion, check_motion_settings, prepared_motion_root
from modist.data.records import VideoDataset
from modist.distributed import min_across_ranks
from modist.errors import ConfigError, DataError
from modist.flow.inputs import InputPipeline
from modist.flow.sources import DeviceFlow, EstimatedFlow, FlowFromStore
from modist.methods.base import Batch
from modist.runtime import TorchrunEnv
from modist.training.sampler import GlobalBatchSampler, SeededItems
from modist.training.step import channels_last_views

log = logging.getLogger(__name__)


def load_dataset(cfg: PretrainConfig) -> VideoDataset:
    """The records ``data.dataset`` names (split and fold applied)."""
    return resolve_dataset(cfg.data.dataset, split=cfg.data.split, fold=cfg.data.fold)


def build_input_pipeline(cfg: PretrainConfig, *, train: bool = True) -> InputPipeline | FlowOnDevice:
    """Batched augmentation on the device and the configured motion encoding."""
    d = cfg.data
    augment = PairedAugment(d.crop_size, scale=(d.crop_scale_min, 1.0),
                            ratio=(1 / d.crop_aspect_max, d.crop_aspect_max), flip=d.flip,
                            color_jitter=d.color_jitter, grayscale_prob=d.grayscale_prob, blur_prob=d.blur_prob,
                            train=train)
    inputs = InputPipeline(augment, cfg.motion.encoding, cfg.motion.max_flow, cfg.motion.edge_max)
    if cfg.motion.flow_device == "device" and cfg.motion.source != "store":
        return FlowOnDevice(inputs, DeviceFlow(cfg.motion.estimator))
    return inputs


class FlowOnDevice:
    """``motion.flow_device=device``: flow from the loader's partner frames, in batches on the device.

    The loader ships uint8 (motion frame, partner frame) pairs, ``[..., H, W, 6]``, as the batch's
    ``partner_frames`` (:class:`PartnerFrames`); they are turned into flow on the training device
    before the usual augmentation and encoding.
    """

    def __init__(self, inputs: InputPipeline, flow: DeviceFlow):
        self.inputs = inputs
        self.flow = flow

    def __call__(self, batch: ClipBatch, device: torch.device, with_motion: bool):
        if with_motion and batch.partner_frames is not None:
            batch = replace(batch, flow=self._estimate(batch, device), partner_frames=None)
        return self.inputs(batch, device, with_motion)

    def _estimate(self, batch: ClipBatch, device: torch.device) -> torch.Tensor:
        """Flow of the batch's partner frames, each item estimated on its own frame only.

        Items smaller than the batch sit padded (``collate_clips``); estimating over the
        padding would let its black border pull on the flow near the frame's edge, so each
        group of equally sized items is estimated on its own (h, w) and padded back with zeros.
        """
        # The motion clip's own frames travel with their partners: it need not be the RGB clip.
        rgb, partners = batch.partner_frames[..., :3], batch.partner_frames[..., 3:]
        sizes = batch.frame_size
        h, w = rgb.shape[-3:-1]
        if sizes is None or bool((sizes == sizes.new_tensor([h, w])).all()):
            return self.flow(rgb, partners, device)
        out = torch.zeros((*partners.shape[:-1], 2), device=device)
        for size in torch.unique(sizes, dim=0).tolist():
            rows = (sizes == sizes.new_tensor(size)).all(dim=1).nonzero().flatten()
            fh, fw = size
            crop = (rows, ..., slice(0, fh), slice(0, fw), slice(None))
            out[crop] = self.flow(rgb[crop], partners[crop], device)
        return out


#: CPU ms of one DIS flow pair at 340x256 (the Kinetics clips' size), one thread of the 2-core development
#: machine (docs/training.md): what the raw-video note multiplies by the pairs of a sample.
DIS_PAIR_MS = {"ultrafast": 1.1, "fast": 3.1, "medium": 7.7}


def resolve_motion_source(cfg: PretrainConfig) -> tuple[str, Path | None]:
    """``(source, prepared folder)``: what ``motion.source`` means for ``data.dataset``.

    ``auto`` is ``prepared`` when the dataset is a ``modist prepare --config`` copy with motion
    input and ``on_the_fly`` otherwise. ConfigError (one line, naming the keys) when the copy's
    motion input was prepared with other settings than the recipe's, or when ``prepared`` is
    asked of a dataset that is no such copy.
    """
    m = cfg.motion
    if m.source not in ("auto", "prepared"):
        return m.source, None
    found = prepared_motion_root(cfg.data.dataset)
    if found is None:
        if m.source == "prepared":
            raise ConfigError(f"motion.source=prepared: data.dataset {cfg.data.dataset} is not a copy with prepared "
                              "motion input (`modist prepare` with this recipe makes one; docs/training.md)")
        return "on_the_fly", None
    root, recorded = found
    check_motion_settings(root, recorded, MotionInputSettings.from_config(cfg))
    return "prepared", root


def raw_video_note(cfg: PretrainConfig) -> str:
    """One line: what estimating the motion input in the loader costs, and how to prepare instead."""
    m, d = cfg.motion, cfg.data
    pairs = 2 * (m.clip_frames or d.clip_frames)  # two views a sample
    name = f"{m.estimator}:{m.preset}" if m.estimator == "dis" else m.estimator
    cost = ""
    if m.estimator == "dis" and m.preset in DIS_PAIR_MS:
        # Scaled by the frame area from 340x256 (a 4:3 frame when the short side is given).
        area = (d.short_side * d.short_side * 340 / 256) if d.short_side else 340 * 256
        ms = pairs * DIS_PAIR_MS[m.preset] * area / (340 * 256)
        cost = f", about {ms:.0f} ms of CPU per sample" if ms >= 10 else f", about {ms:.1f} ms of CPU per sample"
    return (f"{d.dataset}: raw videos, so the loader estimates the motion input ({pairs} {name} flow pairs per "
            f"sample{cost}); prepare it once with `modist prepare` and this recipe, and train with "
            "data.dataset=<the copy> (docs/training.md)")


def build_clip_source(cfg: PretrainConfig, *, with_motion: bool, note: bool = True) -> ClipSource:
    """Frames (frame cache or seeking) and, if ``with_motion``, flow estimated or read from a store, or the
    encoded motion input of a prepared copy. ``note``: log :func:`raw_video_note` when ``motion.source=auto``
    finds raw videos."""
    m = cfg.motion
    flow = None
    source, prepared = resolve_motion_source(cfg) if with_motion else (m.source, None)
    if with_motion and source == "prepared":
        flow = PreparedMotion(str(prepared), m.flow_gap, m.flow_direction)
    elif with_motion and m.source == "store":
        flow = FlowFromStore(m.flow_store, m.flow_gap, m.flow_direction)
    elif with_motion and m.encoding == "frame_diff":
        flow = FrameDifference(m.flow_gap, m.flow_direction)  # no flow: nothing to estimate or prepare
    elif with_motion and m.flow_device == "device":
        # flow estimated later, in batches on the training device
        flow = PartnerFrames(m.flow_gap, m.flow_direction)
    elif with_motion:
        flow = EstimatedFlow(m.estimator, m.preset, m.flow_gap, m.flow_direction)
    if (with_motion and m.source == "auto" and source == "on_the_fly" and m.flow_device == "loader"
            and m.encoding != "frame_diff" and note):
        log.warning(raw_video_note(cfg))
    d = cfg.data
    if d.video_backend != "pyav":
        log.info(describe_backend(d.video_backend))  # nvdec: which decoder runs, or why not
    return ClipSource(flow, short_side=d.short_side, frame_cache=d.frame_cache, backend=d.video_backend,
                      motion_frames=m.clip_frames, motion_stride=m.stride)


def build_loader(cfg: PretrainConfig, dataset: VideoDataset, *, with_motion: bool, env: TorchrunEnv,
                 device: torch.device, start_batch: int = 0) -> DataLoader:
    """This rank's share of every global batch, from batch ``start_batch`` on (exact resume)."""
    t, d = cfg.train, cfg.data
    source = build_clip_source(cfg, with_motion=with_motion, note=env.rank == 0)
    clips = PairClipDataset(dataset.records, source, clip_frames=d.clip_frames, stride=d.stride,
                            min_clip_gap_sec=d.min_clip_gap_sec, max_clip_gap_sec=d.max_clip_gap_sec,
                            clips_per_video=d.clips_per_video)
    # data.clips_per_video samples per video read: the loader draws that many fewer videos a batch.
    videos = t.batch_size // d.clips_per_video
    sampler = GlobalBatchSampler(len(clips), videos, world_size=env.world_size, rank=env.rank, seed=t.seed,
                                 start_batch=start_batch)
    return DataLoader(SeededItems(clips, t.seed), batch_size=videos, sampler=sampler,
                      num_workers=d.num_workers, collate_fn=collate_clips,
                      persistent_workers=d.num_workers > 0, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(t.seed))


class BatchStream:
    """Device batches drawn from a loader, with the counts a run reports and checkpoints.

    A batch in which some rank has fewer than two readable clips is skipped on every rank
    (InfoNCE needs two); a whole epoch of such batches means the data cannot be read, and
    the stream stops with one error instead of drawing batches forever.
    """

    def __init__(self, loader: DataLoader, inputs: InputPipeline, *, dataset_name: str, num_videos: int,
                 with_motion: bool, channels_last: bool, env: TorchrunEnv, device: torch.device, start_batch: int = 0):
        self._batches = iter(loader)
        self.inputs = inputs
        self.dataset_name = dataset_name
        self.with_motion = with_motion
        self.channels_last = channels_last
        self.env = env
        self.device = device
        #: loader batches drawn since the run began (checkpointed: the sampler resumes there)
        self.batches = start_batch
        #: unreadable videos met by this process (reads: a file met twice counts twice)
        self.skipped = 0
        #: distinct unreadable files met by this process
        self.skipped_paths: set[str] = set()
        #: clips trained on by all ranks in this process's lifetime
        self.clips = 0
        #: seconds this process waited for the loader (the step's data wait; metrics.jsonl data_wait_s)
        self.wait_s = 0.0
        # One epoch of global batches, plus one.
        self._max_empty = -(-num_videos // (loader.batch_size * env.world_size)) + 1

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Batch:
        waited = time.perf_counter()
        batch, n = self._next_readable()
        self.wait_s += time.perf_counter() - waited
        # The first n readable clips, so that every rank contributes equally many keys.
        batch = batch if batch.size == n else batch.head(n)
        self.clips += n * self.env.world_size
        rgb, motion = self.inputs(batch, self.device, with_motion=self.with_motion)
        if self.channels_last:
            rgb, motion = channels_last_views(rgb), channels_last_views(motion)
        return Batch(rgb, motion, batch.labels.to(self.device))

    def _next_readable(self) -> tuple[ClipBatch, int]:
        for _ in range(self._max_empty):
            batch = next(self._batches)
            self.batches += 1
            self.skipped += batch.skipped
            self.skipped_paths.update(batch.skipped_paths)
            n = min_across_ranks(batch.size, self.device)
            if n >= 2:
                return batch, n
        raise DataError(f"dataset {self.dataset_name!r}: {self._max_empty} batches in a row without two readable "
                        f"videos ({len(self.skipped_paths)} unreadable file(s)); `modist data check` lists them")


def build_batch_stream(cfg: PretrainConfig, dataset: VideoDataset, *, with_motion: bool, env: TorchrunEnv,
                       device: torch.device, start_batch: int = 0) -> BatchStream:
    """The device batches ``modist pretrain`` trains on: loader, inputs and counters together."""
    loader = build_loader(cfg, dataset, with_motion=with_motion, env=env, device=device, start_batch=start_batch)
    return BatchStream(loader, build_input_pipeline(cfg), dataset_name=cfg.data.dataset, num_videos=len(dataset),
                       with_motion=with_motion, channels_last=cfg.train.channels_last, env=env, device=device,
                       start_batch=start_batch)
