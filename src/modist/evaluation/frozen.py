"""The frozen-feature protocol: features of a training split and of test splits,
then linear-probe and kNN top-1 on each test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from modist.config import PretrainConfig
from modist.data.records import VideoRecord
from modist.evaluation.features import extract_features
from modist.evaluation.knn import knn_predict
from modist.evaluation.linear_probe import linear_probe


@dataclass
class SplitResult:
    split: str
    linear_top1: float
    knn_top1: float
    num_videos: int
    linear_pred: np.ndarray
    labels: np.ndarray


def evaluate_frozen(
    encoder: nn.Module,
    cfg: PretrainConfig,
    train_records: list[VideoRecord],
    test_splits: dict[str, list[VideoRecord]],
    modality: str = "rgb",
    num_clips: int = 2,
    device: torch.device | str = "cpu",
    progress: bool = True,
    seed: int = 0,
) -> list[SplitResult]:
    """Top-1 (fractions in [0, 1]) of a linear probe and a kNN fitted on ``train_records``."""
    from modist.training.trainer import build_clip_source, build_input_pipeline

    source = build_clip_source(cfg, with_motion=modality == "motion")
    inputs = build_input_pipeline(cfg, train=False)

    def features(records: list[VideoRecord], name: str):
        return extract_features(encoder, records, source, inputs, modality, cfg.data.clip_frames, cfg.data.stride,
                                num_clips, device=device, progress=progress, desc=f"features {name}")

    train_x, train_y, _ = features(train_records, "train")
    num_classes = int(train_y.max()) + 1
    results = []
    for split, records in test_splits.items():
        test_x, test_y, _ = features(records, split)
        top1, pred = linear_probe(train_x, train_y, test_x, test_y, num_classes=num_classes, seed=seed)
        knn = float((knn_predict(train_x, train_y, test_x, num_classes=num_classes) == test_y).mean())
        results.append(SplitResult(split, top1, knn, len(test_y), pred, test_y))
    return results
