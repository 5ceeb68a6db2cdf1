"""Frozen encoder features per video: mean over uniformly spaced, centre-cropped clips."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from modist.data.clips import ClipSource, MultiClipDataset, collate_clips
from modist.data.records import VideoRecord
from modist.training.inputs import InputPipeline


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    records: list[VideoRecord],
    source: ClipSource,
    inputs: InputPipeline,
    modality: str = "rgb",
    clip_frames: int = 8,
    stride: int = 2,
    num_clips: int = 2,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "features",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (features [N, D], labels [N], record indices [N]) for the readable videos.

    ``inputs`` must be an evaluation pipeline (no random augmentation); ``modality``
    "motion" feeds the encoded flow instead of RGB.
    """
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval()
    dataset = MultiClipDataset(records, source, clip_frames, stride, num_clips)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    feats, labels, indices = [], [], []
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        if batch["size"] == 0:
            continue
        rgb, motion = inputs(batch, device, with_motion=modality == "motion")
        x = rgb if modality == "rgb" else motion  # [V, B, C, T, S, S]
        v, b = x.shape[:2]
        f = encoder(x.flatten(0, 1)).reshape(v, b, -1).mean(0)
        feats.append(f.float().cpu())
        labels.append(batch["label"])
        indices.append(batch["index"])
    encoder.train(was_training)
    if not feats:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy(), torch.cat(indices).numpy()
