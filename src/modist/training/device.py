"""Pick the compute device once, from the config's ``train.device``."""

from __future__ import annotations

import torch

from modist.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` prefers CUDA, then Apple MPS, then CPU; explicit names are checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"invalid value {name!r} for train.device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but CUDA is not available on this machine")
    return device
