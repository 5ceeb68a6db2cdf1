"""A run folder's files in one place: their names, which file a path means, and reading them.

::

    RUN/config.yaml               the resolved config (load_run_config reads any modist version's)
    RUN/checkpoint-0001000.pt     training checkpoints, the step in 7 digits (the last train.keep_checkpoints)
    RUN/checkpoint.pt             a hard link to (or a copy of) the newest of them
    RUN/encoder.safetensors       the exported encoder's weights, and in
    RUN/encoder.json              its EncoderSpec and what it was trained on (:class:`TrainedOn`)
    RUN/export-0001000/           ``modist export`` of one checkpoint: encoder.safetensors + encoder.json

Files are written where their contents are made (:mod:`modist.training.checkpoint` the
checkpoints, under :func:`checkpoint_name`; :mod:`modist.models.encoder_io` the encoder) and
read here: :func:`load_checkpoint` (weights only, through :mod:`modist.serialization`),
:func:`checkpoint_config` (the config a checkpoint holds), :func:`config_beside` and
:func:`read_encoder`. :func:`resolve_checkpoint` says which file a run folder stands for.

Why in ``models`` (layer 6): training (8), evaluation (9), the CLI and
:mod:`modist.models.interop` (6) all read run folders, and reading an encoder builds its
backbone, which ``models`` may. The encoder of a *training* checkpoint is rebuilt through the
method that wrote it (``modist.methods``, layer 7), so that one step is
:func:`modist.evaluation.encoder.checkpoint_encoder`, built on :func:`load_checkpoint` and
:func:`checkpoint_config` from here. A package of its own above ``methods`` would hold that step
too, but :mod:`modist.models.interop` (layer 6) could then not read run folders.

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> for step in (5, 40, 300):
    ...     _ = (run / checkpoint_name(step)).write_bytes(b"")
    >>> [step for step, _ in numbered_checkpoints(run)], find_latest_checkpoint(run).name
    ([5, 40, 300], 'checkpoint-0000300.pt')
    >>> from modist.models.encoder_io import EncoderSpec, save_encoder
    >>> spec = EncoderSpec("r3d_tiny", in_channels=3, base_width=4)
    >>> _ = save_encoder(run, spec.build(), spec, {"method": "rgb_only", "clip_frames": 4, "stride": 2})
    >>> encoder = read_encoder(run)
    >>> encoder.spec == spec, encoder.module.training, encoder.trained_on.method, encoder.trained_on.clip_frames
    (True, False, 'rgb_only', 4)
    >>> encoder.trained_on.record()
    {'mean': [0.45, 0.45, 0.45], 'std': [0.225, 0.225, 0.225], 'method': 'rgb_only', 'clip_frames': 4, 'stride': 2}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from modist.config import PretrainConfig, load_run_config, run_config_from_dict
from modist.errors import ConfigError, DataError
from modist.models.encoder_io import META, WEIGHTS, EncoderSpec
from modist.serialization import load_torch_file

CONFIG = "config.yaml"
LATEST = "checkpoint.pt"
_NUMBERED = re.compile(r"^checkpoint-(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    """The file name of the training checkpoint at ``step``: ``checkpoint-0000500.pt``."""
    return f"checkpoint-{step:07d}.pt"


def export_name(step: int) -> str:
    """The folder ``modist export`` writes the encoder of the checkpoint at ``step`` into, by default."""
    return f"export-{step:07d}"


def numbered_checkpoints(run: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of the numbered checkpoints in ``run``, oldest first (none when it is no folder)."""
    run = Path(run)
    if not run.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in run.iterdir() if (m := _NUMBERED.match(p.name)))


def find_latest_checkpoint(run: str | os.PathLike) -> Path | None:
    """The newest numbered checkpoint in ``run``, else its ``checkpoint.pt``, else None."""
    numbered = numbered_checkpoints(run)
    if numbered:
        return numbered[-1][1]
    latest = Path(run) / LATEST
    return latest if latest.is_file() else None


def checkpoint_at_step(run: str | os.PathLike, step: int) -> Path:
    """The checkpoint ``run`` keeps for ``step``; a DataError naming the ones it keeps when there is none."""
    path = Path(run) / checkpoint_name(step)
    if not path.is_file():
        kept = [p.name for _, p in numbered_checkpoints(run)]
        raise DataError(f"{path}: not found; this run keeps {', '.join(kept) or 'no numbered checkpoints'}")
    return path


def runs_in(folder: Path) -> list[str]:
    """Names of the sub-folders of ``folder`` that hold a run (an encoder or a training checkpoint)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and ((p / WEIGHTS).is_file() or find_latest_checkpoint(p) is not None))


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    """The file a run folder stands for (its encoder, else its latest training checkpoint), or the file given."""
    path = Path(checkpoint)
    if not path.exists():
        raise DataError(f"{path}: checkpoint not found")
    if not path.is_dir():
        return path
    if (path / WEIGHTS).is_file():
        return path / WEIGHTS
    found = find_latest_checkpoint(path)
    if found is not None:
        return found
    runs = runs_in(path)
    if runs:
        shown = ", ".join(runs[:8]) + (f" (+{len(runs) - 8} more)" if len(runs) > 8 else "")
        raise DataError(f"{path}: a folder of runs, not a run; pass one of: {shown}")
    raise DataError(f"{path}: no {WEIGHTS} or {LATEST} in this folder")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A training checkpoint's state (tensors and plain containers only: nothing is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    return load_torch_file(path, map_location=map_location, what="modist checkpoint")


def checkpoint_config(state: Mapping[str, Any], path: str | os.PathLike) -> PretrainConfig:
    """The config a training checkpoint's ``state`` holds, validated; ``path`` names the checkpoint in errors."""
    saved = state.get("config")
    if not isinstance(saved, Mapping):
        raise DataError(f"{path}: its config is not a mapping")
    try:
        return run_config_from_dict(saved, str(path))
    except ConfigError as exc:
        raise DataError(f"{path}: its config does not load ({str(exc).removeprefix(f'{path}: ')})") from None


def config_beside(path: str | os.PathLike) -> PretrainConfig | None:
    """The run's ``config.yaml`` in the folder of ``path`` (a weights file), of any modist version; None if absent."""
    config = Path(path).with_name(CONFIG)
    return load_run_config(config) if config.is_file() else None


@dataclass(frozen=True)
class TrainedOn:
    """What an encoder was trained on, as ``encoder.json`` records it beside the :class:`EncoderSpec`.

    None is "not recorded": a file older than the field, an imported or a random-init encoder.
    ``mean`` / ``std`` (one number or one per RGB channel) are checked where they are used
    (:func:`modist.models.encoder.normalization`). ``details`` are the record's other entries, in
    file order: the checkpoint an export came from, an imported file's source and format.
    ``key_order`` is the order of a record read from a file, which :meth:`record` keeps.
    """

    method: str | None = None
    clip_frames: int | None = None
    stride: int | None = None
    crop_size: int | None = None
    short_side: int | None = None
    step: int | None = None
    mean: float | tuple[float, ...] | None = None
    std: float | tuple[float, ...] | None = None
    details: tuple[tuple[str, Any], ...] = ()
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def of_run(cls, cfg: PretrainConfig, step: int | None = None) -> TrainedOn:
        """What a run of ``cfg`` trains an encoder on (at checkpoint ``step``, when given)."""
        d = cfg.data
        return cls(cfg.method.name, d.clip_frames, d.stride, d.crop_size, d.short_side, step)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str | os.PathLike) -> TrainedOn:
        """The entries of an ``encoder.json`` record besides the spec's; ``source`` names the file in errors."""
        spec_keys = {f.name for f in fields(EncoderSpec)}
        typed = {f.name for f in fields(cls)} - {"details", "key_order"}
        values: dict[str, Any] = {}
        for key in typed & record.keys():
            value = record[key]
            if value is None:
                continue
            if key == "method":
                value = str(value)
            elif key in ("mean", "std"):
                value = tuple(value) if isinstance(value, list) else value
            elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise DataError(f"{source}: {key} must be an integer, got {value!r}")
            else:
                try:
                    value = int(value)
                except ValueError:
                    raise DataError(f"{source}: {key} must be an integer, got {value!r}") from None
            values[key] = value
        details = tuple((k, v) for k, v in record.items() if k not in spec_keys and k not in typed)
        return cls(**values, details=details, key_order=tuple(k for k in record if k not in spec_keys))

    def record(self) -> dict[str, Any]:
        """The entries ``encoder.json`` holds for this, in the file's order (else in the order modist writes them)."""
        out: dict[str, Any] = {}
        for key in ("mean", "std", "method", "clip_frames", "stride", "crop_size", "short_side", "step"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        out.update(self.details)
        first = [k for k in self.key_order if k in out]
        return {**{k: out[k] for k in first}, **out}


@dataclass(frozen=True)
class SavedEncoder:
    """An encoder read back from a run folder: the backbone, how it is built and what it was trained on."""

    module: torch.nn.Module  # a ResNet3d, in eval mode when read from encoder.safetensors
    spec: EncoderSpec
    trained_on: TrainedOn


def read_encoder(path: str | os.PathLike) -> SavedEncoder:
    """The encoder of ``encoder.safetensors`` (or the folder holding it) with its ``encoder.json``; never unpickles.

    An ``encoder.json`` written before a spec field existed reads with that field's default.
    """
    path = Path(path)
    weights = path / WEIGHTS if path.is_dir() else path
    meta_path = weights.with_name(META)
    if not weights.is_file() or not meta_path.is_file():
        raise DataError(f"{weights}: encoder weights or {meta_path.name} not found")
    try:
        record = json.loads(meta_path.read_text())
        spec = EncoderSpec.from_meta(record)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{meta_path}: not an encoder description ({type(exc).__name__}: {exc})") from None
    trained_on = TrainedOn.from_record(record, meta_path)
    try:
        module = spec.build()
    except ConfigError as exc:
        raise DataError(f"{meta_path}: {exc}") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise DataError(f"{weights}: not a readable safetensors file ({exc})") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(f"{weights}: weights do not fit {spec.arch} as {META} describes it "
                        f"({str(exc).splitlines()[0]})") from None
    module.eval()  # a loaded encoder is for features: batch-norm statistics stay as trained
    return SavedEncoder(module, spec, trained_on)
