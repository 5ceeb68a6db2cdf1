"""Shipped YAML recipes; :func:`config_path` finds one by name, :func:`recipe_path` a name or a file.

A recipe may start from another one with ``base: NAME`` (see :func:`modist.config.load_config`).
"""

from __future__ import annotations

import os
from pathlib import Path

from modist.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
YAML_SUFFIXES = (".yaml", ".yml")


def config_path(name: str) -> Path:
    """Path of the shipped recipe ``name`` (with or without ``.yaml``)."""
    path = CONFIG_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        available = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no shipped config {name!r}; available: {', '.join(available)}")
    return path


def recipe_path(spec: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """The recipe file ``spec`` names: a file when it ends in ``.yaml``/``.yml``, else a shipped recipe.

    Args:
        spec: ``k400_slow_r50_8x8`` (a shipped recipe) or ``my/recipe.yaml`` (a file).
        folder: what a relative file path is relative to (a recipe's own folder for its
            ``base:``); the working directory when None.

    Returns:
        The path; a file path is not checked here, so that the loader can name the
        recipe that asked for it.

    Raises:
        ConfigError: ``spec`` is a name that no shipped recipe has.
    """
    text = os.fspath(spec)
    if not text.endswith(YAML_SUFFIXES):
        return config_path(text)
    return Path(folder) / text if folder is not None else Path(text)
