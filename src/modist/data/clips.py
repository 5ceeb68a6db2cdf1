"""Training and evaluation datasets that turn video records into clips (+ their motion input).

:class:`PairClipDataset` yields, per video, two clips whose starts are
``min_clip_gap_sec``..``max_clip_gap_sec`` apart, as uint8 frames, and (when a motion source
is given) the motion of every frame of each clip's *motion clip*. Spatial augmentation
happens later, batched on the training device (:mod:`modist.data.augment`), so that crops
and flips apply to frames and motion alike.

A dataset item is read in three steps: :meth:`ClipSource.open` probes the video (its frame
grid: length and frame rate), the dataset samples clip starts on that grid, and
:meth:`ProbedVideo.read` decodes the clips and asks the motion source
(:class:`~modist.data.motion_source.MotionSource`) for the motion of their motion clips.

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

Items carry the motion under the source's :class:`~modist.data.motion_source.MotionKind`
(``"flow"``, ``"partner_frames"`` or ``"motion"``, encoded); :func:`collate_clips` stacks
items into a :class:`ClipBatch` with one field per kind.

A video that cannot be read is skipped: the item comes back as ``{"unreadable": path}`` and
:func:`collate_clips` drops it, counts it in ``ClipBatch.skipped`` and names it in
``ClipBatch.skipped_paths`` (the paths travel with the batch out of loader workers).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from modist.data.backends import open_source
from modist.data.motion_source import MotionKind, MotionRequest, MotionSource
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
from modist.data.video import read_video
from modist.errors import VideoReadError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartnerFrames:
    """A :class:`~modist.data.motion_source.MotionSource` that defers flow to the training process
    (``motion.flow_device=device``).

    It hands back each motion frame beside its flow partner, uint8 ``[..., H, W, 6]`` (RGB of
    the motion frame, then RGB of its partner), which travel as ``partner_frames``; the
    training process estimates the flow in batches on its device
    (:class:`modist.flow.sources.DeviceFlow`). The motion frames travel too because the
    motion clip need not be the RGB clip. Decoding, sampling and partners are those of
    on-the-fly flow.

    Example:
        >>> frames = np.zeros((2, 4, 4, 3), np.uint8)
        >>> source = PartnerFrames(flow_gap=5, flow_direction="backward")
        >>> source.motion(MotionRequest.pairs(frames, frames + 1))[0, 0, 0].tolist()
        [0, 0, 0, 1, 1, 1]
    """

    flow_gap: int = 1
    flow_direction: str = "forward"
    kind: ClassVar[MotionKind] = MotionKind.PARTNER_FRAMES
    needs_partners: ClassVar[bool] = True

    def motion(self, request: MotionRequest) -> np.ndarray:
        with stage(request.timer, "flow"):
            return np.concatenate([request.pixels, request.partners], axis=-1)


class FrameCache:
    """Decoded frames (and memoised motion) of recently used videos, least recently used evicted."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._videos: OrderedDict[str, tuple[np.ndarray, float, dict, int]] = OrderedDict()

    def get(self, key: str):
        item = self._videos.get(key)
        if item is not None:
            self._videos.move_to_end(key)
        return item

    def put(self, key: str, frames: np.ndarray, fps: float, first: int = 0) -> tuple[np.ndarray, float, dict, int]:
        """Keep ``frames`` (file frames ``first`` on) and an empty motion memo under ``key``."""
        item = (frames, fps, {}, first)
        self._videos[key] = item
        while len(self._videos) > self.capacity:
            self._videos.popitem(last=False)
        return item


@dataclass
class Clips:
    """What :meth:`ProbedVideo.read` returns, one entry per start.

    ``rgb``: uint8 ``[T, H, W, 3]`` clips; ``motion``: the motion of each clip's motion clip,
    ``[Tm, H, W, C]`` of ``kind`` (:class:`~modist.data.motion_source.MotionKind`), or None
    without a motion source.
    """

    rgb: list[np.ndarray]
    motion: list[np.ndarray] | None = None
    kind: MotionKind | None = None


class ClipSource:
    """Frames of the clips a dataset asks for, and the motion of their motion clips.

    :meth:`open` probes a video; the caller samples starts on its frame grid and reads the
    clips from the :class:`ProbedVideo`. Two strategies, chosen by ``frame_cache``:

    * ``frame_cache > 0``: decode whole videos once and keep the most recent ones in
      memory, motion memoised per frame (small datasets such as the synthetic benchmark);
    * ``frame_cache == 0``: open the video, seek and decode only the frames of the
      requested clips, their motion clips and the flow partners (real datasets with long
      videos), in one read.

    ``motion_frames`` x ``motion_stride`` is the motion clip of every clip, from the clip's
    start frame (0: the RGB clip's frames / stride). ``flow`` is the motion source (None: RGB only).
    """

    def __init__(self, flow: MotionSource | None, short_side: int = 0, frame_cache: int = 0, backend: str = "pyav",
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
        """Source frames from a start frame that a clip (and, with motion, its motion clip) covers."""
        if self.flow is None:
            return clip_span(clip_frames, stride)
        return joint_span(clip_frames, stride, self.motion_frames, self.motion_stride)

    def open(self, record: VideoRecord) -> ProbedVideo:
        """The video of ``record``, probed: its frame grid, from which clips are then read.

        Seeking reads the container's frame count and rate and decodes nothing yet; the frame
        cache decodes the whole video (once). Close the result (it is a context manager).
        Raises VideoReadError for unreadable videos and segments without frames.
        """
        if self.cache is not None:
            return self._open_cached(record)
        return self._open_by_seeking(record)

    def read(self, record: VideoRecord, starts: list[int], clip_frames: int, stride: int) -> Clips:
        """:meth:`open`, read the clips at ``starts`` (chosen without the frame grid), close."""
        with self.open(record) as video:
            return video.read(starts, clip_frames, stride)

    def _motion_indices(self, starts: list[int], clip_frames: int, stride: int, num_frames: int
                        ) -> list[np.ndarray]:
        shape = motion_clip(clip_frames, stride, self.motion_frames, self.motion_stride)
        return [clip_indices(s, *shape, num_frames) for s in starts]

    def _partners(self, frames: np.ndarray, num_frames: int) -> np.ndarray:
        return flow_partners(frames, self.flow.flow_gap, self.flow.flow_direction, num_frames)

    def _open_cached(self, record: VideoRecord) -> ProbedVideo:
        key = f"{record.path}|{record.start_sec}|{record.end_sec}"
        item = self.cache.get(key)
        if item is None:
            decoded = read_video(record.path, short_side=self.short_side or None)
            frames, first = _trim(decoded.frames, decoded.times, record)
            item = self.cache.put(key, frames, decoded.fps, first)
        frames, fps, memo, first = item
        return _CachedVideo(self, record, frames, fps, memo, first)

    def _open_by_seeking(self, record: VideoRecord) -> ProbedVideo:
        with stage(self.timer, "decode"):
            reader = open_source(record.path, self.backend, short_side=self.short_side or None)
        try:
            reader.timer = self.timer
            total, fps = reader.frame_grid()  # no decoding: info would decode frame 0 for its orientation
            fps = fps if fps > 0 else 30.0
            first = int(round((record.start_sec or 0.0) * fps))
            end = total if record.end_sec is None else min(total, int(round(record.end_sec * fps)))
            if end - first <= 0:
                raise VideoReadError(f"{record.path}: no frames between {record.start_sec} s and {record.end_sec} s")
        except BaseException:
            reader.close()
            raise
        return _SeekingVideo(self, record, reader, end - first, fps, first)

    def _motion(self, record: VideoRecord, frames: np.ndarray, size: tuple[int, int],
                pixels: np.ndarray | None = None, partners: np.ndarray | None = None) -> np.ndarray:
        return self.flow.motion(MotionRequest(record.path, frames, size, pixels, partners, self.timer))

    def _motion_by_index(self, record: VideoRecord, idx: list[np.ndarray], first: int,
                         size: tuple[int, int]) -> list[np.ndarray]:
        """The motion of clips ``idx`` (frame ``i`` of the grid is frame ``first + i`` of the file), read by index."""
        read = self._motion(record, np.concatenate(idx) + first, size)
        return list(read.reshape(len(idx), -1, *read.shape[1:]))


class ProbedVideo:
    """A video :meth:`ClipSource.open` has probed: ``num_frames`` frames at ``fps`` (a segment
    record's own frames), the grid clip starts are sampled on. :meth:`read` decodes clips."""

    def __init__(self, source: ClipSource, record: VideoRecord, num_frames: int, fps: float):
        self.source = source
        self.record = record
        self.num_frames = num_frames
        self.fps = fps

    def read(self, starts: list[int], clip_frames: int, stride: int) -> Clips:
        """RGB clips of ``clip_frames`` frames ``stride`` apart from each start, and (with a motion
        source) the motion of each one's motion clip (``motion_frames``, else ``clip_frames``, frames).
        Raises VideoReadError for unreadable frames."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (nothing to release for a video in the frame cache)."""

    def __enter__(self) -> ProbedVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _CachedVideo(ProbedVideo):
    def __init__(self, source: ClipSource, record: VideoRecord, frames: np.ndarray, fps: float, memo: dict,
                 first: int = 0):
        super().__init__(source, record, len(frames), fps)
        self.frames = frames
        self.memo = memo  # motion by frame index, kept with the frames
        self.first = first  # file frame of frames[0] (a segment's first frame): what a store is indexed by

    def read(self, starts: list[int], clip_frames: int, stride: int) -> Clips:
        src, frames, n = self.source, self.frames, self.num_frames
        rgb = [frames[clip_indices(s, clip_frames, stride, n)] for s in starts]
        if src.flow is None:
            return Clips(rgb)
        idx = src._motion_indices(starts, clip_frames, stride, n)
        if not src.flow.needs_partners:
            return Clips(rgb, src._motion_by_index(self.record, idx, self.first, frames.shape[1:3]), src.flow.kind)
        todo = [i for i in dict.fromkeys(np.concatenate(idx).tolist()) if i not in self.memo]
        if todo:
            at = np.array(todo)
            for i, f in zip(todo, src._motion(self.record, at, frames.shape[1:3], frames[todo],
                                              frames[src._partners(at, n)])):
                self.memo[i] = f
        return Clips(rgb, [np.stack([self.memo[i] for i in clip.tolist()]) for clip in idx], src.flow.kind)


class _SeekingVideo(ProbedVideo):
    def __init__(self, source: ClipSource, record: VideoRecord, reader, num_frames: int, fps: float, first: int):
        super().__init__(source, record, num_frames, fps)
        self.reader = reader
        self.first = first  # file frame of the grid's frame 0 (a segment's start)

    def read(self, starts: list[int], clip_frames: int, stride: int) -> Clips:
        src, n, first = self.source, self.num_frames, self.first
        idx = [clip_indices(s, clip_frames, stride, n) for s in starts]
        motion = src._motion_indices(starts, clip_frames, stride, n) if src.flow is not None else []
        flat = np.concatenate(motion) if motion else np.zeros(0, np.int64)
        by_index = src.flow is not None and not src.flow.needs_partners
        # Overlapping clips (many evaluation views of a short video) share frames: compute
        # each motion frame's motion once.
        unique, inverse = np.unique(flat, return_inverse=True)
        partners = src._partners(unique, n) if src.flow is not None and not by_index else flat[:0]
        needed = [*idx, unique] if not by_index else idx
        wanted = np.unique(np.concatenate([*needed, partners]))
        decoded = self.reader.frames(wanted + first).frames
        position = {int(i): k for k, i in enumerate(wanted)}
        rgb = [decoded[[position[int(i)] for i in clip]] for clip in idx]
        if src.flow is None:
            return Clips(rgb)
        if by_index:
            return Clips(rgb, src._motion_by_index(self.record, motion, first, decoded.shape[1:3]), src.flow.kind)
        out = src._motion(self.record, unique + first, decoded.shape[1:3], decoded[[position[int(i)] for i in unique]],
                          decoded[[position[int(i)] for i in partners]])[inverse.reshape(-1)]
        return Clips(rgb, list(out.reshape(len(motion), -1, *out.shape[1:])), src.flow.kind)

    def close(self) -> None:
        self.reader.close()


def _trim(frames: np.ndarray, times: np.ndarray, record: VideoRecord) -> tuple[np.ndarray, int]:
    """The record's segment of the decoded frames, and the file frame index of its first frame."""
    if record.start_sec is None and record.end_sec is None:
        return frames, 0
    lo = record.start_sec or 0.0
    hi = record.end_sec if record.end_sec is not None else np.inf
    keep = (times >= lo - 1e-6) & (times < hi)
    if not keep.any():
        raise VideoReadError(f"{record.path}: no frames between {lo} s and {hi} s")
    return frames[keep], int(np.argmax(keep))


class _ClipDataset(Dataset):
    """Shared decoding and item assembly; subclasses choose the clip start frames.

    Items hold ``rgb`` [V, T, H, W, 3] uint8 and, with a motion source, its motion [V, Tm, H, W, C]
    (Tm: the source's motion clip) at the same H, W under the source's kind: ``flow`` (float16,
    C = 2), ``partner_frames`` (uint8 frame and partner, C = 6) or ``motion`` (uint8, encoded).
    Each item is read in the three steps of the module docstring: probe, sample, read.
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

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        try:
            with self.source.open(record) as video:
                starts = self._starts(video.num_frames, video.fps)
                clips = video.read(starts, self.clip_frames, self.stride)
        except VideoReadError as exc:
            # Not a warning: in a loader worker it would print into the progress bar, once per read.
            # Callers count the distinct paths from the batch and report them once.
            log.debug("skipping unreadable video: %s", exc)
            return {"unreadable": str(record.path)}
        k = self.samples_per_item
        item = {
            "rgb": torch.from_numpy(_group(np.stack(clips.rgb), k)),
            "label": -1 if record.label is None else int(record.label),
            "index": index,
        }
        if clips.motion is not None:
            item[clips.kind.value] = torch.from_numpy(_group(np.stack(clips.motion), k))
        if k > 1:
            item["samples"] = k  # collate_clips splits the item into k samples
        return item


class PairClipDataset(_ClipDataset):
    """Two clips of each video (a positive pair) plus their motion clips' motion when ``source.flow`` is set.

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
        *,
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


@dataclass
class ClipBatch:
    """The readable clips of a loader batch, stacked on the CPU (:func:`collate_clips`).

    ``rgb`` uint8 [B, V, T, H, W, 3]. The motion sits in the one field of its source's
    :class:`~modist.data.motion_source.MotionKind`: ``flow`` float16 [B, V, Tm, H, W, 2],
    ``partner_frames`` uint8 [..., 6] (flow still to estimate on the device) or ``motion``
    uint8 [..., C] (already encoded). ``frame_size`` [B, 2] is each clip's true (h, w) inside
    the padded frames, ``labels`` [B] the class (-1 where unknown), ``indices`` [B] the dataset
    positions. ``skipped`` counts the unreadable videos and ``skipped_paths`` names them; a
    batch without a readable clip has only those.

    Example:
        >>> batch = ClipBatch(rgb=torch.zeros(3, 2, 4, 8, 8, 3, dtype=torch.uint8), labels=torch.tensor([0, 1, -1]))
        >>> batch.size, batch.head(2).size, batch.head(2).labels.tolist(), batch.flow is None
        (3, 2, [0, 1], True)
    """

    rgb: torch.Tensor | None = None
    flow: torch.Tensor | None = None
    partner_frames: torch.Tensor | None = None
    motion: torch.Tensor | None = None
    frame_size: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    indices: torch.Tensor | None = None
    skipped: int = 0
    skipped_paths: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Readable clips in the batch."""
        return 0 if self.rgb is None else len(self.rgb)

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}

    def head(self, n: int) -> ClipBatch:
        """The first ``n`` clips."""
        return replace(self, **{name: x[:n] for name, x in self._tensors().items()})

    def pin_memory(self) -> ClipBatch:
        """The batch in page-locked memory (torch's DataLoader calls this when ``pin_memory=True``)."""
        return replace(self, **{name: x.pin_memory() for name, x in self._tensors().items()})


#: the ClipBatch fields (and item keys) motion can travel in, one per MotionKind
MOTION_FIELDS = tuple(kind.value for kind in MotionKind)


def collate_clips(items: list[dict | None]) -> ClipBatch:
    """Stack the readable items; ``skipped`` counts the unreadable ones, ``skipped_paths`` names them."""
    items = split_samples(items)  # clips_per_video > 1: one item, several samples
    good = [it for it in items if it is not None and "unreadable" not in it]
    skipped_paths = [it["unreadable"] for it in items if it is not None and "unreadable" in it]
    if not good:
        return ClipBatch(skipped=len(items) - len(good), skipped_paths=skipped_paths)
    # Videos of different sizes (real datasets) are padded, not cropped, to the batch's largest
    # size: cropping to the smallest would confine every clip's random crop to the centre of
    # the batch's narrowest frame (one portrait video among landscape ones). The augmentation
    # crops each clip inside its own frame_size, as PySlowFast's loader crops per clip. Padding
    # costs at most the batch's frames at the largest size, which the batch holds anyway.
    sizes = [tuple(it["rgb"].shape[-3:-1]) for it in good]
    h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
    motion = {key: _stack_padded([it[key] for it in good], h, w) for key in MOTION_FIELDS if key in good[0]}
    return ClipBatch(
        rgb=_stack_padded([it["rgb"] for it in good], h, w),
        frame_size=torch.tensor(sizes, dtype=torch.int64),  # [B, 2] (h, w), frames top-left
        labels=torch.tensor([it["label"] for it in good]),
        indices=torch.tensor([it["index"] for it in good]),
        skipped=len(items) - len(good), skipped_paths=skipped_paths, **motion,
    )


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
            for key in MOTION_FIELDS:
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
    "ClipBatch", "ClipSource", "Clips", "MultiClipDataset", "PairClipDataset", "PartnerFrames", "ProbedVideo",
    "collate_clips", "split_samples",
]
