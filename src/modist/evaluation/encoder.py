"""The encoder under evaluation and the data settings it expects.

A checkpoint is a run directory, an ``encoder.safetensors`` (see
:func:`modist.models.run_files.read_encoder`; its ``encoder.json`` gives the
architecture, modality and clip shape) or a training checkpoint (``checkpoint.pt`` or a
numbered one: the encoder is rebuilt from the config it holds through the method's
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
from dataclasses import KW_ONLY, asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from modist.config import DataConfig, MotionConfig, PretrainConfig
from modist.data.clips import ClipSource
from modist.data.frame_difference import FrameDifference
from modist.errors import ConfigError, DataError
from modist.evaluation.multiview import ViewPipeline
from modist.flow.sources import EstimatedFlow
from modist.models.encoder_io import EncoderSpec
from modist.models.run_files import (
    SavedEncoder,
    TrainedOn,
    checkpoint_config,
    config_beside,
    load_checkpoint,
    read_encoder,
    resolve_checkpoint,
)

_DATA = DataConfig()


@dataclass
class EvalEncoder:
    """A backbone plus how its clips are made: length, stride, crop, modality, motion.

    ``spec`` builds the backbone (its modality is the encoder's); ``trained_on`` is what the
    encoder was trained on as its ``encoder.json`` or checkpoint records it. The clip settings
    here are the ones evaluation uses, which overrides may change.
    """

    backbone: nn.Module
    spec: EncoderSpec
    trained_on: TrainedOn = TrainedOn()
    _: KW_ONLY
    weights: Path | None = None
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

        motion = motion or MotionConfig()
        in_channels = 3 if modality == "rgb" else motion_channels(motion.encoding)
        spec = EncoderSpec(arch, in_channels, width_divisor, base_width, modality, conv1_temporal_stride)
        return cls(spec.build(), spec, TrainedOn("scratch", clip_frames, stride, crop_size), clip_frames=clip_frames,
                   stride=stride, crop_size=crop_size, motion=motion)

    @property
    def modality(self) -> str:
        return self.spec.modality

    def record(self) -> dict[str, Any]:
        """The encoder as its ``encoder.json`` describes it: the spec, then what it was trained on (for reports)."""
        return {**asdict(self.spec), **self.trained_on.record()}

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
        flow = None
        if self.modality == "motion":
            flow = (FrameDifference(m.flow_gap, m.flow_direction) if m.encoding == "frame_diff"
                    else EstimatedFlow(m.estimator, m.preset, m.flow_gap, m.flow_direction))
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
        if self.spec.conv1_temporal_stride != 1:
            digest.update(f"conv1_temporal_stride={self.spec.conv1_temporal_stride}".encode())
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


def checkpoint_encoder(path: str | os.PathLike) -> tuple[SavedEncoder, PretrainConfig]:
    """The kept encoder of a training checkpoint (what it was trained on: at the checkpoint's step) and its config."""
    from modist.flow import motion_channels
    from modist.methods import build_method

    path = Path(path)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not isinstance(state.get("method"), dict) or "config" not in state:
        raise DataError(f"{path}: not a modist training checkpoint (no method state and config)")
    cfg = checkpoint_config(state, path)
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
    trained_on = TrainedOn.of_run(cfg, step=int(state.get("step", 0)))
    return SavedEncoder(encoder, method.export_spec(), trained_on), cfg


def load_eval_encoder(checkpoint: str | os.PathLike) -> EvalEncoder:
    """Rebuild the encoder of a run directory, ``encoder.safetensors`` or training checkpoint with its settings."""
    path = resolve_checkpoint(checkpoint)
    if path.suffix == ".pt":
        saved, cfg = checkpoint_encoder(path)
    else:
        saved, cfg = read_encoder(path), config_beside(path)
    spec, trained_on = saved.spec, saved.trained_on
    if cfg is not None:
        motion, short_side = cfg.motion, cfg.data.short_side
    else:
        motion = MotionConfig(encoding="dxdy" if spec.in_channels == 2 else "flow_edges")
        short_side = trained_on.short_side or 0  # an exported encoder away from its run's config.yaml

    def recorded(value: int | None, default: int) -> int:
        return default if value is None else value

    saved.module.eval()
    return EvalEncoder(saved.module, spec, trained_on, weights=path,
                       clip_frames=recorded(trained_on.clip_frames, _DATA.clip_frames),
                       stride=recorded(trained_on.stride, _DATA.stride),
                       crop_size=recorded(trained_on.crop_size, _DATA.crop_size), short_side=short_side, motion=motion)


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
    spec = trained.spec
    scratch = EvalEncoder.from_scratch(spec.arch, base_width=spec.base_width, modality=spec.modality,
                                       width_divisor=spec.width_divisor,
                                       clip_frames=trained.clip_frames, stride=trained.stride,
                                       crop_size=trained.crop_size, motion=trained.motion,
                                       conv1_temporal_stride=spec.conv1_temporal_stride)
    return scratch.with_overrides(short_side=trained.short_side)
