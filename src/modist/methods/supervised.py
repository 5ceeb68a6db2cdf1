"""Supervised reference: cross-entropy on labels with the same visual backbone."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modist.config import PretrainConfig
from modist.errors import ConfigError
from modist.methods.base import Batch, Method
from modist.models.classifier import VideoClassifier
from modist.models.encoder_io import EncoderSpec
from modist.models.resnet3d import ResNet3d


class Supervised(Method):
    """A backbone and a linear classifier trained with cross-entropy on both clips of a video."""

    needs_labels = True

    def __init__(self, backbone: ResNet3d, num_classes: int, *, dropout: float = 0.0, spec: EncoderSpec | None = None):
        super().__init__()
        self.model = VideoClassifier(backbone, num_classes, dropout=dropout)
        self.spec = spec
        self.register_load_state_dict_pre_hook(_read_earlier_layout)

    def query_networks(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        # Both sampled clips are used so that it sees as many clips as the contrastive methods.
        clips = batch.rgb.flatten(0, 1)
        labels = batch.label.repeat(batch.rgb.shape[0])
        logits = self.model(clips)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean().item()
        return loss, {"train_acc": acc}

    def eval_encoder(self) -> nn.Module:
        return self.model.backbone

    def export_spec(self) -> EncoderSpec:
        return self.spec


def _read_earlier_layout(module, state_dict, prefix, *args) -> None:
    """Training checkpoints written before the classifier became a ``VideoClassifier`` named their
    weights ``backbone.*`` and ``classifier.1.*`` (after a dropout); the parameters are the same, in
    the same order, so those checkpoints resume under today's names."""
    for key in [k for k in state_dict if k.startswith(prefix + "backbone.") or k.startswith(prefix + "classifier.1.")]:
        rest = key[len(prefix):]
        new = "model." + rest if rest.startswith("backbone.") else "model.fc." + rest.removeprefix("classifier.1.")
        state_dict[prefix + new] = state_dict.pop(key)


def build_supervised(cfg: PretrainConfig, *, motion_channels: int = 0, num_classes: int = 0) -> Supervised:
    """The supervised reference on ``cfg.model.arch`` for a dataset of ``num_classes`` labels."""
    if num_classes < 2:
        raise ConfigError("method.name=supervised needs a labelled dataset with at least 2 classes")
    spec = EncoderSpec(cfg.model.arch, 3, base_width=cfg.model.base_width, modality="rgb",
                       conv1_temporal_stride=cfg.model.conv1_temporal_stride)
    return Supervised(spec.build(), num_classes, spec=spec)
