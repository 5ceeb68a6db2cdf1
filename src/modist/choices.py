"""Every named choice of the pretraining configuration, defined once.

The config loader (:mod:`modist.config`) validates recipe values against these names
and the code that acts on a choice looks it up here, so a name cannot be accepted by
one and unknown to the other. Plain tuples and dicts rather than Enums: OmegaConf and
the rest of the code compare strings.

This module is a leaf: it imports nothing from modist (so the config, the flow
package and the methods can all import it without import cycles), and registries
name their implementations by import path instead of importing them, so reading
the choices never pulls in torch or OpenCV.

Adding a pretraining method is one class (with a ``build_*`` function) plus one
line in :data:`PRETRAINING_METHODS`; adding a flow estimator is one module plus one
line in :data:`FLOW_ESTIMATORS`; adding a backbone is one preset function plus one
line in :data:`BACKBONES`.

Example:
    >>> "modist" in PRETRAINING_METHODS and "dis" in FLOW_ESTIMATORS
    True
    >>> MOTION_ENCODINGS["dxdy"]  # channels the motion pathway sees
    2
    >>> BATCHED_FLOW_ESTIMATORS  # the estimators that run on a device
    ('torch_tvl1', 'raft')
"""

from __future__ import annotations

# method.name -> "module:function" that builds it from the config.
PRETRAINING_METHODS: dict[str, str] = {
    "modist": "modist.methods.motion_distill:build_motion_distill",
    "rgb_only": "modist.methods.motion_distill:build_motion_distill",
    "motion_only": "modist.methods.motion_distill:build_motion_distill",
    "supervised": "modist.methods.supervised:build_supervised",
}

# motion.estimator -> (module, single-pair function, batched function or None); the
# functions map uint8 RGB frames to float32 flow (see modist.flow.estimate).
FLOW_ESTIMATORS: dict[str, tuple[str, str, str | None]] = {
    "dis": ("modist.flow.opencv", "dis", None),
    "farneback": ("modist.flow.opencv", "farneback", None),
    "tvl1": ("modist.flow.opencv", "tvl1", None),
    "torch_tvl1": ("modist.flow.torch_tvl1", "estimate_pair", "estimate_batch"),
    "raft": ("modist.flow.raft", "estimate_pair", "estimate_batch"),
}

# The estimators with a batched function: they take a device (motion.flow_device=device, `modist prepare
# --device`); the others run on the CPU one pair at a time.
BATCHED_FLOW_ESTIMATORS: tuple[str, ...] = tuple(name for name, (_, _, batched) in FLOW_ESTIMATORS.items() if batched)

# motion.flow_device: on-the-fly flow in the loader processes, or in batches on the training device.
FLOW_DEVICES: tuple[str, ...] = ("loader", "device")

# motion.preset, meaningful for motion.estimator=dis only: OpenCV's DIS presets, fastest first.
DIS_PRESETS: tuple[str, ...] = ("ultrafast", "fast", "medium")

# motion.encoding -> channels of the encoded motion (formulas in modist.flow.encodings).
# frame_diff is no flow at all: the luma change to the flow partner (modist.data.frame_difference).
MOTION_ENCODINGS: dict[str, int] = {"flow_edges": 1, "dxdy": 2, "magnitude": 1, "frame_diff": 1}

# motion.flow_direction: the flow of frame t goes to frame t + flow_gap (forward) or t - flow_gap
# (backward, the authors' RAFT script: model(frame_t, frame_{t-5})); see modist.data.sampling.flow_partners.
FLOW_DIRECTIONS: tuple[str, ...] = ("forward", "backward")

# motion.source: flow estimated while training, read from a `modist flow --out DIR` store, the encoded
# motion input of a `modist prepare --config` copy (prepared), or prepared when data.dataset is such a
# copy and on the fly otherwise (auto); see modist.training.batches.resolve_motion_source.
MOTION_SOURCES: tuple[str, ...] = ("on_the_fly", "store", "prepared", "auto")

# method.key_bn: batch-norm statistics of the key encoders (modist.methods.collective).
KEY_BN_MODES: tuple[str, ...] = ("shuffle", "sync", "local")

# method.momentum_schedule: key-encoder momentum held constant, or raised to 1 on a cosine (BYOL).
MOMENTUM_SCHEDULES: tuple[str, ...] = ("constant", "cosine")

# method.cross_view: the cross-modal key comes from the query's own clip or the video's other clip.
CROSS_VIEWS: tuple[str, ...] = ("same", "other")

# data.video_backend: the video decoder (modist.data.backends); auto is torchcodec when it is
# installed, else pyav; nvdec is torchcodec decoding on the GPU, else pyav.
VIDEO_BACKENDS: tuple[str, ...] = ("pyav", "torchcodec", "auto", "nvdec")

# optim.name
OPTIMIZERS: tuple[str, ...] = ("adamw", "sgd", "lars")

# optim.schedule: learning rate after the warm-up.
LR_SCHEDULES: tuple[str, ...] = ("cosine", "constant")

# train.precision: autocast dtype of the forward passes (fp16 adds a gradient scaler).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")

# train.distributed: auto joins a process group under torchrun (WORLD_SIZE > 1); off never does.
DISTRIBUTED_MODES: tuple[str, ...] = ("auto", "off")

# train.logger: where every step's scalars go besides metrics.jsonl (rank 0 only); each but
# "none" needs an optional package: pip install "modist[tensorboard]" or "modist[wandb]".
TRAIN_LOGGERS: tuple[str, ...] = ("none", "tensorboard", "wandb")

# model.arch and model.motion_arch -> "module:function" of the preset that builds the backbone.
BACKBONES: dict[str, str] = {
    "r3d_tiny": "modist.models.resnet3d:r3d_tiny",
    "r3d_18": "modist.models.resnet3d:r3d_18",
    "r2plus1d_18": "modist.models.resnet3d:r2plus1d_18",
    "slow_r50": "modist.models.resnet3d:slow_r50",
    "slow_r50_modist": "modist.models.resnet3d:slow_r50_modist",
    "slow_r50_t1": "modist.models.resnet3d:slow_r50_t1",
}
