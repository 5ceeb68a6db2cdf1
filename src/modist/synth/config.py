"""Settings of the synthetic benchmarks: motion classification and action detection.

Example:
    >>> cfg = SynthConfig(train_per_class=2, test_per_class=1)
    >>> cfg.validate().num_frames
    32
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from modist.errors import ConfigError


@dataclass(frozen=True)
class SynthConfig:
    """What to generate; lengths in pixels refer to a 64 px frame and scale with ``size``."""

    size: int = 64  # square frames, H = W = size
    num_frames: int = 32
    fps: int = 16
    train_per_class: int = 40
    test_per_class: int = 12  # for each of test_biased and test_unbiased
    # A second training split drawn without scene bias: the demo's supervised ceiling trains on it.
    train_unbiased_per_class: int = 0
    scene_bias: float = 0.9  # P(background family == class's own family) in train/test_biased
    num_distractors: int = 2
    camera_pan_prob: float = 0.5
    crf: int = 18
    actor_scale: float = 1.0  # multiplies the actor's drawn size (14-22 px at 64 px)
    texture_scale: float = 1.0  # multiplies the period of the actor's texture (4-8 px at 64 px)
    # The background is the actor's own texture (same pattern kind, period and colours), so that in
    # any single frame the actor cannot be told from the background by appearance: only its motion
    # singles it out (the demo's saliency split, docs/demo.md).
    camouflage: bool = False

    def validate(self) -> SynthConfig:
        """Return self, or raise ConfigError naming the offending key."""
        _check_int(self, "size", 32, 1024)
        _check_int(self, "num_frames", 2, 10_000)
        _check_int(self, "fps", 1, 1000)
        _check_int(self, "train_per_class", 0, 1_000_000)
        _check_int(self, "test_per_class", 0, 1_000_000)
        _check_int(self, "train_unbiased_per_class", 0, 1_000_000)
        _check_int(self, "num_distractors", 0, 100)
        _check_int(self, "crf", 0, 51)
        _check_prob(self, "scene_bias")
        _check_prob(self, "camera_pan_prob")
        _check_float(self, "actor_scale", 0.25, 2.0)
        _check_float(self, "texture_scale", 0.25, 4.0)
        if not isinstance(self.camouflage, bool):
            raise ConfigError(f"synth: camouflage must be true or false, got {self.camouflage!r}")
        if self.train_per_class == 0 and self.test_per_class == 0 and self.train_unbiased_per_class == 0:
            raise ConfigError("synth: train_per_class and test_per_class are both 0, nothing to generate")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.camouflage:  # so a folder written before the key existed still matches its config
            del out["camouflage"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"synth: unknown config key {unknown[0]!r}")
        return cls(**data).validate()


def _check_int(cfg: SynthConfig | DetectionSynthConfig, key: str, low: int, high: int) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"synth: {key} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"synth: {key} must be in [{low}, {high}], got {value}")


def _check_prob(cfg: SynthConfig | DetectionSynthConfig, key: str) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"synth: {key} must be a probability in [0, 1], got {value!r}")


def _check_float(cfg: SynthConfig | DetectionSynthConfig, key: str, low: float, high: float) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"synth: {key} must be a number in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class DetectionSynthConfig:
    """What to generate. Lengths follow the classification benchmark: ``unit`` is the pixel scale
    relative to its 64 px frame; the defaults reproduce the demo benchmark's actors (32 px frames:
    unit 0.5, actors 1.6x, textures 2x) in a larger frame that holds several of them."""

    train_videos: int = 160
    val_videos: int = 40
    test_videos: int = 80  # for each of test_biased and test_unbiased
    seconds: int = 4  # keyframes at seconds 1 .. seconds-1
    fps: int = 16
    size: int = 96
    unit: float = 0.5
    actor_scale: float = 1.6
    texture_scale: float = 2.0
    min_actors: int = 2
    max_actors: int = 3
    multi_label: float = 0.3  # probability that an actor combines a path and an in-place motion
    scene_bias: float = 0.9
    num_distractors: int = 2
    camera_pan_prob: float = 0.25
    false_positives: float = 1.0  # mean false-positive proposals per keyframe
    miss: float = 0.05  # probability that an actor has no proposal on a keyframe
    crf: int = 18
    seed: int = 0

    def validate(self) -> DetectionSynthConfig:
        """Return self, or raise ConfigError naming the offending key."""
        for key, low, high in (("train_videos", 0, 10**6), ("val_videos", 0, 10**6), ("test_videos", 0, 10**6),
                               ("seconds", 2, 3600), ("fps", 2, 240), ("size", 32, 1024), ("min_actors", 1, 6),
                               ("max_actors", 1, 6), ("num_distractors", 0, 100), ("crf", 0, 51)):
            _check_int(self, key, low, high)
        for key in ("multi_label", "scene_bias", "camera_pan_prob", "miss"):
            _check_prob(self, key)
        for key, low, high in (("unit", 0.1, 4.0), ("actor_scale", 0.25, 4.0), ("texture_scale", 0.25, 4.0),
                               ("false_positives", 0.0, 20.0)):
            _check_float(self, key, low, high)
        if self.min_actors > self.max_actors:
            raise ConfigError(f"synth detection: min_actors ({self.min_actors}) > max_actors ({self.max_actors})")
        if self.train_videos + self.val_videos + self.test_videos == 0:
            raise ConfigError("synth detection: no videos to generate (train, val and test counts are all 0)")
        return self

    @classmethod
    def from_dict(cls, data: dict) -> DetectionSynthConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"synth detection: unknown config key {unknown[0]!r}")
        return cls(**data).validate()
