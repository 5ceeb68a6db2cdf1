"""Training and evaluation datasets that turn video records into clips (+ flow).

:class:`PairClipDataset` yields, per video, two clips whose starts are
``min_gap_sec``..``max_gap_sec`` apart, as uint8 frames, and (when a motion source
is given) the optical flow of every clip frame to the frame ``gap`` later. Spatial
augmentation happens later, batched on the training device (:mod:`modist.data.augment`),
so that crops and flips apply to frames and flow alike.

A video that cannot be read is skipped: the item comes back as ``None`` and
:func:`collate_clips` drops it and counts it in ``batch["skipped"]``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from modist.data.records import VideoRecord
from modist.data.sampling import clip_indices, sample_pair_starts, uniform_clip_starts
from modist.data.video import read_video
from modist.errors import VideoReadError

log = logging.getLogger(__name__)


@dataclass
class FlowSpec:
    """How motion input is obtained: estimator, its preset and the frame gap of a pair."""

    method: str = "dis"
    preset: str = "fast"
    gap: int = 1

    def options(self) -> dict:
        return {"preset": self.preset} if self.method == "dis" else {}


class VideoCache:
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
        if self.capacity > 0:
            self._videos[key] = item
            while len(self._videos) > self.capacity:
                self._videos.popitem(last=False)
        return item


def _resize_short_side(frames: np.ndarray, short_side: int) -> np.ndarray:
    if short_side <= 0:
        return frames
    h, w = frames.shape[1:3]
    scale = short_side / min(h, w)
    if abs(scale - 1) < 1e-6:
        return frames
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


class ClipSource:
    """Decodes records (trimmed to their start/end) and computes flow, with a shared cache."""

    def __init__(self, flow: FlowSpec | None, short_side: int = 0, cache_videos: int = 0):
        self.flow = flow
        self.short_side = short_side
        self.cache = VideoCache(cache_videos)

    def video(self, record: VideoRecord) -> tuple[np.ndarray, float, dict]:
        key = f"{record.path}|{record.start_sec}|{record.end_sec}"
        item = self.cache.get(key)
        if item is not None:
            return item
        decoded = read_video(record.path)
        frames = decoded.frames
        if record.start_sec is not None or record.end_sec is not None:
            lo = record.start_sec or 0.0
            hi = record.end_sec if record.end_sec is not None else np.inf
            keep = (decoded.times >= lo - 1e-6) & (decoded.times < hi)
            if not keep.any():
                raise VideoReadError(f"{record.path}: no frames between {lo} s and {hi} s")
            frames = frames[keep]
        return self.cache.put(key, _resize_short_side(frames, self.short_side), decoded.fps)

    def flow_at(self, frames: np.ndarray, memo: dict, indices: np.ndarray) -> np.ndarray:
        """Flow from each indexed frame to the one ``gap`` later (clamped at the end)."""
        from modist.flow import estimate_batch

        assert self.flow is not None
        last = len(frames) - 1
        todo = [int(i) for i in dict.fromkeys(indices.tolist()) if int(i) not in memo]
        if todo:
            nxt = [min(i + self.flow.gap, last) for i in todo]
            flows = estimate_batch(frames[todo], frames[nxt], method=self.flow.method, **self.flow.options())
            for i, f in zip(todo, flows):
                memo[i] = f.astype(np.float16)
        return np.stack([memo[int(i)] for i in indices])


class _ClipDataset(Dataset):
    """Shared decoding and item assembly; subclasses choose the clip start frames."""

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
            frames, fps, memo = self.source.video(record)
        except VideoReadError as exc:
            log.warning("skipping unreadable video: %s", exc)
            return None
        idx = [clip_indices(s, self.clip_frames, self.stride, len(frames)) for s in self._starts(len(frames), fps)]
        item = {
            "rgb": torch.from_numpy(np.stack([frames[i] for i in idx])),
            "label": -1 if record.label is None else int(record.label),
            "index": index,
        }
        if self.source.flow is not None:
            item["flow"] = torch.from_numpy(np.stack([self.source.flow_at(frames, memo, i) for i in idx]))
        return item


class PairClipDataset(_ClipDataset):
    """Two clips of each video (a positive pair) plus their flow when ``source.flow`` is set."""

    def __init__(
        self,
        records: list[VideoRecord],
        source: ClipSource,
        clip_frames: int = 8,
        stride: int = 2,
        min_gap_sec: float = 0.5,
        max_gap_sec: float = 10.0,
    ):
        super().__init__(records, source, clip_frames, stride)
        self.min_gap_sec = min_gap_sec
        self.max_gap_sec = max_gap_sec

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        # Seeded from torch so that DataLoader worker seeding and torch.manual_seed apply.
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
        return list(sample_pair_starts(num_frames, fps, self.clip_frames, self.stride,
                                       self.min_gap_sec, self.max_gap_sec, rng))


class MultiClipDataset(_ClipDataset):
    """``num_clips`` uniformly spaced clips per video, for feature extraction."""

    def __init__(self, records: list[VideoRecord], source: ClipSource, clip_frames: int, stride: int, num_clips: int):
        super().__init__(records, source, clip_frames, stride)
        self.num_clips = num_clips

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        return uniform_clip_starts(num_frames, self.clip_frames, self.stride, self.num_clips)


def collate_clips(items: list[dict | None]) -> dict:
    """Stack the readable items; ``skipped`` counts the unreadable ones."""
    good = [it for it in items if it is not None]
    batch: dict = {"skipped": len(items) - len(good), "size": len(good)}
    if not good:
        return batch
    batch["rgb"] = torch.stack([it["rgb"] for it in good])
    batch["label"] = torch.tensor([it["label"] for it in good])
    batch["index"] = torch.tensor([it["index"] for it in good])
    if "flow" in good[0]:
        batch["flow"] = torch.stack([it["flow"] for it in good])
    return batch


__all__ = [
    "ClipSource", "FlowSpec", "PairClipDataset", "MultiClipDataset", "collate_clips",
]
