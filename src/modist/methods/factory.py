"""Build the method ``cfg.method.name`` names, through :data:`modist.choices.PRETRAINING_METHODS`.

The registry maps a name to ``"module:builder"``; a builder takes the config and returns
a :class:`~modist.methods.base.Method`. Modules are imported when their method is built,
so the registry (read by the config loader to validate names) imports nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from modist.choices import PRETRAINING_METHODS
from modist.config import PretrainConfig
from modist.errors import ConfigError
from modist.methods.base import Method

METHODS = tuple(PRETRAINING_METHODS)

Builder = Callable[..., Method]


def method_builder(name: str) -> Builder:
    """The builder registered for ``name``."""
    try:
        target = PRETRAINING_METHODS[name]
    except KeyError:
        raise ConfigError(f"invalid value {name!r} for method.name; choose from {', '.join(METHODS)}") from None
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def build_method(cfg: PretrainConfig, *, motion_channels: int, num_classes: int = 0) -> Method:
    """The method named by ``cfg.method.name`` with networks from ``cfg.model``."""
    return method_builder(cfg.method.name)(cfg, motion_channels=motion_channels, num_classes=num_classes)
