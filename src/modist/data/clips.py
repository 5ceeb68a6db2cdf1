"""Training and evaluation datasets that turn video records into clips (+ flow).

:class:`PairClipDataset` yields, per video, two clips whose starts are
``min_clip_gap_sec``..``max_clip_gap_sec`` apart, as uint8 frames, and (when a motion source
is given) the optical flow of every frame of each clip's *motion clip*. Spatial
augmentation happens later, batched on the training device (:mod:`modist.data.augment`),
so that crops and flips apply to frames and flow alike.

The motion clip of an RGB clip is ``motion_frames`` frames every ``motion_stride`` frames
from the RGB clip's start frame (:class:`ClipSource`; 0, the default, takes the RGB clip's
own frames and stride, so flow is then that of the RGB frames). The release samples its
flow clip separately (``DATA.FLOW_NUM_FRAMES 16`` x ``FLOW_SAMPLING_RATE 4`` beside
``DATA.NUM_FRAMES 8`` x ``SAMPLING_RATE 8``, ``slowfast/config/defaults.py`` of
amazon-science/self-supervised-maclr) but did not release the loader that pairs them;
starting both at the same frame is our choice: 8 x 8 and 16 x 4 then cover the same 64
frames. The flow of motion frame ``t`` goes to :func:`~modist.data.sampling.flow_partners`
``(t)``: ``t + flow_gap`` (forward) or ``t - flow_gap`` (backward, the authors'), clamped to
the video or segment. RGB frames, motion frames and partners are decoded in one read.

A source whose ``encoded`` is True (:class:`~modist.data.prepared.PreparedMotion`, a prepared
copy's motion input) reads the motion clip's frames already encoded, uint8 ``[Tm, H, W, C]``:
items carry them as ``"motion"`` instead of ``"flow"``, and nothing is estimated.

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
from modist.data.sampling import (
    clip_indices,
    clip_span,
    flow_partners,
    joint_span,
    motion_clip,
    sample_pair_starts,
    uniform_clip_starts,
)
from modist.data.timing import StageTimer, stage
from modist.data.video import VideoReader, read_video
from modist.errors import VideoReadError

log = logging.getLogger(__name__)


class FlowSource(Protocol):
    """Where the flow of clip frames comes from; implemented in :mod:`modist.flow.sources`.

    The data layer does not import :mod:`modist.flow`: the trainer and the evaluation
    encoder hand a source in (``EstimatedFlow``, ``FlowFromStore`` or ``PreparedMotion``).
    A source may also set ``encoded = True``: its ``read`` then returns the encoded motion
    input, uint8 ``[len(frames), H, W, C]``, and takes a ``timer`` keyword.
    """

    #: frames between the two frames of a flow pair
    flow_gap: int
    #: "forward" (frame t -> t + flow_gap) or "backward" (t -> t - flow_gap); see flow_partners
    flow_direction: str
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

    Its ``estimate`` hands back each motion frame beside its flow partner, so the loader
    ships uint8 ``[..., H, W, 6]`` under ``"flow"`` (RGB of the motion frame, then RGB of
    its partner; instead of float ``[..., H, W, 2]``) and the training process estimates
    the flow in batches on its device (:class:`modist.flow.sources.DeviceFlow`). The motion
    frames travel too because the motion clip need not be the RGB clip. Decoding, sampling
    and partners are those of on-the-fly flow.

    Example:
        >>> frames = np.zeros((2, 4, 4, 3), np.uint8)
        >>> PartnerFrames(flow_gap=5, flow_direction="backward").estimate(frames, frames + 1)[0, 0, 0].tolist()
        [0, 0, 0, 1, 1, 1]
    """

    flow_gap: int = 1
    flow_direction: str = "forward"
    stored = False

    def estimate(self, frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        return np.concatenate([frames0, frames1], axis=-1)

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
    """Frames of the clips a dataset asks for, and the flow of their motion clips.

    Two strategies, chosen by ``frame_cache``:

    * ``frame_cache > 0``: decode whole videos once and keep the most recent ones in
      memory, flow memoised per frame (small datasets such as the synthetic benchmark);
    * ``frame_cache == 0``: open the video, seek and decode only the frames of the
      requested clips, their motion clips and the flow partners (real datasets with long
      videos), in one read.

    ``motion_frames`` x ``motion_stride`` is the motion clip of every clip, from the clip's
    start frame (0: the RGB clip's frames / stride).
    """

    def __init__(self, flow: FlowSource | None, short_side: int = 0, frame_cache: int = 0, backend: str = "pyav",
                 motion_frames: int = 0, motion_stride: int = 0):
        self.flow = flow
        self.backend = backend  # see modist.data.backends (seeking strategy only)
        self.short_side = short_side
        self.cache = FrameCache(frame_cache) if frame_cache > 0 else None
        if motion_frames < 0 or motion_stride < 0:
            raise ValueError(f"motion clip {motion_frames} x {motion_stride}: need >= 0 (0 = the RGB clip's)")
        self.motion_frames = motion_frames
        self.motion_stride = motion_stride
        #: optional per-stage CPU timer (``modist bench data``): "decode", "convert", "flow"
        self.timer: StageTimer | None = None

    def span(self, clip_frames: int, stride: int) -> int:
        """Source frames from a start frame that a clip (and, with flow, its motion clip) covers."""
        if self.flow is None:
            return clip_span(clip_frames, stride)
        return joint_span(clip_frames, stride, self.motion_frames, self.motion_stride)

    def clips(self, record: VideoRecord, choose_starts: StartChooser, clip_frames: int, stride: int
              ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """RGB clips [T, H, W, 3] uint8 and (if ``flow``) flow [Tm, H, W, 2] float16 per start
        (an ``encoded`` source: its motion input [Tm, H, W, C] uint8).

        ``choose_starts(num_frames, fps)`` picks start frames once the length is known; the
        motion clip of each has ``Tm`` frames (``motion_frames``, else ``clip_frames``).
        Raises VideoReadError for unreadable videos.
        """
        if self.cache is not None:
            return self._from_frame_cache(record, choose_starts, clip_frames, stride)
        return self._by_seeking(record, choose_starts, clip_frames, stride)

    def _motion_indices(self, starts: list[int], clip_frames: int, stride: int, num_frames: int
                        ) -> list[np.ndarray]:
        shape = motion_clip(clip_frames, stride, self.motion_frames, self.motion_stride)
        return [clip_indices(s, *shape, num_frames) for s in starts]

    def _partners(self, frames: np.ndarray, num_frames: int) -> np.ndarray:
        return flow_partners(frames, self.flow.flow_gap, self.flow.flow_direction, num_frames)

    def _from_frame_cache(self, record, choose_starts, clip_frames, stride):
        key = f"{record.path}|{record.start_sec}|{record.end_sec}"
        item = self.cache.get(key)
        if item is None:
            decoded = read_video(record.path, short_side=self.short_side or None)
            frames = _trim(decoded.frames, decoded.times, record)
            item = self.cache.put(key, frames, decoded.fps)
        frames, fps, memo = item
        starts = choose_starts(len(frames), fps)
        rgb = [frames[clip_indices(s, clip_frames, stride, len(frames))] for s in starts]
        if self.flow is None:
            return rgb, None
        idx = self._motion_indices(starts, clip_frames, stride, len(frames))
        if self.flow.stored:
            return rgb, self._from_flow_store(record, idx, 0, frames.shape[1:3])
        todo = [i for i in dict.fromkeys(np.concatenate(idx).tolist()) if i not in memo]
        if todo:
            for i, f in zip(todo, self._estimate(frames[todo], frames[self._partners(np.array(todo), len(frames))])):
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
            starts = choose_starts(num_frames, fps)
            idx = [clip_indices(s, clip_frames, stride, num_frames) for s in starts]
            motion = self._motion_indices(starts, clip_frames, stride, num_frames) if self.flow is not None else []
            flat = np.concatenate(motion) if motion else np.zeros(0, np.int64)
            from_store = self.flow is not None and self.flow.stored
            # Overlapping clips (many evaluation views of a short video) share frames: estimate
            # each motion frame's flow once.
            unique, inverse = np.unique(flat, return_inverse=True)
            partners = self._partners(unique, num_frames) if self.flow is not None and not from_store else flat[:0]
            needed = [*idx, unique] if not from_store else idx
            wanted = np.unique(np.concatenate([*needed, partners]))
            decoded = reader.frames(wanted + first).frames
        position = {int(i): k for k, i in enumerate(wanted)}
        rgb = [decoded[[position[int(i)] for i in clip]] for clip in idx]
        if self.flow is None:
            return rgb, None
        if from_store:
            return rgb, self._from_flow_store(record, motion, first, decoded.shape[1:3])
        flows = self._estimate(decoded[[position[int(i)] for i in unique]],
                               decoded[[position[int(i)] for i in partners]])[inverse.reshape(-1)]
        return rgb, list(flows.reshape(len(motion), -1, *flows.shape[1:]))

    def _estimate(self, frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        with stage(self.timer, "flow"):
            return self.flow.estimate(frames0, frames1)

    def _from_flow_store(self, record: VideoRecord, idx: list[np.ndarray], first: int,
                         size: tuple[int, int]) -> list[np.ndarray]:
        flat = np.concatenate(idx) + first
        if getattr(self.flow, "encoded", False):
            # Decoded like the RGB: it times itself ("motion") and reports its reads for the decode floor.
            read = self.flow.read(record.path, flat, size, timer=self.timer)
        else:
            with stage(self.timer, "flow"):
                read = self.flow.read(record.path, flat, size)
        return list(read.reshape(len(idx), -1, *read.shape[1:]))


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
    """Shared decoding and item assembly; subclasses choose the clip start frames.

    Items hold ``rgb`` [V, T, H, W, 3] uint8 and, with a flow source, ``flow`` [V, Tm, H, W, 2]
    (Tm: the source's motion clip; [..., 6] uint8 frame and partner with :class:`PartnerFrames`)
    at the same H, W; with an ``encoded`` source ``motion`` [V, Tm, H, W, C] uint8 instead.
    """

    #: training samples one item holds (PairClipDataset's clips_per_video)
    samples_per_item = 1

    def __init__(self, records: list[VideoRecord], source: ClipSource, clip_frames: int, stride: int):
        self.records = records
        self.source = source
        self.clip_frames = clip_frames
        self.stride = stride

    @property
    def span(self) -> int:
        """Source frames each start must have room for: the RGB clip's, or its motion clip's if longer."""
        return self.source.span(self.clip_frames, self.stride)

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
            key = "motion" if getattr(self.source.flow, "encoded", False) else "flow"
            item[key] = torch.from_numpy(_group(np.stack(flow), k))
        if k > 1:
            item["samples"] = k  # collate_clips splits the item into k samples
        return item


class PairClipDataset(_ClipDataset):
    """Two clips of each video (a positive pair) plus their motion clips' flow when ``source.flow`` is set.

    ``clips_per_video > 1`` draws that many pairs from one read of the video (PySlowFast's
    multi-clip setting): the reader decodes the union of their frames in one pass, and
    :func:`collate_clips` turns the item into that many samples. The pairs are drawn one
    after the other from the item's generator, so the first is the pair of
    ``clips_per_video=1`` and a resumed run draws the same pairs. Starts leave room for
    :attr:`span` frames, the longer of the RGB and motion clips.
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
                                             self.min_clip_gap_sec, self.max_clip_gap_sec, rng, span=self.span))
        return starts


class MultiClipDataset(_ClipDataset):
    """``num_clips`` uniformly spaced clips per video (and their motion clips), for feature extraction."""

    def __init__(self, records: list[VideoRecord], source: ClipSource, clip_frames: int, stride: int, num_clips: int):
        super().__init__(records, source, clip_frames, stride)
        self.num_clips = num_clips

    def _starts(self, num_frames: int, fps: float) -> list[int]:
        return uniform_clip_starts(num_frames, self.clip_frames, self.stride, self.num_clips, span=self.span)


def collate_clips(items: list[dict | None]) -> dict:
    """Stack the readable items; ``skipped`` counts the unreadable ones, ``skipped_paths`` names them."""
    items = split_samples(items)  # clips_per_video > 1: one item, several samples
    good = [it for it in items if it is not None and "unreadable" not in it]
    batch: dict = {"skipped": len(items) - len(good), "size": len(good),
                   "skipped_paths": [it["unreadable"] for it in items if it is not None and "unreadable" in it]}
    if not good:
        return batch
    # Videos of different sizes (real datasets) are padded, not cropped, to the batch's largest
    # size: cropping to the smallest would confine every clip's random crop to the centre of
    # the batch's narrowest frame (one portrait video among landscape ones). The augmentation
    # crops each clip inside its own frame_size, as PySlowFast's loader crops per clip. Padding
    # costs at most the batch's frames at the largest size, which the batch holds anyway.
    sizes = [tuple(it["rgb"].shape[-3:-1]) for it in good]
    h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
    batch["rgb"] = _stack_padded([it["rgb"] for it in good], h, w)
    batch["frame_size"] = torch.tensor(sizes, dtype=torch.int64)  # [B, 2] (h, w), frames top-left
    batch["label"] = torch.tensor([it["label"] for it in good])
    batch["index"] = torch.tensor([it["index"] for it in good])
    for key in ("flow", "motion"):  # motion: a prepared copy's encoded motion input, uint8
        if key in good[0]:
            batch[key] = _stack_padded([it[key] for it in good], h, w)
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
            for key in ("flow", "motion"):
                if key in it:
                    part[key] = it[key][j]
            out.append(part)
    return out


def _stack_padded(xs: list[torch.Tensor], h: int, w: int) -> torch.Tensor:
    """Stack [..., H_i, W_i, C] tensors as [B, ..., h, w, C], each top-left in zeros.

    >>> x = _stack_padded([torch.ones(1, 2, 3, 1), torch.ones(1, 3, 2, 1)], 3, 3)
    >>> x.shape, x[0, 0, :, :, 0].tolist()
    (torch.Size([2, 1, 3, 3, 1]), [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    """
    if all(x.shape[-3] == h and x.shape[-2] == w for x in xs):
        return torch.stack(xs)
    out = xs[0].new_zeros((len(xs), *xs[0].shape[:-3], h, w, xs[0].shape[-1]))
    for i, x in enumerate(xs):
        out[i, ..., :x.shape[-3], :x.shape[-2], :] = x
    return out


__all__ = [
    "ClipSource", "FlowSource", "PairClipDataset", "PartnerFrames", "MultiClipDataset", "collate_clips",
    "split_samples",
]
