"""The method as the trainer runs it: built from the config, on its device, with the
distributed and memory-format options applied (``modist bench train`` times the same object)."""

from __future__ import annotations

import torch

from modist.config import PretrainConfig
from modist.flow.encodings import motion_channels
from modist.methods import Method, build_method
from modist.training.sync_bn import convert_sync_bn


def build_training_method(cfg: PretrainConfig, *, num_classes: int, device: torch.device,
                          distributed: bool) -> Method:
    """The configured method on ``device``, with memory format and synchronised batch norm applied.

    ``train.sync_bn`` synchronises the query networks' batch norm over ranks,
    ``method.key_bn=sync`` the key networks'; both only under DDP.
    """
    method = build_method(cfg, motion_channels=motion_channels(cfg.motion.encoding), num_classes=num_classes)
    method.to(device)
    if cfg.train.channels_last:
        method.to(memory_format=torch.channels_last_3d)
    if distributed:
        synced = list(method.query_networks().values()) if cfg.train.sync_bn else []
        if cfg.method.key_bn == "sync":
            synced += method.key_networks()
        for net in synced:
            convert_sync_bn(net, device.type)
    return method
