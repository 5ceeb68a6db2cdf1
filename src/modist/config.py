"""Pretraining configuration: typed dataclasses, YAML recipes and ``key=value`` overrides.

OmegaConf validates every key and value against the dataclasses, so a typo in a
YAML file or on the command line fails with the offending key named. Named choices
(methods, flow estimators, encodings, ...) are checked against :mod:`modist.choices`
when the config loads, not when a run first uses them.

A recipe may build on another with a top-level ``base:`` (a shipped recipe name or a
``.yaml`` path relative to the recipe's folder): the base is merged first, then the
recipe. Several recipes merge in order, then the overrides.

Example:
    >>> cfg = load_config(None, ["method.name=rgb_only", "train.steps=10"])
    >>> cfg.method.name, cfg.train.steps
    ('rgb_only', 10)
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from modist import choices
from modist.configs import recipe_path
from modist.errors import ConfigError


@dataclass
class DataConfig:
    """Which videos, how clips are sampled from them and how the views are augmented."""

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
    # Training samples (clip pairs) drawn from one decoded video per dataset item (PySlowFast's
    # multi-clip setting); train.batch_size still counts samples, so it must be a multiple.
    clips_per_video: int = 1
    # Video decoder: pyav (default), torchcodec, auto, or nvdec (GPU decode through torchcodec;
    # falls back to pyav with a one-line reason when unavailable). See modist.data.backends.
    video_backend: str = "pyav"


@dataclass
class MotionConfig:
    """Where the motion pathway's input comes from: flow estimation and its encoding."""

    source: str = "on_the_fly"  # see modist.choices.MOTION_SOURCES
    estimator: str = "dis"  # see modist.choices.FLOW_ESTIMATORS
    # See modist.choices.DIS_PRESETS (dis only); "fast" is 2-3x quicker at ~15% higher EPE (docs/flow.md).
    preset: str = "medium"
    flow_gap: int = 1  # frames between the two frames of a flow pair (the authors used 5)
    # forward: frame t's flow goes to frame t + flow_gap; backward: to t - flow_gap, clamped to the first
    # frame (the authors' fanyix/RAFT misc.py). See modist.choices.FLOW_DIRECTIONS.
    flow_direction: str = "forward"
    # The motion clip of each RGB clip: clip_frames frames every stride frames from the RGB clip's start
    # frame (0 = data.clip_frames / data.stride). The release samples them separately: 16 x 4 flow frames
    # beside 8 x 8 RGB frames (slowfast/config/defaults.py of amazon-science/self-supervised-maclr).
    clip_frames: int = 0
    stride: int = 0
    encoding: str = "flow_edges"  # see modist.choices.MOTION_ENCODINGS
    max_flow: float = 20.0
    edge_max: float = 10.0
    flow_store: str = ""  # folder written by `modist flow DATASET --out DIR` (motion.source=store)
    # Where on-the-fly flow runs: "loader" (CPU workers) or "device" (the training process, in
    # batches on the training device; needs a batched estimator: torch_tvl1 or raft).
    flow_device: str = "loader"


@dataclass
class ModelConfig:
    """Backbones of the visual and motion pathways and their projection heads."""

    arch: str = "r3d_tiny"
    base_width: int = 16
    motion_arch: str = ""  # empty: same as arch
    motion_width_divisor: float = 4.0
    proj_hidden: int = 256
    embed_dim: int = 128
    head_bn: bool = False  # batch norm in the projection heads' hidden layer (the release has none)
    # Temporal stride of conv1 in both pathways, as the release's RESNET.CONV1_TEMPORAL_STRIDE (default 1;
    # its UCF101 finetune of 32-frame clips uses 2). Not a weight: it is recorded in encoder.json.
    conv1_temporal_stride: int = 1


@dataclass
class MethodConfig:
    """The pretraining method, its loss weights and its queues and momentum encoders."""

    name: str = "modist"  # see modist.choices.PRETRAINING_METHODS
    # Loss weights; None takes the method's preset (see modist.methods.motion_distill.PRESET_WEIGHTS).
    weight_vv: float | None = None
    weight_mm: float | None = None
    weight_vm: float | None = None
    weight_mv: float | None = None
    temperature: float = 0.1
    queue_size: int = 65536
    momentum: float = 0.999
    momentum_schedule: str = "constant"  # see modist.choices.MOMENTUM_SCHEDULES
    cross_view: str = "same"  # see modist.choices.CROSS_VIEWS
    shuffle_bn_groups: int = 2  # key encoders see the batch in shuffled groups (MoCo shuffle-BN)
    key_bn: str = "shuffle"  # see modist.choices.KEY_BN_MODES


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule."""

    name: str = "adamw"  # see modist.choices.OPTIMIZERS
    lr: float = 1e-3
    # When > 0 the rate is lr * global batch / lr_reference_batch (linear scaling, Goyal et al.).
    lr_reference_batch: int = 0
    lars_eta: float = 0.001  # LARS trust coefficient
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_steps: int = 0
    schedule: str = "cosine"  # see modist.choices.LR_SCHEDULES


@dataclass
class TrainConfig:
    """Length, batch, device, precision, processes, logging and checkpoints of a run."""

    steps: int = 1000
    batch_size: int = 32
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0
    out_dir: str = "runs/pretrain"
    log_every: int = 10
    checkpoint_every: int = 0  # steps; 0 = only at the end
    threads: int = 0  # torch intra-op threads on CPU (0 = torch default)
    progress: bool = True
    distributed: str = "auto"  # see modist.choices.DISTRIBUTED_MODES
    sync_bn: bool = False  # query encoders' batch norm over the global batch when distributed
    precision: str = "fp32"  # see modist.choices.PRECISIONS
    channels_last: bool = False  # channels_last_3d memory format for networks and inputs
    compile: bool = False  # torch.compile the pathways
    accumulate: int = 1  # micro-batches of train.batch_size per optimiser step
    keep_checkpoints: int = 2  # numbered checkpoints kept in out_dir (0 = all)
    resume: str = "never"  # never | auto (latest checkpoint in out_dir) | PATH of a checkpoint
    overwrite: bool = False  # a fresh run may replace another run found in out_dir
    # Every step's scalars also go to TensorBoard (RUN/tensorboard) or Weights & Biases (offline unless
    # WANDB_MODE says otherwise); see modist.choices.TRAIN_LOGGERS. metrics.jsonl is written either way.
    logger: str = "none"


@dataclass
class PretrainConfig:
    """Everything one pretraining run needs; ``config.yaml`` of a run is this, resolved."""

    data: DataConfig = field(default_factory=DataConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# Config key -> the values it accepts, each list taken from modist.choices.
# The registries themselves (not copies of their keys), so a registered name is valid at once.
CHOICES: dict[str, Collection[str]] = {
    "motion.source": choices.MOTION_SOURCES,
    "motion.estimator": choices.FLOW_ESTIMATORS,
    "motion.encoding": choices.MOTION_ENCODINGS,
    "motion.flow_direction": choices.FLOW_DIRECTIONS,
    "method.name": choices.PRETRAINING_METHODS,
    "method.momentum_schedule": choices.MOMENTUM_SCHEDULES,
    "method.cross_view": choices.CROSS_VIEWS,
    "method.key_bn": choices.KEY_BN_MODES,
    "optim.name": choices.OPTIMIZERS,
    "train.distributed": choices.DISTRIBUTED_MODES,
    "train.precision": choices.PRECISIONS,
    "optim.schedule": choices.LR_SCHEDULES,
    "model.arch": choices.BACKBONES,
    "train.logger": choices.TRAIN_LOGGERS,
    "data.video_backend": choices.VIDEO_BACKENDS,
    "motion.flow_device": choices.FLOW_DEVICES,
}

# One line of help per key: what `modist config keys` prints beside the type and default.
KEY_HELP: dict[str, str] = {
    "data.dataset": "the videos: kind:ROOT (folder, manifest, synth, kinetics, ucf101, hmdb51, ssv2) or a bare path",
    "data.split": "split of the dataset to train on",
    "data.fold": "official split fold (UCF101, HMDB51)",
    "data.clip_frames": "frames per RGB clip",
    "data.stride": "source frames between consecutive clip frames",
    "data.min_clip_gap_sec": "least time between the starts of a video's two positive clips",
    "data.max_clip_gap_sec": "most time between the starts of a video's two positive clips",
    "data.short_side": "decode frames at this short side before cropping (0: as decoded)",
    "data.crop_size": "side of the square random-resized crop the networks see",
    "data.crop_scale_min": "smallest crop area as a fraction of the frame",
    "data.crop_aspect_max": "crop aspect ratios are drawn from [1 / this, this]",
    "data.flip": "random horizontal flips (frames and flow together)",
    "data.color_jitter": "strength of brightness/contrast/saturation jitter (0: off)",
    "data.grayscale_prob": "probability of a grayscale clip",
    "data.blur_prob": "probability of a Gaussian-blurred clip",
    "data.frame_cache": "decoded videos kept in memory per loader process (0: seek and decode each time)",
    "data.num_workers": "loader processes per training process",
    "data.clips_per_video": "training samples drawn from one read of a video",
    "data.video_backend": "video decoder: pyav, torchcodec, auto or nvdec",
    "motion.source": "motion input: on_the_fly, store (modist flow), prepared (modist prepare --config) or auto",
    "motion.estimator": "optical flow estimator",
    "motion.preset": "DIS preset (dis only): ultrafast, fast or medium",
    "motion.flow_gap": "frames between the two frames of a flow pair",
    "motion.flow_direction": "forward: flow from t to t + gap; backward: from t to t - gap (the release)",
    "motion.clip_frames": "frames per motion clip (0: the RGB clip's)",
    "motion.stride": "source frames between motion clip frames (0: the RGB clip's)",
    "motion.encoding": "what the motion pathway sees: flow_edges, dxdy, magnitude or frame_diff (no flow)",
    "motion.max_flow": "clip for the dxdy and magnitude encodings, in pixels",
    "motion.edge_max": "clamp of the flow edges (the release: 10)",
    "motion.flow_store": "folder written by modist flow (motion.source=store)",
    "motion.flow_device": "where on-the-fly flow runs: loader (CPU workers) or device (batched)",
    "model.arch": "backbone of the visual pathway",
    "model.base_width": "channels of the backbone's first stage",
    "model.motion_arch": "backbone of the motion pathway (empty: model.arch)",
    "model.motion_width_divisor": "the motion pathway's widths are the visual one's divided by this",
    "model.proj_hidden": "hidden width of the projection heads",
    "model.embed_dim": "width of the contrastive embeddings",
    "model.head_bn": "batch norm in the projection heads' hidden layer",
    "model.conv1_temporal_stride": "temporal stride of the stem convolution",
    "method.name": "pretraining method",
    "method.weight_vv": "weight of visual query vs visual key (empty: the method's preset)",
    "method.weight_mm": "weight of motion query vs motion key (empty: the method's preset)",
    "method.weight_vm": "weight of visual query vs motion key (empty: the method's preset)",
    "method.weight_mv": "weight of motion query vs visual key (empty: the method's preset)",
    "method.temperature": "InfoNCE temperature",
    "method.queue_size": "negative keys kept per pathway",
    "method.momentum": "EMA coefficient of the key encoders",
    "method.momentum_schedule": "constant, or cosine towards 1 (BYOL)",
    "method.cross_view": "cross-modal key from the query's own clip (same) or the video's other clip",
    "method.shuffle_bn_groups": "groups of MoCo's shuffle-BN within one process",
    "method.key_bn": "where the key encoders' batch statistics come from",
    "optim.name": "optimiser",
    "optim.lr": "peak learning rate (per optim.lr_reference_batch clips when that is set)",
    "optim.lr_reference_batch": "scale optim.lr linearly with the global batch over this (0: no scaling)",
    "optim.lars_eta": "LARS trust coefficient",
    "optim.weight_decay": "weight decay",
    "optim.momentum": "SGD/LARS momentum",
    "optim.warmup_steps": "steps of linear warm-up",
    "optim.schedule": "learning rate after the warm-up",
    "train.steps": "optimiser steps of the run",
    "train.batch_size": "samples per micro-batch per process",
    "train.device": "auto, cpu, cuda, cuda:N or mps",
    "train.seed": "seed of initialisation, sampling and augmentation",
    "train.out_dir": "the run folder",
    "train.log_every": "steps between metrics.jsonl records",
    "train.checkpoint_every": "steps between checkpoints (0: only at the end)",
    "train.threads": "torch CPU threads (0: torch's default)",
    "train.progress": "show a progress bar",
    "train.distributed": "auto joins a torchrun process group; off never does",
    "train.sync_bn": "query encoders' batch norm over the global batch",
    "train.precision": "autocast dtype of the forward passes",
    "train.channels_last": "channels_last_3d memory format",
    "train.compile": "torch.compile the pathways",
    "train.accumulate": "micro-batches per optimiser step",
    "train.keep_checkpoints": "numbered checkpoints kept (0: all)",
    "train.resume": "never, auto (the latest checkpoint in out_dir) or a checkpoint path",
    "train.overwrite": "a fresh run may replace another run in out_dir",
    "train.logger": "also log scalars to none, tensorboard or wandb",
}

POSITIVE: tuple[str, ...] = (
    "data.clip_frames", "data.stride", "data.crop_size", "motion.flow_gap", "model.base_width",
    "model.embed_dim", "model.proj_hidden", "method.temperature", "method.queue_size",
    "method.shuffle_bn_groups", "optim.lr", "train.steps", "train.batch_size", "model.motion_width_divisor",
    "data.crop_aspect_max", "train.accumulate", "model.conv1_temporal_stride",
)
NON_NEGATIVE: tuple[str, ...] = ("optim.lr_reference_batch", "train.keep_checkpoints", "optim.lars_eta",
                                 "motion.clip_frames", "motion.stride")


def _check_choice(cfg: DictConfig, key: str, allowed: Collection[str]) -> None:
    value = OmegaConf.select(cfg, key)
    if value not in allowed:
        close = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"invalid value {value!r} for {key}; choose from {', '.join(allowed)}{hint}")


def _validate(cfg: DictConfig) -> None:
    for key, allowed in CHOICES.items():
        _check_choice(cfg, key, allowed)
    # Other estimators take no preset, so a leftover DIS preset there is harmless.
    if cfg.motion.estimator == "dis":
        _check_choice(cfg, "motion.preset", choices.DIS_PRESETS)
    if cfg.model.motion_arch:  # empty: the visual pathway's arch
        _check_choice(cfg, "model.motion_arch", choices.BACKBONES)
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
    if cfg.motion.flow_device == "device" and cfg.motion.estimator not in choices.BATCHED_FLOW_ESTIMATORS:
        raise ConfigError("motion.flow_device=device needs a batched estimator "
                          f"(motion.estimator={' or '.join(choices.BATCHED_FLOW_ESTIMATORS)})")
    if cfg.data.clips_per_video < 1 or cfg.train.batch_size % cfg.data.clips_per_video:
        raise ConfigError(f"data.clips_per_video={cfg.data.clips_per_video} must be >= 1 and divide "
                          f"train.batch_size={cfg.train.batch_size}")
    if cfg.motion.encoding == "frame_diff" and (cfg.motion.source in ("store", "prepared")
                                                or cfg.motion.flow_device == "device"):
        raise ConfigError("motion.encoding=frame_diff is computed from decoded frames in the loader: it needs "
                          "motion.source on_the_fly or auto and motion.flow_device=loader")
    if cfg.motion.source == "store" and not cfg.motion.flow_store:
        raise ConfigError("motion.source=store needs motion.flow_store (made by `modist flow`)")
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


def _all_keys() -> list[str]:
    """Every dotted key of :class:`PretrainConfig` (``data.dataset``, ...)."""
    return [f"{outer.name}.{inner.name}" for outer in fields(PretrainConfig)
            for inner in fields(outer.default_factory())]


def _describe(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", None)
    text = str(exc).splitlines()[0]
    if isinstance(exc, (ConfigKeyError, ConfigAttributeError)):
        if key in RENAMED_KEYS:
            return f"config key {key!r} was renamed to {RENAMED_KEYS[key]!r}"
        if not key:
            return text
        close = difflib.get_close_matches(key, _all_keys(), n=1, cutoff=0.75)
        return f"unknown config key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    return f"invalid value for {key}: {text}" if key else text


def _read_recipe(path: Path) -> DictConfig:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        loaded = OmegaConf.load(path)
    except Exception as exc:  # yaml.YAMLError and friends
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"{path}: expected a mapping of config sections (data:, motion:, ...), got a list")
    return loaded


def _recipe_chain(path: Path, asked_by: tuple[Path, ...] = ()) -> list[tuple[Path, DictConfig]]:
    """``path`` and its bases as ``(file, contents without base)``, the deepest base first."""
    if path.resolve() in {p.resolve() for p in asked_by}:
        cycle = " -> ".join(str(p) for p in (*asked_by, path))
        raise ConfigError(f"recipe bases form a cycle: {cycle}")
    loaded = _read_recipe(path)
    if "base" not in loaded:
        return [(path, loaded)]
    base = loaded.pop("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be a shipped recipe name or a .yaml path, got {base!r}")
    try:
        base_path = recipe_path(base, path.parent)
    except ConfigError as exc:  # an unknown shipped name
        raise ConfigError(f"{path}: base {base!r}: {exc}") from None
    if not base_path.is_file():
        raise ConfigError(f"{path}: base {base!r} not found (looked for {base_path})")
    return [*_recipe_chain(base_path, (*asked_by, path)), (path, loaded)]


def load_config(
    paths: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    overrides: Sequence[str] | None = None,
) -> PretrainConfig:
    """Defaults <- recipe files in order <- ``key=value`` overrides, validated.

    Args:
        paths: one YAML recipe file, several (later files win), or None for the defaults
            alone. A recipe with ``base:`` brings its base (and the base's base ...) with it,
            merged just before the recipe itself.
        overrides: dotted ``key=value`` strings, applied after every file.

    Returns:
        The typed, validated config.

    Raises:
        ConfigError: a missing or malformed file, an unknown key (naming its new name
            when it was renamed), a base cycle or an invalid value; one line naming the
            file or key.
    """
    if paths is None:
        files: list[Path] = []
    elif isinstance(paths, (str, os.PathLike)):
        files = [Path(paths)]
    else:
        files = [Path(p) for p in paths]
    cfg = OmegaConf.structured(PretrainConfig)
    for file in files:
        for source, loaded in _recipe_chain(file):
            try:
                cfg = OmegaConf.merge(cfg, loaded)
            except OmegaConfBaseException as exc:
                raise ConfigError(f"{source}: {_describe(exc)}") from None
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
    try:
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        raise ConfigError(_describe(exc)) from None
    # YAML reads a bare `off` as the boolean false, which the string field then holds as "False".
    if cfg.train.distributed == "False":
        cfg.train.distributed = "off"
    _validate(cfg)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def load_run_config(path: str | os.PathLike) -> PretrainConfig:
    """The ``config.yaml`` a run wrote, from this version or an earlier one.

    A user's recipe with a renamed key is an error that names the new key; a run's own
    record is translated instead, so older runs stay evaluable.

    Example:
        >>> import tempfile
        >>> old = Path(tempfile.mkdtemp()) / "config.yaml"
        >>> _ = old.write_text("motion:\\n  gap: 3\\n  source: cache\\n  cache_dir: flow\\n")
        >>> m = load_run_config(old).motion
        >>> m.flow_gap, m.source, m.flow_store
        (3, 'store', 'flow')
    """
    return _run_config(_read_recipe(Path(path)), str(path))


def run_config_from_dict(saved: Mapping[str, Any], source: str) -> PretrainConfig:
    """A run's config as a training checkpoint holds it (plain dicts), read as :func:`load_run_config` reads YAML.

    ``source`` names it in errors (one line, as for a file). Example:
        >>> run_config_from_dict({"motion": {"gap": 3}, "train": {"steps": 7}}, "ckpt.pt").motion.flow_gap
        3
        >>> run_config_from_dict({"train": {"steps": 0}}, "ckpt.pt")
        Traceback (most recent call last):
        modist.errors.ConfigError: invalid value 0 for train.steps; must be > 0
    """
    if not isinstance(saved, Mapping):
        raise ConfigError(f"{source}: expected a mapping of config sections (data:, motion:, ...), "
                          f"got a {type(saved).__name__}")
    try:
        loaded = OmegaConf.create(dict(saved))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None
    return _run_config(loaded, source)


def _run_config(loaded: DictConfig, source: str) -> PretrainConfig:
    for old, new in RENAMED_KEYS.items():
        value = OmegaConf.select(loaded, old, default=None)
        if value is None:
            continue
        section, old_name = old.split(".")
        del loaded[section][old_name]
        OmegaConf.update(loaded, new, value, force_add=True)
    if OmegaConf.select(loaded, "motion.source", default=None) == "cache":  # renamed value
        loaded.motion.source = "store"
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(PretrainConfig), loaded)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None
    _validate(cfg)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def to_yaml(cfg: PretrainConfig) -> str:
    """``cfg`` as YAML that :func:`load_config` reads back into an equal config (no ``base:``)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def to_dict(cfg: PretrainConfig) -> dict[str, Any]:
    """``cfg`` as nested plain dicts, one per section."""
    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]
