"""Supervised reference: cross-entropy on labels with the same visual backbone."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modist.methods.base import Batch, Method
from modist.models.resnet3d import ResNet3d


class Supervised(Method):
    needs_labels = True

    def __init__(self, backbone: ResNet3d, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.out_dim, num_classes))

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        # Both sampled clips are used so that it sees as many clips as the contrastive methods.
        clips = batch.rgb.flatten(0, 1)
        labels = batch.label.repeat(batch.rgb.shape[0])
        logits = self.classifier(self.backbone(clips))
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean().item()
        return loss, {"train_acc": acc}

    def eval_encoder(self) -> nn.Module:
        return self.backbone
