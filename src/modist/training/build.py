"""The method as the trainer runs it: built from the config, on its device, with the
distributed and memory-format options applied. Imports no video I/O, so benchmarks
that feed random tensors run where PyAV is absent."""

from __future__ import annotations

import torch

from modist.config import PretrainConfig
from modist.flow.encodings import motion_channels
from modist.methods import Method, build_method
from modist.training.sync_bn import convert_sync_bn


def build_training_method(cfg: PretrainConfig, num_classes: int, device: torch.device, distributed: bool) -> Method:
    """The configured method on ``device``, with key batch norm, memory format and sync BN applied."""
    method = build_method(cfg, motion_channels(cfg.motion.encoding), num_classes=num_classes)
    method.to(device)
    if cfg.train.channels_last:
        method.to(memory_format=torch.channels_last_3d)
    if distributed:
        if cfg.train.sync_bn:
            for name in ("visual", "motion", "backbone"):
                if isinstance(getattr(method, name, None), torch.nn.Module):
                    convert_sync_bn(getattr(method, name), device.type)
        if cfg.method.key_bn == "sync":
            for name in ("visual_key", "motion_key"):
                if isinstance(getattr(method, name, None), torch.nn.Module):
                    convert_sync_bn(getattr(method, name), device.type)
    return method
