"""One embedding per video: the encoder's pooled feature averaged over uniformly spaced clips.

``e(video) = 1/N * sum_i f(clip_i)`` with ``N`` clips whose starts are evenly spaced
over the video, each centre-cropped to the encoder's crop size (clip length, stride and
crop from the checkpoint's ``encoder.json`` unless overridden). A motion-modality
encoder sees the encoded optical flow of each clip, computed on the fly.

The Python entry points ``modist.load_encoder`` and ``modist.embed`` are :func:`load_encoder`
(a trained encoder as an eval-mode :class:`~modist.models.encoder.Encoder` that preprocesses
frames you hold) and :func:`video_embeddings` (an ``[N, D]`` array for N video files).

Example:
    >>> paths, emb = embed_videos("runs/pretrain", "folder:/data/clips", num_clips=4)  # doctest: +SKIP
    >>> emb.shape                                                                   # doctest: +SKIP
    (120, 128)
    >>> video_embeddings("runs/pretrain", ["a.mp4", "b.mp4"]).shape                 # doctest: +SKIP
    (2, 128)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from modist.atomic import atomic_path
from modist.data.records import VideoDataset, VideoRecord
from modist.errors import ConfigError, DataError
from modist.evaluation.encoder import EvalEncoder, load_eval_encoder
from modist.evaluation.features import extract_view_features
from modist.models.encoder import Encoder, normalization
from modist.models.encoder_io import META
from modist.runtime import resolve_device

Videos = str | VideoDataset | Sequence[VideoRecord] | Sequence[str | os.PathLike]


@dataclass
class EmbedResult:
    paths: list[str]
    embeddings: np.ndarray  # [N, D] float32
    labels: np.ndarray | None  # [N] int64 when every embedded video has a label
    skipped_paths: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skipped_paths)


def as_records(videos: Videos, split: str = "train", fold: int = 1) -> tuple[list[VideoRecord], list[str]]:
    """Records and class names of a dataset spec, a dataset, records or plain video paths."""
    if isinstance(videos, (str, os.PathLike)):
        from modist.data.adapters import resolve_dataset

        videos = resolve_dataset(str(videos), split=split, fold=fold)
    if isinstance(videos, VideoDataset):
        return list(videos.records), list(videos.class_names)
    records = [v if isinstance(v, VideoRecord) else VideoRecord(str(v)) for v in videos]
    return records, []


def resolve_encoder(checkpoint: str | os.PathLike | EvalEncoder) -> EvalEncoder:
    return checkpoint if isinstance(checkpoint, EvalEncoder) else load_eval_encoder(checkpoint)


def embed(
    checkpoint: str | os.PathLike | EvalEncoder,
    videos: Videos,
    *,
    num_clips: int = 4,
    batch_size: int = 8,
    device: str | torch.device = "auto",
    clip_frames: int | None = None,
    stride: int | None = None,
    crop_size: int | None = None,
    split: str = "train",
    fold: int = 1,
    num_workers: int = 0,
    progress: bool = True,
) -> EmbedResult:
    """Embed every readable video; unreadable ones are listed in ``skipped_paths``."""
    if num_clips < 1:
        raise ConfigError(f"num_clips must be >= 1, got {num_clips}")
    dev = resolve_device(device, flag="device") if isinstance(device, str) else device
    enc = resolve_encoder(checkpoint).with_overrides(clip_frames=clip_frames, stride=stride, crop_size=crop_size)
    records, class_names = as_records(videos, split, fold)
    if not records:
        raise DataError(f"{_describe(videos)}: no videos to embed")
    out = extract_view_features(enc.backbone.to(dev), records, source=enc.clip_source(), inputs=enc.view_pipeline(),
                                modality=enc.modality, clip_frames=enc.clip_frames, stride=enc.stride,
                                num_clips=num_clips, batch_size=batch_size, device=dev, progress=progress,
                                desc="embed", num_workers=num_workers)
    if len(out.indices) == 0:
        raise DataError(f"{_describe(videos)}: none of the {len(records)} video(s) could be read")
    read = set(out.indices.tolist())
    paths = [records[i].path for i in out.indices]
    skipped = [r.path for i, r in enumerate(records) if i not in read]
    labelled = len(out.labels) > 0 and bool((out.labels >= 0).all())
    labels = out.labels if labelled else None
    return EmbedResult(paths, out.video_features.astype(np.float32), labels, skipped, class_names)


def _describe(videos: Videos) -> str:
    """What an error calls ``videos``: the spec or path itself, a dataset by its name, a list by its first item."""
    if isinstance(videos, VideoDataset):
        return videos.name or "the dataset"
    if isinstance(videos, (str, os.PathLike)) or not videos:
        return str(videos)
    first = videos[0].path if isinstance(videos[0], VideoRecord) else str(videos[0])
    return first if len(videos) == 1 else f"{first} (+{len(videos) - 1} more)"


def embed_videos(checkpoint: str | os.PathLike | EvalEncoder, videos: Videos, **kwargs) -> tuple[list[str], np.ndarray]:
    """``(paths, embeddings [N, D])`` of the readable videos; keyword arguments as :func:`embed`."""
    result = embed(checkpoint, videos, **kwargs)
    return result.paths, result.embeddings


def load_encoder(checkpoint: str | os.PathLike, *, device: str | torch.device = "cpu") -> Encoder:
    """The trained encoder of a run folder, an ``encoder.safetensors`` or a ``checkpoint*.pt``, in eval mode.

    ``device``: ``"cpu"`` (default), ``"cuda"``, ``"auto"`` or a :class:`torch.device`. The result
    carries its clip settings and :meth:`~modist.models.encoder.Encoder.preprocess`; an
    ``encoder.json`` without ``mean`` / ``std`` / ``short_side`` means 0.45 / 0.225 / the run's
    ``config.yaml`` (else none), what modist always trained with.
    """
    enc = load_eval_encoder(checkpoint)
    try:
        mean, std = normalization(enc.trained_on)
    except ValueError as exc:
        source = enc.weights.with_name(META) if enc.weights is not None and enc.weights.suffix != ".pt" else enc.weights
        raise DataError(f"{source}: {exc}") from None
    dev = resolve_device(device, flag="device") if isinstance(device, str) else torch.device(device)
    encoder = Encoder(enc.backbone, enc.spec, clip_frames=enc.clip_frames, stride=enc.stride, crop_size=enc.crop_size,
                      short_side=enc.short_side, mean=mean, std=std, trained_on=enc.trained_on, motion=enc.motion)
    return encoder.to(dev).eval()


def video_embeddings(encoder: str | os.PathLike | Encoder, videos: str | os.PathLike | Sequence[str | os.PathLike],
                     *, num_clips: int = 4, batch_size: int = 8, device: str | torch.device | None = None,
                     progress: bool = False) -> np.ndarray:
    """Embeddings ``[N, D]`` (float32) of N video files, row ``i`` for ``videos[i]``, as :func:`embed` makes them.

    ``encoder``: a run folder, ``encoder.safetensors`` or ``checkpoint*.pt`` (loaded as
    :func:`load_encoder` does), or an :class:`~modist.models.encoder.Encoder`. ``videos``: one
    path or a list of paths. ``device``: where to run (default: the given encoder's device, else
    the CPU; ``"auto"`` prefers a GPU); a given encoder is back on its own device afterwards.
    Each video's embedding is the mean of the features of ``num_clips`` evenly spaced clips, made
    as the encoder was trained (its ``mean`` / ``std`` included); a motion encoder gets the flow
    computed from the video. Raises DataError naming the first video that cannot be read.
    """
    enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder, device=device or "cpu")
    paths = [str(videos)] if isinstance(videos, (str, os.PathLike)) else [str(v) for v in videos]
    if not paths:
        raise DataError("videos: an empty list, nothing to embed")
    home = enc.device
    if device is None:
        dev = home
    else:
        dev = resolve_device(device, flag="device") if isinstance(device, str) else torch.device(device)
    settings = EvalEncoder(enc.pipeline_network(), enc.spec, enc.trained_on, clip_frames=enc.clip_frames,
                           stride=enc.stride, crop_size=enc.crop_size, short_side=enc.short_side, motion=enc.motion)
    try:
        result = embed(settings, paths, num_clips=num_clips, batch_size=batch_size, device=dev, progress=progress)
    finally:
        enc.to(home)
    if result.skipped:
        raise DataError(f"{result.skipped_paths[0]}: video could not be read "
                        f"({result.skipped} of {len(paths)} unreadable)")
    return result.embeddings


def save_embeddings(path: str | os.PathLike, result: EmbedResult) -> Path:
    """Write ``paths``, ``embeddings`` (and ``labels``, ``class_names`` when known) to an ``.npz``, atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise DataError(f"{path}: the embeddings file must end in .npz")
    arrays = {"paths": np.array(result.paths, dtype=str), "embeddings": result.embeddings}
    if result.labels is not None:
        arrays["labels"] = result.labels
    if result.class_names:
        arrays["class_names"] = np.array(result.class_names, dtype=str)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return path
