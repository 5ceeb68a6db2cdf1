"""Training and evaluation datasets that turn video records into clips (+ flow).

:class:`PairClipDataset` yields, per video, two clips whose starts are
``min_clip_gap_sec``..``max_clip_gap_sec`` apart, as uint8 frames, and (when a motion source
is given) the optical flow of every clip frame to the frame ``flow_gap`` later. Spatial
augmentation happens later, batched on the training device (:mod:`modist.data.augment`),
so that crops and flips apply to frames and flow alike.

A video that cannot be read is skipped: the item comes back as ``{"unreadable": path}`` and
:func:`collate_clips` drops it, counts it in ``batch["skipped"]`` and names it in
``batch["skipped_paths"]`` (the paths travel with the batch out of loader workers).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from modist.data.backends import reader_for
from modist.data.records import VideoRecord
from modist.data.sampling import clip_indices, sample_pair_starts, uniform_clip_starts
from modist.data.timing import StageTimer, stage
from modist.data.video import VideoReader, read_video
from modist.errors import VideoReadError

log = logging.getLogger(__name__)


class FlowSource(Protocol):
    """Where the flow of clip frames comes from; implemented in :mod:`modist.flow.sources`.

    The data layer does not import :mod:`modist.flow`: the trainer and the evaluation
    encoder hand a source in (``EstimatedFlow`` or ``FlowFromStore``).
    """

    #: frames between the two frames of a flow pair
    flow_gap: int
    #: True: flow is read from a store (:meth:`read`); False: estimated from frames (:meth:`estimate`)
    stored: bool

    def estimate(self, frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        """float16 [N, H, W, 2] flow from ``frames0[i]`` to ``frames1[i]``."""
        ...

    def read(self, video_path: str, frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """float16 [len(frames), H, W, 2] stored flow of the absolute frame indices ``frames``."""
        ...


@dataclass(frozen=True)
class PartnerFrames:
    """A :class:`FlowSource` that defers flow to the training process (``motion.flow_device=device``).

    Its ``estimate`` hands back each frame's flow partner unchanged, so the loader ships
    uint8 partner frames under ``"flow"`` ([..., H, W, 3] instead of float [..., H, W, 2]) and
    the training process estimates the flow in batches on its device
    (:class:`modist.flow.sources.DeviceFlow`). Decoding and sampling are those of on-the-fly flow.
    """

    flow_gap: int = 1
    stored = False

    def estimate(self, frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        return frames1

    def read(self, video_path: str, frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        raise TypeError("PartnerFrames defers flow to the training device; it has no store to read")


class FrameCache:
    """Decoded frames (and memoised flow) of recently used videos, least recently used evicted."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._videos: OrderedDict[str, tuple[np.ndarray, float, dict]] = OrderedDict()

    def get(self, key: str):
        item = self._videos.get(key)
        if item is not None:
            self._videos.move_to_end(key)
        return item

    def put(self, key: str, frames: np.ndarray, fps: float) -> tuple[np.ndarray, float, dict]:
        item = (frames, fps, {})
        self._videos[key] = item
        while len(self._videos) > self.capacity:
            self._videos.popitem(last=False)
        return item


StartChooser = Callable[[int, float], "list[int]"]


class ClipSource:
    """Frames of the clips a dataset asks for, and their flow.

    Two strategies, chosen by ``frame_cache``:

    * ``frame_cache > 0``: decode whole videos once and keep the most recent ones in
      memory, flow memoised per frame (small datasets such as the synthetic benchmark);
    * ``frame_cache == 0``: open the video, seek and decode only the frames of the
      requested clips plus their flow partners (real datasets with long videos).
    """

    def __init__(self, flow: FlowSource | None, short_side: int = 0, frame_cache: int = 0, backend: str = "pyav"):
        self.flow = flow
        self.backend = backend  # see modist.data.backends (seeking strategy only)
        self.short_side = short_side
        self.cache = FrameCache(frame_cache) if frame_cache > 0 else None
        #: optional per-stage CPU timer (``modist bench data``): "decode", "convert", "flow"
        self.timer: StageTimer | None = None

    def clips(self, record: VideoRecord, choose_starts: StartChooser, clip_frames: int, stride: int
              ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """RGB clips [T, H, W, 3] uint8 and (if ``flow``) flow [T, H, W, 2] float16 per start.

        ``choose_starts(num_frames, fps)`` picks start frames once the length is known.
        Raises VideoReadError for unreadable videos.
        """
        if self.cache is not None:
            return self._from_frame_cache(record, choose_starts, clip_frames, stride)
        return self._by_seeking(record, choose_starts, clip_frames, stride)

    def _gap(self) -> int:
        return self.flow.flow_gap if self.flow is not None else 0

    def _from_frame_cache(self, record, choose_starts, clip_frames, stride):
        key = f"{record.path}|{record.start_sec}|{record.end_sec}"
        item = self.cache.get(key)
        if item is None:
            decoded = read_video(record.path, short_side=self.short_side or None)
            frames = _trim(decoded.frames, decoded.times, record)
            item = self.cache.put(key, frames, decoded.fps)
        frames, fps, memo = item
        idx = [clip_indices(s, clip_frames, stride, len(frames)) for s in choose_starts(len(frames), fps)]
        rgb = [frames[i] for i in idx]
        if self.flow is None:
            return rgb, None
        if self.flow.stored:
            return rgb, self._from_flow_store(record, idx, 0, frames.shape[1:3])
        last = len(frames) - 1
        todo = [i for i in dict.fromkeys(np.concatenate(idx).tolist()) if i not in memo]
        if todo:
            nxt = [min(i + self._gap(), last) for i in todo]
            for i, f in zip(todo, self._estimate(frames[todo], frames[nxt])):
                memo[i] = f
        return rgb, [np.stack([memo[i] for i in clip.tolist()]) for clip in idx]

    def _by_seeking(self, record, choose_starts, clip_frames, stride):
        with stage(self.timer, "decode"):
            if self.backend == "pyav":
                reader = VideoReader(record.path, short_side=self.short_side or None)
            else:
                reader = reader_for(record.path, backend=self.backend, short_side=self.short_side or None)
        with reader:
            reader.timer = self.timer
            total, fps = reader.frame_grid()  # no decoding: info would decode frame 0 for its orientation
            fps = fps if fps > 0 else 30.0
            first = int(round((record.start_sec or 0.0) * fps))
            end = total if record.end_sec is None else min(total, int(round(record.end_sec * fps)))
            num_frames = end - first
            if num_frames <= 0:
                raise VideoReadError(f"{record.path}: no frames between {record.start_sec} s and {record.end_sec} s")
            idx = [clip_indices(s, clip_frames, stride, num_frames) for s in choose_starts(num_frames, fps)]
            flat = np.concatenate(idx)
            from_store = self.flow is not None and self.flow.stored
            computes_flow = self.flow is not None and not from_store
            partners = np.minimum(flat + self._gap(), num_frames - 1) if computes_flow else flat[:0]
            wanted = np.unique(np.concatenate([flat, partners]))
            decoded = reader.frames(wanted + first).frames
        position = {int(i): k for k, i in enumerate(wanted)}
        rgb = [decoded[[position[int(i)] for i in clip]] for clip in idx]
        if self.flow is None:
            return rgb, None
        if from_store:
            return rgb, self._from_flow_store(record, idx, first, decoded.shape[1:3])
        # Overlapping clips (many evaluation views of a short video) share frames: estimate
        # each frame's flow once.
        unique, inverse = np.unique(flat, return_inverse=True)
        unique_partners = np.minimum(unique + self._gap(), num_frames - 1)
        flows = self._estimate(decoded[[position[int(i)] for i in unique]],
                               decoded[[position[int(i)] for i in unique_partners]])[inverse.reshape(-1)]
        return rgb, list(flows.reshape(len(idx), clip_frames, *flows.shape[1:]))

    def _estimate(self, frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        with stage(self.timer, "flow"):
            return self.flow.estimate(frames0, frames1)

    def _from_flow_store(self, record: VideoRecord, idx: list[np.ndarray], first: int,
                         size: tuple[int, int]) -> list[np.ndarray]:
        flat = np.concatenate(idx) + first
        with stage(self.timer, "flow"):
            return list(self.flow.read(record.path, flat, size).reshape(len(idx), -1, *size, 2))


def _trim(frames: np.ndarray, times: np.ndarray, record: VideoRecord) -> np.ndarray:
    if record.start_sec is None and record.end_sec is None:
        return frames
    lo = record.start_sec or 0.0
    hi = record.end_sec if record.end_sec is not None else np.inf
    keep = (times >= lo - 1e-6) & (times < hi)
    if not keep.any():
        raise VideoReadError(f"{record.path}: no frames between {lo} s and {hi} s")
    return frames[keep]


class _ClipDataset(Dataset):
    """Shared decoding and item assembly; subclasses choose the clip start frames."""

    #: training samples one item holds (PairClipDataset's clips_per_video)
    samples_per_item = 1

    def __init__(self, records: list[VideoRecord], source: ClipSource, clip_frames: int, stride: int):
        self.records = records
        self.source = source
        self.clip_frames = clip_frames
        self.stride = stride

    def __len__(self) -> int:
        return len(self.records)

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict | None:
        record = self.records[index]
        try:
            rgb, flow = self.source.clips(record, self._starts, self.clip_frames, self.stride)
        except VideoReadError as exc:
            # Not a warning: in a loader worker it would print into the progress bar, once per read.
            # Callers count the distinct paths from the batch and report them once.
            log.debug("skipping unreadable video: %s", exc)
            return {"unreadable": str(record.path)}
        k = self.samples_per_item
        item = {
            "rgb": torch.from_numpy(_group(np.stack(rgb), k)),
            "label": -1 if record.label is None else int(record.label),
            "index": index,
        }
        if flow is not None:
            item["flow"] = torch.from_numpy(_group(np.stack(flow), k))
        if k > 1:
            item["samples"] = k  # collate_clips splits the item into k samples
        return item


class PairClipDataset(_ClipDataset):
    """Two clips of each video (a positive pair) plus their flow when ``source.flow`` is set.

    ``clips_per_video > 1`` draws that many pairs from one read of the video (PySlowFast's
    multi-clip setting): the reader decodes the union of their frames in one pass, and
    :func:`collate_clips` turns the item into that many samples. The pairs are drawn one
    after the other from the item's generator, so the first is the pair of
    ``clips_per_video=1`` and a resumed run draws the same pairs.
    """

    def __init__(
        self,
        records: list[VideoRecord],
        source: ClipSource,
        clip_frames: int = 8,
        stride: int = 2,
        min_clip_gap_sec: float = 0.5,
        max_clip_gap_sec: float = 10.0,
        clips_per_video: int = 1,
    ):
        super().__init__(records, source, clip_frames, stride)
        self.min_clip_gap_sec = min_clip_gap_sec
        self.max_clip_gap_sec = max_clip_gap_sec
        if clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1, got {clips_per_video}")
        self.samples_per_item = clips_per_video

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        # Seeded from torch so that DataLoader worker seeding and torch.manual_seed apply.
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
        starts: list[int] = []
        for _ in range(self.samples_per_item):
            starts.extend(sample_pair_starts(num_frames, fps, self.clip_frames, self.stride,
                                             self.min_clip_gap_sec, self.max_clip_gap_sec, rng))
        return starts


class MultiClipDataset(_ClipDataset):
    """``num_clips`` uniformly spaced clips per video, for feature extraction."""

    def __init__(self, records: list[VideoRecord], source: ClipSource, clip_frames: int, stride: int, num_clips: int):
        super().__init__(records, source, clip_frames, stride)
        self.num_clips = num_clips

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        return uniform_clip_starts(num_frames, self.clip_frames, self.stride, self.num_clips)


def collate_clips(items: list[dict | None]) -> dict:
    """Stack the readable items; ``skipped`` counts the unreadable ones, ``skipped_paths`` names them."""
    items = split_samples(items)  # clips_per_video > 1: one item, several samples
    good = [it for it in items if it is not None and "unreadable" not in it]
    batch: dict = {"skipped": len(items) - len(good), "size": len(good),
                   "skipped_paths": [it["unreadable"] for it in items if it is not None and "unreadable" in it]}
    if not good:
        return batch
    # Videos of different sizes (real datasets) are centre-cropped to the batch's smallest size.
    h = min(it["rgb"].shape[-3] for it in good)
    w = min(it["rgb"].shape[-2] for it in good)
    batch["rgb"] = torch.stack([_centre(it["rgb"], h, w) for it in good])
    batch["label"] = torch.tensor([it["label"] for it in good])
    batch["index"] = torch.tensor([it["index"] for it in good])
    if "flow" in good[0]:
        batch["flow"] = torch.stack([_centre(it["flow"], h, w) for it in good])
    return batch


def _group(x: np.ndarray, k: int) -> np.ndarray:
    """[k * V, ...] clips of one item -> [k, V, ...] (k samples of V views); unchanged for k = 1."""
    return x if k == 1 else x.reshape(k, len(x) // k, *x.shape[1:])


def split_samples(items: list[dict | None]) -> list[dict | None]:
    """Items holding several samples (``clips_per_video > 1``) as one item per sample."""
    out: list[dict | None] = []
    for it in items:
        k = it.get("samples", 1) if it is not None else 1
        if k == 1:
            out.append(it)
            continue
        for j in range(k):
            part = {"rgb": it["rgb"][j], "label": it["label"], "index": it["index"]}
            if "flow" in it:
                part["flow"] = it["flow"][j]
            out.append(part)
    return out


def _centre(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Centre crop of [..., H, W, C] to [..., h, w, C]."""
    top = (x.shape[-3] - h) // 2
    left = (x.shape[-2] - w) // 2
    return x[..., top:top + h, left:left + w, :]


__all__ = [
    "ClipSource", "FlowSource", "PairClipDataset", "PartnerFrames", "MultiClipDataset", "collate_clips",
    "split_samples",
]
