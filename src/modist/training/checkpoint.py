"""Checkpoints written atomically and loaded safely (``weights_only=True``).

A run directory holds numbered checkpoints ``checkpoint-0001000.pt`` (method with its
queues and key encoders, optimizer, scheduler, step, RNG states, config), of which
the last ``train.keep_checkpoints`` are kept, ``checkpoint.pt`` (a hard link to the
latest), the resolved ``config.yaml`` beside them; ``encoder.safetensors`` +
``encoder.json`` hold the kept pathway alone for downstream use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from modist.atomic import atomic_path, write_json, write_text
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
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle/zip errors on truncated or foreign files
        raise DataError(f"{path}: not a readable modist checkpoint ({str(exc).splitlines()[0]})") from None


def export_encoder(out_dir: str | os.PathLike, encoder: torch.nn.Module, meta: dict[str, Any]) -> Path:
    """Save the backbone's weights as safetensors and how to rebuild it as JSON."""
    out_dir = Path(out_dir)
    weights = out_dir / "encoder.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    write_json(out_dir / "encoder.json", meta)
    return weights


def load_encoder(path: str | os.PathLike) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild an exported backbone from ``encoder.safetensors`` (or its run directory)."""
    from modist.models.resnet3d import build_backbone

    path = Path(path)
    weights = path / "encoder.safetensors" if path.is_dir() else path
    meta_path = weights.with_name("encoder.json")
    if not weights.is_file() or not meta_path.is_file():
        raise DataError(f"{weights}: encoder weights or {meta_path.name} not found")
    meta = json.loads(meta_path.read_text())
    encoder = build_backbone(meta["arch"], in_channels=meta["in_channels"], width_divisor=meta.get("width_divisor", 1.0),
                             base_width=meta["base_width"])
    encoder.load_state_dict(load_file(str(weights)))
    return encoder, meta
