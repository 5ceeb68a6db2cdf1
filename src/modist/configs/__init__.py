"""Shipped YAML recipes; :func:`config_path` finds one by name."""

from __future__ import annotations

from pathlib import Path

from modist.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent


def config_path(name: str) -> Path:
    """Path of the shipped recipe ``name`` (with or without ``.yaml``)."""
    path = CONFIG_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        available = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no shipped config {name!r}; available: {', '.join(available)}")
    return path
