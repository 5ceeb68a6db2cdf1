"""Checkpoints written atomically and loaded safely (``weights_only=True``).

A run directory holds numbered checkpoints ``checkpoint-0001000.pt`` (method with its
queues and key encoders, optimizer, scheduler, step, RNG states, config), of which
the last ``train.keep_checkpoints`` are kept, ``checkpoint.pt`` (a hard link to the
latest), the resolved ``config.yaml`` beside them. The exported encoder
(``encoder.safetensors`` + ``encoder.json``) is written by :mod:`modist.models.encoder_io`.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from modist.atomic import atomic_path, write_text
from modist.errors import DataError


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], config_yaml: str) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    write_text(path.with_name("config.yaml"), config_yaml)


LATEST = "checkpoint.pt"
_NUMBERED = re.compile(r"^checkpoint-(\d+)\.pt$")


def numbered_checkpoints(out_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of the numbered checkpoints in ``out_dir``, oldest first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out_dir.iterdir() if (m := _NUMBERED.match(p.name))]
    return sorted(found)


def find_latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The newest numbered checkpoint, else ``checkpoint.pt``, else None."""
    numbered = numbered_checkpoints(out_dir)
    if numbered:
        return numbered[-1][1]
    latest = Path(out_dir) / LATEST
    return latest if latest.is_file() else None


def save_step_checkpoint(out_dir: str | os.PathLike, step: int, state: dict[str, Any], config_yaml: str,
                         keep: int = 2) -> Path:
    """Write ``checkpoint-STEP.pt`` atomically, point ``checkpoint.pt`` at it, prune to ``keep`` (0 = all).

    A crash at any point leaves every checkpoint name either absent or complete.
    """
    out_dir = Path(out_dir)
    path = out_dir / f"checkpoint-{step:07d}.pt"
    save_checkpoint(path, state, config_yaml)
    latest = out_dir / LATEST
    with atomic_path(latest) as tmp:
        tmp.unlink()
        try:
            os.link(path, tmp)  # no second copy of a large file where the filesystem allows
        except OSError:
            shutil.copyfile(path, tmp)
    if keep > 0:
        for _, old in numbered_checkpoints(out_dir)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def remove_checkpoints(out_dir: str | os.PathLike) -> None:
    """Delete the checkpoints of an earlier run in ``out_dir`` (a fresh run replaces them)."""
    for _, path in numbered_checkpoints(out_dir):
        path.unlink(missing_ok=True)
    (Path(out_dir) / LATEST).unlink(missing_ok=True)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before failing on them
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle/zip errors on truncated or foreign files
        raise DataError(f"{path}: not a readable modist checkpoint ({str(exc).splitlines()[0]})") from None
