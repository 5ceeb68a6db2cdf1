"""The encoder under evaluation and the data settings it expects.

A checkpoint is a run directory, an ``encoder.safetensors`` (see
:func:`modist.models.encoder_io.load_encoder`; its ``encoder.json`` gives the
architecture, modality and clip shape) or a training checkpoint (``checkpoint.pt``,
``checkpoint-N.pt``: the encoder is rebuilt from the config it holds through the method's
export spec, so a run killed before its export can be evaluated). For a motion-modality encoder the flow
estimator and motion encoding come from the run's ``config.yaml`` when it sits beside
the weights; without it the training defaults apply, the encoding guessed from the
input channels (2: ``dxdy``, 1: ``flow_edges``).

Example:
    >>> enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32)
    >>> enc.modality, enc.clip_frames, enc.crop_size
    ('rgb', 8, 32)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import KW_ONLY, asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from modist.config import DataConfig, MotionConfig, PretrainConfig
from modist.data.clips import ClipSource
from modist.errors import ConfigError, DataError
from modist.evaluation.multiview import ViewPipeline
from modist.flow.sources import EstimatedFlow
from modist.models.encoder_io import WEIGHTS, EncoderSpec, load_encoder

_DATA = DataConfig()


@dataclass
class EvalEncoder:
    """A backbone plus how its clips are made: length, stride, crop, modality, motion."""

    backbone: nn.Module
    meta: dict[str, Any]
    _: KW_ONLY
    weights: Path | None = None
    modality: str = "rgb"
    clip_frames: int = _DATA.clip_frames
    stride: int = _DATA.stride
    crop_size: int = _DATA.crop_size
    short_side: int = 0
    motion: MotionConfig = field(default_factory=MotionConfig)

    @classmethod
    def from_scratch(cls, arch: str = "r3d_tiny", *, base_width: int = 16, modality: str = "rgb",
                     width_divisor: float = 1.0, clip_frames: int = _DATA.clip_frames, stride: int = _DATA.stride,
                     crop_size: int = _DATA.crop_size, motion: MotionConfig | None = None,
                     conv1_temporal_stride: int = 1) -> EvalEncoder:
        """A randomly initialised backbone (the supervised-from-scratch baseline)."""
        from modist.flow import motion_channels
        from modist.models.resnet3d import build_backbone

        motion = motion or MotionConfig()
        in_channels = 3 if modality == "rgb" else motion_channels(motion.encoding)
        backbone = build_backbone(arch, in_channels=in_channels, width_divisor=width_divisor, base_width=base_width,
                                  conv1_temporal_stride=conv1_temporal_stride)
        meta = {"arch": arch, "in_channels": in_channels, "width_divisor": width_divisor, "base_width": base_width,
                "modality": modality, "conv1_temporal_stride": conv1_temporal_stride, "method": "scratch",
                "clip_frames": clip_frames, "stride": stride, "crop_size": crop_size}
        return cls(backbone, meta, modality=modality, clip_frames=clip_frames, stride=stride, crop_size=crop_size,
                   motion=motion)

    def with_overrides(self, *, clip_frames: int | None = None, stride: int | None = None,
                       crop_size: int | None = None, short_side: int | None = None) -> EvalEncoder:
        """A copy with the given clip settings replaced (None keeps the encoder's own)."""
        changes = {k: v for k, v in dict(clip_frames=clip_frames, stride=stride, crop_size=crop_size,
                                         short_side=short_side).items() if v is not None}
        for key, value in changes.items():
            if value < 0 or (value == 0 and key != "short_side"):
                raise ConfigError(f"{key} must be positive, got {value}")
        return replace(self, **changes)

    def clip_source(self, frame_cache: int = 0) -> ClipSource:
        """Decoder (+ flow estimator for a motion encoder) matching this encoder."""
        m = self.motion
        flow = (EstimatedFlow(m.estimator, m.preset, m.flow_gap, m.flow_direction)
                if self.modality == "motion" else None)
        return ClipSource(flow, short_side=self.short_side, frame_cache=frame_cache,
                          motion_frames=m.clip_frames, motion_stride=m.stride)

    def view_pipeline(self, spatial_views: int = 1) -> ViewPipeline:
        """Deterministic test views of this encoder's crop size and motion encoding."""
        m = self.motion
        return ViewPipeline(self.crop_size, spatial_views, encoding=m.encoding, max_flow=m.max_flow,
                            edge_max=m.edge_max)

    def fingerprint(self) -> str:
        """Identifies the weights and clip settings (a feature-cache key); '' for no weights."""
        if self.weights is None:
            return ""
        digest = hashlib.sha256()
        with open(self.weights, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(json.dumps(self.settings(), sort_keys=True).encode())
        # The same weights at another conv1 stride are another network; stride 1 keeps older cache keys.
        if self.meta.get("conv1_temporal_stride", 1) != 1:
            digest.update(f"conv1_temporal_stride={self.meta['conv1_temporal_stride']}".encode())
        return digest.hexdigest()

    def settings(self) -> dict[str, Any]:
        """What shapes the inputs, for reports and cache keys."""
        out = {"modality": self.modality, "clip_frames": self.clip_frames, "stride": self.stride,
               "crop_size": self.crop_size, "short_side": self.short_side}
        if self.modality == "motion":
            m = self.motion
            out["motion"] = {"estimator": m.estimator, "preset": m.preset, "flow_gap": m.flow_gap,
                             "encoding": m.encoding, "max_flow": m.max_flow, "edge_max": m.edge_max}
            # Named only when not the defaults, so that older feature-cache keys stay valid.
            if m.flow_direction != "forward":
                out["motion"]["flow_direction"] = m.flow_direction
            if m.clip_frames or m.stride:
                out["motion"]["clip"] = [m.clip_frames, m.stride]
        return out


def _run_config(weights: Path):
    """The resolved pretraining config beside the weights (of any modist version), or None."""
    from modist.config import load_run_config

    path = weights.with_name("config.yaml")
    if not path.is_file():
        return None
    return load_run_config(path)


def runs_in(folder: Path) -> list[str]:
    """Names of the sub-folders of ``folder`` that hold a run (an encoder or a training checkpoint)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and ((p / WEIGHTS).is_file() or find_training_checkpoint(p) is not None))


def find_training_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoint-N.pt`` in ``folder``, else its ``checkpoint.pt``, else None."""
    numbered = sorted((int(p.stem.split("-")[1]), p) for p in folder.glob("checkpoint-*.pt")
                      if p.stem.split("-")[1].isdigit())
    if numbered:
        return numbered[-1][1]
    latest = folder / "checkpoint.pt"
    return latest if latest.is_file() else None


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    """The file ``--checkpoint`` means: a run folder's encoder (else its latest training checkpoint), or the file."""
    path = Path(checkpoint)
    if not path.exists():
        raise DataError(f"{path}: checkpoint not found")
    if not path.is_dir():
        return path
    if (path / WEIGHTS).is_file():
        return path / WEIGHTS
    found = find_training_checkpoint(path)
    if found is not None:
        return found
    runs = runs_in(path)
    if runs:
        shown = ", ".join(runs[:8]) + (f" (+{len(runs) - 8} more)" if len(runs) > 8 else "")
        raise DataError(f"{path}: a folder of runs, not a run; pass one of: {shown}")
    raise DataError(f"{path}: no {WEIGHTS} or checkpoint.pt in this folder")


def checkpoint_encoder(path: str | os.PathLike) -> tuple[nn.Module, EncoderSpec, dict[str, Any], PretrainConfig]:
    """The kept encoder of a training checkpoint, its spec, what ``encoder.json`` adds, and the run's config."""
    import torch

    from modist.flow import motion_channels
    from modist.methods import build_method

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before failing on them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors on truncated or foreign files
        raise DataError(f"{path}: not a readable modist checkpoint ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or not isinstance(state.get("method"), dict) or "config" not in state:
        raise DataError(f"{path}: not a modist training checkpoint (no method state and config)")
    cfg = _config_from_dict(state["config"], path)
    method = build_method(cfg, motion_channels=motion_channels(cfg.motion.encoding),
                          num_classes=max(2, int(state.get("num_classes", 2))))  # the classifier is not kept
    encoder = method.eval_encoder()
    prefix = next(name for name, module in method.named_modules() if module is encoder)
    kept = {k[len(prefix) + 1:]: v for k, v in state["method"].items() if k.startswith(prefix + ".")}
    try:
        encoder.load_state_dict(kept)
    except RuntimeError as exc:
        raise DataError(f"{path}: encoder weights do not fit the config it holds "
                        f"({str(exc).splitlines()[0][:200]})") from None
    d = cfg.data
    extra = {"method": cfg.method.name, "clip_frames": d.clip_frames, "stride": d.stride, "crop_size": d.crop_size,
             "short_side": d.short_side, "step": int(state.get("step", 0))}
    return encoder, method.export_spec(), extra, cfg


def _config_from_dict(saved: Any, path: Path) -> PretrainConfig:
    import tempfile

    from modist.config import load_run_config

    if not isinstance(saved, dict):
        raise DataError(f"{path}: its config is not a mapping")
    with tempfile.TemporaryDirectory() as tmp:
        yaml = Path(tmp) / "config.yaml"
        yaml.write_text(json.dumps(saved))  # JSON is YAML
        try:
            return load_run_config(yaml)
        except ConfigError as exc:
            raise DataError(f"{path}: its config does not load ({str(exc).split(': ', 1)[-1]})") from None


def load_eval_encoder(checkpoint: str | os.PathLike) -> EvalEncoder:
    """Rebuild the encoder of a run directory, ``encoder.safetensors`` or training checkpoint with its settings."""
    path = resolve_checkpoint(checkpoint)
    if path.suffix == ".pt":
        backbone, spec, extra, cfg = checkpoint_encoder(path)
        meta = {**asdict(spec), **extra}
        weights = path
    else:
        backbone, meta = load_encoder(path)
        weights = path
        cfg = _run_config(weights)
    if cfg is not None:
        motion, short_side = cfg.motion, cfg.data.short_side
    else:
        motion = MotionConfig(encoding="dxdy" if meta.get("in_channels") == 2 else "flow_edges")
        short_side = int(meta.get("short_side", 0))  # an exported encoder away from its run's config.yaml
    backbone.eval()
    return EvalEncoder(backbone, meta, weights=weights, modality=meta.get("modality", "rgb"),
                       clip_frames=int(meta.get("clip_frames", _DATA.clip_frames)),
                       stride=int(meta.get("stride", _DATA.stride)),
                       crop_size=int(meta.get("crop_size", _DATA.crop_size)), short_side=short_side, motion=motion)


def scratch_encoder(checkpoint: str | os.PathLike | None = None, *, arch: str = "r3d_tiny",
                    base_width: int = 16) -> EvalEncoder:
    """A randomly initialised encoder (the supervised-from-scratch baseline).

    With ``checkpoint``, the same network and inputs as that checkpoint's encoder
    (architecture, width, modality, clip shape, motion input, decoding size), so the
    baseline differs from it only by the pretraining; without it, ``arch`` at ``base_width``.
    """
    if checkpoint is None:
        return EvalEncoder.from_scratch(arch, base_width=base_width)
    trained = load_eval_encoder(checkpoint)
    scratch = EvalEncoder.from_scratch(trained.meta["arch"], base_width=trained.meta["base_width"],
                                       modality=trained.modality,
                                       width_divisor=trained.meta.get("width_divisor", 1.0),
                                       clip_frames=trained.clip_frames, stride=trained.stride,
                                       crop_size=trained.crop_size, motion=trained.motion,
                                       conv1_temporal_stride=trained.meta.get("conv1_temporal_stride", 1))
    return scratch.with_overrides(short_side=trained.short_side)
