"""Pretraining configuration: typed dataclasses, YAML files and ``key=value`` overrides.

OmegaConf validates every key and value against the dataclasses, so a typo in a
YAML file or on the command line fails with the offending key named.

Example:
    >>> cfg = load_config(None, ["method.name=rgb_only", "train.steps=10"])
    >>> cfg.method.name, cfg.train.steps
    ('rgb_only', 10)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from modist.errors import ConfigError


@dataclass
class DataConfig:
    dataset: str = "synth:data/synth"  # dataset spec, see modist.data.adapters.resolve_dataset
    split: str = "train"
    fold: int = 1
    clip_frames: int = 8
    stride: int = 2
    min_clip_gap_sec: float = 0.5
    max_clip_gap_sec: float = 10.0
    # Frames are resized so the short side is this before cropping (0 keeps decoded size).
    short_side: int = 0
    crop_size: int = 48
    crop_scale_min: float = 0.5
    # Random-resized-crop aspect ratios are drawn from [1 / crop_aspect_max, crop_aspect_max].
    crop_aspect_max: float = 4 / 3
    flip: bool = True
    color_jitter: float = 0.4
    grayscale_prob: float = 0.2
    blur_prob: float = 0.0
    frame_cache: int = 0  # decoded videos kept in memory per loader process (0 = none)
    num_workers: int = 0


@dataclass
class MotionConfig:
    source: str = "on_the_fly"  # on_the_fly | store
    estimator: str = "dis"  # flow estimator, see modist.flow.FLOW_ESTIMATORS
    preset: str = "medium"  # DIS preset; "fast" is 2-3x quicker at ~15% higher EPE (docs/flow.md)
    flow_gap: int = 1  # frames between the two frames of a flow pair (the authors used 5)
    encoding: str = "flow_edges"  # flow_edges | dxdy | magnitude
    max_flow: float = 20.0
    edge_max: float = 10.0
    flow_store: str = ""  # folder written by `modist flow DATASET --out DIR` (motion.source=store)


@dataclass
class ModelConfig:
    arch: str = "r3d_tiny"
    base_width: int = 16
    motion_arch: str = ""  # empty: same as arch
    motion_width_divisor: float = 4.0
    proj_hidden: int = 256
    embed_dim: int = 128
    head_bn: bool = False  # batch norm in the projection heads' hidden layer (the release has none)


@dataclass
class MethodConfig:
    name: str = "modist"  # modist | rgb_only | motion_only | supervised
    # Loss weights; None takes the method's preset (see modist.methods.factory.PRESET_WEIGHTS).
    weight_vv: Optional[float] = None
    weight_mm: Optional[float] = None
    weight_vm: Optional[float] = None
    weight_mv: Optional[float] = None
    temperature: float = 0.1
    queue_size: int = 65536
    momentum: float = 0.999
    momentum_schedule: str = "constant"  # constant | cosine
    cross_view: str = "same"  # cross-modal key from the same clip, or the video's "other" clip
    shuffle_bn_groups: int = 2  # key encoders see the batch in shuffled groups (MoCo shuffle-BN)
    # Batch norm of the key encoders: shuffle (MoCo shuffle-BN; across ranks when distributed),
    # sync (statistics of the global batch) or local (each rank's own batch, no shuffle).
    key_bn: str = "shuffle"


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | sgd | lars
    lr: float = 1e-3
    # When > 0 the rate is lr * global batch / lr_reference_batch (linear scaling, Goyal et al.).
    lr_reference_batch: int = 0
    lars_eta: float = 0.001  # LARS trust coefficient
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | constant


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0
    out_dir: str = "runs/pretrain"
    log_every: int = 10
    checkpoint_every: int = 0  # steps; 0 = only at the end
    threads: int = 0  # torch intra-op threads on CPU (0 = torch default)
    progress: bool = True
    # auto: a torchrun launch (WORLD_SIZE > 1 in the environment) trains with DDP; off: never.
    distributed: str = "auto"
    sync_bn: bool = False  # query encoders' batch norm over the global batch when distributed
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 adds a gradient scaler)
    channels_last: bool = False  # channels_last_3d memory format for networks and inputs
    compile: bool = False  # torch.compile the pathways
    accumulate: int = 1  # micro-batches of train.batch_size per optimiser step
    keep_checkpoints: int = 2  # numbered checkpoints kept in out_dir (0 = all)
    resume: str = "never"  # never | auto (latest checkpoint in out_dir) | PATH of a checkpoint


@dataclass
class PretrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "motion.source": ("on_the_fly", "store"),
    "motion.encoding": ("flow_edges", "dxdy", "magnitude"),
    "method.name": ("modist", "rgb_only", "motion_only", "supervised"),
    "method.momentum_schedule": ("constant", "cosine"),
    "method.cross_view": ("same", "other"),
    "method.key_bn": ("shuffle", "sync", "local"),
    "optim.name": ("adamw", "sgd", "lars"),
    "train.distributed": ("auto", "off"),
    "train.precision": ("fp32", "bf16", "fp16"),
    "optim.schedule": ("cosine", "constant"),
}

POSITIVE: tuple[str, ...] = (
    "data.clip_frames", "data.stride", "data.crop_size", "motion.flow_gap", "model.base_width",
    "model.embed_dim", "model.proj_hidden", "method.temperature", "method.queue_size",
    "method.shuffle_bn_groups", "optim.lr", "train.steps", "train.batch_size", "model.motion_width_divisor",
    "data.crop_aspect_max", "train.accumulate",
)
NON_NEGATIVE: tuple[str, ...] = ("optim.lr_reference_batch", "train.keep_checkpoints", "optim.lars_eta")


def _validate(cfg: DictConfig) -> None:
    for key, choices in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in choices:
            raise ConfigError(f"invalid value {value!r} for {key}; choose from {', '.join(choices)}")
    for key in POSITIVE:
        value = OmegaConf.select(cfg, key)
        if not value > 0:
            raise ConfigError(f"invalid value {value!r} for {key}; must be > 0")
    for key in NON_NEGATIVE:
        value = OmegaConf.select(cfg, key)
        if not value >= 0:
            raise ConfigError(f"invalid value {value!r} for {key}; must be >= 0")
    if cfg.data.crop_aspect_max < 1:
        raise ConfigError(f"invalid value {cfg.data.crop_aspect_max!r} for data.crop_aspect_max; must be >= 1")
    if not 0 < cfg.data.crop_scale_min <= 1:
        raise ConfigError(f"invalid value {cfg.data.crop_scale_min!r} for data.crop_scale_min; must be in (0, 1]")
    if not 0 <= cfg.method.momentum < 1:
        raise ConfigError(f"invalid value {cfg.method.momentum!r} for method.momentum; must be in [0, 1)")
    if cfg.motion.source == "store" and not cfg.motion.flow_store:
        raise ConfigError("motion.source=store needs motion.flow_store (made by `modist flow DATASET --out DIR`)")
    if cfg.data.min_clip_gap_sec > cfg.data.max_clip_gap_sec:
        raise ConfigError("data.min_clip_gap_sec must not exceed data.max_clip_gap_sec")


# Keys renamed so that one name has one meaning (frame cache vs flow store, flow estimator vs
# pretraining method, flow gap vs clip gap); recipes written before say what to write instead.
RENAMED_KEYS: dict[str, str] = {
    "data.cache_videos": "data.frame_cache",
    "data.min_gap_sec": "data.min_clip_gap_sec",
    "data.max_gap_sec": "data.max_clip_gap_sec",
    "motion.method": "motion.estimator",
    "motion.gap": "motion.flow_gap",
    "motion.cache_dir": "motion.flow_store",
}


def _describe(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", None)
    text = str(exc).splitlines()[0]
    if isinstance(exc, (ConfigKeyError, ConfigAttributeError)):
        if key in RENAMED_KEYS:
            return f"config key {key!r} was renamed to {RENAMED_KEYS[key]!r}"
        return f"unknown config key {key!r}" if key else text
    return f"invalid value for {key}: {text}" if key else text


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> PretrainConfig:
    """Defaults <- YAML file <- ``key=value`` overrides, validated; returns a typed config."""
    cfg = OmegaConf.structured(PretrainConfig)
    try:
        if path is not None:
            if not Path(path).is_file():
                raise ConfigError(f"{path}: config file not found")
            try:
                loaded = OmegaConf.load(path)
            except Exception as exc:  # yaml.YAMLError and friends
                raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
            cfg = OmegaConf.merge(cfg, loaded)
        for item in overrides or []:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form key=value")
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        raise ConfigError(_describe(exc)) from None
    _validate(cfg)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def to_yaml(cfg: PretrainConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def to_dict(cfg: PretrainConfig) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]
