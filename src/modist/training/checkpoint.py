"""Checkpoints written atomically: a crash leaves every checkpoint name absent or complete.

A run directory holds a checkpoint per step saved (method with its queues and key
encoders, optimizer, scheduler, step, RNG states, config), of which the last
``train.keep_checkpoints`` are kept, ``checkpoint.pt`` (a hard link to the latest) and the
resolved ``config.yaml`` beside them. Their names, finding them and reading them back (weights
only) are :mod:`modist.models.run_files`; the exported encoder (``encoder.safetensors`` +
``encoder.json``) is written by :mod:`modist.models.encoder_io`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from modist.atomic import atomic_path, write_text
from modist.models.run_files import CONFIG, LATEST, checkpoint_name, numbered_checkpoints


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], config_yaml: str) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    write_text(path.with_name(CONFIG), config_yaml)


def save_step_checkpoint(out_dir: str | os.PathLike, step: int, state: dict[str, Any], config_yaml: str,
                         keep: int = 2) -> Path:
    """Write the checkpoint of ``step`` atomically, point ``checkpoint.pt`` at it, prune to ``keep`` (0 = all).

    A crash at any point leaves every checkpoint name either absent or complete.
    """
    out_dir = Path(out_dir)
    path = out_dir / checkpoint_name(step)
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
