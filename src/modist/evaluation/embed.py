"""One embedding per video: the encoder's pooled feature averaged over uniformly spaced clips.

``e(video) = 1/N * sum_i f(clip_i)`` with ``N`` clips whose starts are evenly spaced
over the video, each centre-cropped to the encoder's crop size (clip length, stride and
crop from the checkpoint's ``encoder.json`` unless overridden). A motion-modality
encoder sees the encoded optical flow of each clip, computed on the fly.

Example:
    >>> paths, emb = embed_videos("runs/pretrain", "folder:/data/clips", num_clips=4)  # doctest: +SKIP
    >>> emb.shape                                                                   # doctest: +SKIP
    (120, 128)
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
        raise DataError(f"{videos}: no videos to embed")
    out = extract_view_features(enc.backbone.to(dev), records, source=enc.clip_source(), inputs=enc.view_pipeline(),
                                modality=enc.modality, clip_frames=enc.clip_frames, stride=enc.stride,
                                num_clips=num_clips, batch_size=batch_size, device=dev, progress=progress,
                                desc="embed", num_workers=num_workers)
    if len(out.indices) == 0:
        raise DataError(f"{videos}: none of the {len(records)} video(s) could be read")
    read = set(out.indices.tolist())
    paths = [records[i].path for i in out.indices]
    skipped = [r.path for i, r in enumerate(records) if i not in read]
    labelled = len(out.labels) > 0 and bool((out.labels >= 0).all())
    labels = out.labels if labelled else None
    return EmbedResult(paths, out.video_features.astype(np.float32), labels, skipped, class_names)


def embed_videos(checkpoint: str | os.PathLike | EvalEncoder, videos: Videos, **kwargs) -> tuple[list[str], np.ndarray]:
    """``(paths, embeddings [N, D])`` of the readable videos; keyword arguments as :func:`embed`."""
    result = embed(checkpoint, videos, **kwargs)
    return result.paths, result.embeddings


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
