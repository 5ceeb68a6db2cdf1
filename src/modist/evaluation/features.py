"""Frozen encoder features per video and per view.

:func:`extract_view_features` keeps every view's feature ([N, V, D]);
:attr:`ViewFeatures.video_features` averages them (one feature per video, the demo's
protocol). Unreadable videos are skipped, logged and counted, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.data.clips import ClipSource, MultiClipDataset, collate_clips
from modist.data.records import VideoRecord
from modist.flow.inputs import Inputs, modality_input


@dataclass
class ViewFeatures:
    """Per-view features of the readable videos of a record list."""

    features: np.ndarray  # [N, V, D] float32
    labels: np.ndarray  # [N] int64, -1 where unknown
    indices: np.ndarray  # [N] positions in the record list
    skipped: int = 0  # unreadable videos

    @property
    def video_features(self) -> np.ndarray:
        """Mean over views, [N, D]."""
        return self.features.mean(axis=1)


@torch.no_grad()
def extract_view_features(
    encoder: nn.Module,
    records: list[VideoRecord],
    *,
    source: ClipSource,
    inputs: Inputs,
    modality: str = "rgb",
    clip_frames: int = 8,
    stride: int = 2,
    num_clips: int = 2,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "features",
    num_workers: int = 0,
) -> ViewFeatures:
    """Encode ``num_clips`` uniformly spaced clips of each video (times the spatial views of ``inputs``).

    ``inputs`` must be an evaluation pipeline (no random augmentation); ``modality``
    "motion" feeds the encoded flow instead of RGB.
    """
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval()
    dataset = MultiClipDataset(records, source, clip_frames, stride, num_clips)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_clips,
                        num_workers=num_workers, pin_memory=device.type == "cuda")
    feats, labels, indices = [], [], []
    skipped = 0
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        skipped += batch.skipped
        if batch.size == 0:
            continue
        x = modality_input(inputs, batch, device, modality)  # [V, B, C, T, S, S]
        v, b = x.shape[:2]
        f = encoder(x.flatten(0, 1)).reshape(v, b, -1).transpose(0, 1)
        feats.append(f.float().cpu())
        labels.append(batch.labels)
        indices.append(batch.indices)
    encoder.train(was_training)
    if not feats:
        return ViewFeatures(np.zeros((0, 0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), skipped)
    return ViewFeatures(torch.cat(feats).numpy(), torch.cat(labels).numpy().astype(np.int64),
                        torch.cat(indices).numpy().astype(np.int64), skipped)

