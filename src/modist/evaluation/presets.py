"""Named evaluation protocols: every value a protocol uses and where it comes from.

An evaluation *task* (``finetune``, ``linear``, ``knn``, ``retrieval``) runs under a named
*protocol*, a preset of values:

* ``modist`` (the default of every task): modist's everyday protocols, sized for one machine
  (finetuning 30 epochs of batch 16; the linear probe on cached, standardised features).
* ``maclr`` (``finetune`` and ``linear``): the authors' release, amazon-science/self-supervised-maclr,
  value for value: ``finetune`` is its ``configs/UCF101/SLOW_32x8_R50.yaml``, ``linear`` its
  ``configs/UCF101/SLOW_32x8_R50_CLSONLY.yaml``, each over ``slowfast/config/defaults.py``.

Each value is a :class:`Setting`: the value, where it comes from (``release``, ``pyslowfast``
or ``ours``, with the file and key) and whether modist applies it. ``applied=False`` marks a
value recorded for comparison only, with the reason in its note (a release value that has no
effect there, or that modist does not reproduce). A value of ``None`` for ``clip_frames``,
``stride``, ``crop_size``, ``short_side`` or ``conv1_temporal_stride`` means the encoder's own
(its ``encoder.json``).

Dataset rules (:data:`DATASET_RULES`) replace a protocol's values where a dataset needs it:
SSv2 trains without horizontal flips and tests one view, as PySlowFast's SSv2 configs do.
Values given by the caller (the command line) win over both.

Example:
    >>> values = resolve("finetune", "maclr", dataset_kind="ucf101")
    >>> values["lr"].value, values["epochs"].value, values["expand_dataset"].value, values["flip"].value
    (0.01, 10, 20, True)
    >>> values["lr"].source
    'release: configs/UCF101/SLOW_32x8_R50.yaml SOLVER.BASE_LR'
    >>> resolve("finetune", "maclr", dataset_kind="ssv2")["flip"].value
    False
    >>> resolve("linear", "maclr", overrides={"epochs": 1})["epochs"].source
    'given'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modist.errors import ConfigError

TASKS = ("finetune", "linear", "knn", "retrieval")
DEFAULT = "modist"

RELEASE = "amazon-science/self-supervised-maclr"
FT_YAML = "configs/UCF101/SLOW_32x8_R50.yaml"
LIN_YAML = "configs/UCF101/SLOW_32x8_R50_CLSONLY.yaml"
DEFAULTS_PY = "slowfast/config/defaults.py"
SSV2_YAML = "configs/SSv2/SLOWFAST_16x8_R50.yaml"  # facebookresearch/SlowFast
SSV2_SSL_YAML = "configs/contrastive_ssl/finetune_SSv2_Slow_R50_syn0.yaml"  # facebookresearch/SlowFast

# Keys whose value None means "the encoder's own" (its encoder.json / run config).
ENCODER_KEYS = ("clip_frames", "stride", "crop_size", "short_side", "conv1_temporal_stride")


@dataclass(frozen=True)
class Setting:
    """One value of a protocol and where it comes from."""

    value: Any
    origin: str  # "release", "pyslowfast", "ours" or "given"
    where: str = ""  # file and key
    note: str = ""
    applied: bool = True  # False: recorded for comparison, not used by modist (the note says why)

    @property
    def source(self) -> str:
        parts = [p for p in (self.where, self.note) if p]
        return f"{self.origin}: {'; '.join(parts)}" if parts else self.origin


@dataclass(frozen=True)
class Protocol:
    task: str
    name: str
    summary: str
    settings: Mapping[str, Setting] = field(default_factory=dict)


def _ft(value: Any, key: str, note: str = "", applied: bool = True) -> Setting:
    return Setting(value, "release", f"{FT_YAML} {key}", note, applied)


def _lin(value: Any, key: str, note: str = "", applied: bool = True) -> Setting:
    return Setting(value, "release", f"{LIN_YAML} {key}", note, applied)


def _dflt(value: Any, key: str, note: str = "", applied: bool = True) -> Setting:
    return Setting(value, "release", f"{DEFAULTS_PY} {key}", note, applied)


def _code(value: Any, where: str, note: str = "", applied: bool = True) -> Setting:
    return Setting(value, "release", where, note, applied)


def _ours(value: Any, note: str = "") -> Setting:
    return Setting(value, "ours", "", note)


_ENCODER_OWN = {
    "clip_frames": _ours(None, "the encoder's own (encoder.json)"),
    "stride": _ours(None, "the encoder's own (encoder.json)"),
    "crop_size": _ours(None, "the encoder's own (encoder.json)"),
}

# What the two release configs share: clip, crops, views, optimiser family.
_MACLR_COMMON = {
    "clip_frames": _ft(32, "DATA.NUM_FRAMES"),
    "stride": _ft(8, "DATA.SAMPLING_RATE"),
    "target_fps": _dflt(30, "DATA.TARGET_FPS", "the release resamples every video to 30 fps before taking every "
                        "8th frame (slowfast/datasets/decoder.py); modist's stride counts the video's own frames: "
                        "the same on 30-fps video, 8 frames instead of 6.7 on 25-fps UCF101", applied=False),
    "crop_size": _ft(224, "DATA.TRAIN_CROP_SIZE"),
    "test_crop_size": _ft(256, "DATA.TEST_CROP_SIZE", "test frames scaled to a short side of 256, then 256 x 256 "
                          "crops (slowfast/datasets/utils.py spatial_sampling)"),
    "short_side": _code(0, "slowfast/datasets/decoder.py pyav_decode", "training frames are decoded at the "
                        "video's own size (the PyAV decoder does not resize); 0: no resize"),
    "conv1_temporal_stride": _ft(2, "RESNET.CONV1_TEMPORAL_STRIDE", "32 frames reach res2 as 16 time steps; the "
                                 "checkpoint's weights are rebuilt at this stride"),
    "train_jitter_scales": _ft((256, 340), "DATA.TRAIN_JITTER_SCALES", "no effect there: with "
                               "DATA.TRAIN_AUGMENTATION_STYLE CropResize the crop is cut from the decoded frame "
                               "(slowfast/datasets/utils.py spatial_sampling, spatial_idx -3)", applied=False),
    "augmentation_style": _ft("CropResize", "DATA.TRAIN_AUGMENTATION_STYLE", "a random area/aspect crop of the "
                              "decoded frame resized to crop_size: modist's random resized crop"),
    "crop_scale": _ft((0.3, 1.0), "DATA.TRAIN_JITTER_AREAS"),
    "crop_ratio": _ft((0.5, 2.0), "DATA.TRAIN_JITTER_ASPECT_RATIOS"),
    "flip": _dflt(True, "DATA.RANDOM_FLIP"),
    "color_jitter": _dflt(0.4, "DATA.COLOR_JITTER.BRIGHTNESS/CONTRAST/SATURATION"),
    "optimizer": _ft("sgd", "SOLVER.OPTIMIZING_METHOD"),
    "schedule": _ft("pyslowfast", "SOLVER.LR_POLICY cosine", "lr = base_lr * (1 + cos(pi * e / epochs)) / 2 at "
                    "the fractional epoch e, set every step (slowfast/utils/lr_policy.py)"),
    "momentum": _ft(0.9, "SOLVER.MOMENTUM"),
    "nesterov": _dflt(True, "SOLVER.NESTEROV", "dampening 0.0 (SOLVER.DAMPENING)"),
    "fc_init_std": _dflt(0.01, "MODEL.FC_INIT_STD", "bias 0 (slowfast/utils/weight_init_helper.py)"),
    "temporal_views": _dflt(10, "TEST.NUM_ENSEMBLE_VIEWS"),
    "spatial_views": _dflt(3, "TEST.NUM_SPATIAL_CROPS"),
    "view_ensemble": _code("mean_softmax", "tools/test_net.py, DATA.ENSEMBLE_METHOD sum",
                           "the sum of the views' softmax: the same ranking as their mean"),
    "test_pooling": _code("windowed", "slowfast/models/head_helper.py ResNetBasicHead", "at 256 px the head "
                          "averages the softmax of 7 x 7-pooled windows of the 8 x 8 feature map; modist pools the "
                          "whole map, then classifies", applied=False),
}

PROTOCOLS: dict[tuple[str, str], Protocol] = {}


def _register(protocol: Protocol) -> None:
    PROTOCOLS[(protocol.task, protocol.name)] = protocol


_register(Protocol("finetune", "maclr", f"the release's UCF101 finetuning ({RELEASE} {FT_YAML})", {
    **_MACLR_COMMON,
    "color_jitter_prob": _ft(0.6, "DATA.COLOR_JITTER.PROB"),
    "grayscale_prob": _ft(0.5, "DATA.GRAYSCALE.PROB"),
    "epochs": _ft(10, "SOLVER.MAX_EPOCH"),
    "expand_dataset": _ft(20, "DATA.EXPAND_DATASET", "an epoch visits every video 20 times "
                          "(slowfast/datasets/kinetics.py __len__): 200 passes in all"),
    "batch_size": _ft(64, "TRAIN.BATCH_SIZE"),
    "bn_batch": _ft(8, "NUM_GPUS 8", "BN.NORM_TYPE batchnorm: each of 8 GPUs normalises over its own 64 / 8 clips; "
                    "one modist process normalises over the whole batch", applied=False),
    "lr": _ft(0.01, "SOLVER.BASE_LR"),
    "warmup_epochs": _ft(1.7, "SOLVER.WARMUP_EPOCHS"),
    "warmup_start_lr": _ft(0.001, "SOLVER.WARMUP_START_LR", "linear from 0.001 to the cosine's value at 1.7 epochs"),
    "weight_decay": _ft(1e-4, "SOLVER.WEIGHT_DECAY"),
    "bn_weight_decay": _dflt(0.0, "BN.WEIGHT_DECAY", "BatchNorm weights and biases (slowfast/models/optimizer.py)"),
    "dropout": _ft(0.5, "MODEL.DROPOUT_RATE"),
    "frozen_backbone": _dflt(False, "MODEL.CLS_ONLY"),
    "precise_bn_batches": _ft(200, "BN.USE_PRECISE_STATS True, BN.NUM_BATCHES_PRECISE", "BN statistics recomputed "
                              "over 200 augmented training batches before testing (tools/train_net.py, fvcore "
                              "update_bn_stats)"),
}))

_register(Protocol("linear", "maclr", f"the release's linear protocol, trained online ({RELEASE} {LIN_YAML})", {
    **{k: Setting(s.value, s.origin, s.where.replace(FT_YAML, LIN_YAML), s.note, s.applied)
       for k, s in _MACLR_COMMON.items()},
    "color_jitter_prob": _dflt(0.0, "DATA.COLOR_JITTER.PROB", "-1.0 there: off"),
    "grayscale_prob": _dflt(0.0, "DATA.GRAYSCALE.PROB", "-1.0 there: off"),
    "epochs": _lin(4, "SOLVER.MAX_EPOCH"),
    "expand_dataset": _lin(50, "DATA.EXPAND_DATASET", "an epoch visits every video 50 times: 200 passes in all"),
    "batch_size": _lin(256, "TRAIN.BATCH_SIZE"),
    "lr": _lin(32.0, "SOLVER.BASE_LR"),
    "warmup_epochs": _dflt(0.0, "SOLVER.WARMUP_EPOCHS", f"{LIN_YAML} has its warm-up lines commented out"),
    "warmup_start_lr": _dflt(0.01, "SOLVER.WARMUP_START_LR", "unused without warm-up"),
    "weight_decay": _lin(0.0, "SOLVER.WEIGHT_DECAY"),
    "dropout": _lin(0.0, "MODEL.DROPOUT_RATE"),
    "fc_init_std": _code(0.01, "slowfast/models/video_model_builder.py ResNet.__init__", "MODEL.CLS_ONLY "
                         "re-initialises the classifier: normal std 0.01, bias 0"),
    "feature_normalization": _lin("none", "MODEL.NORMALIZE_FEATURE False", "the classifier sees the raw pooled "
                                  "features"),
    "frozen_backbone": _lin(True, "MODEL.CLS_ONLY", "only the classifier's weight and bias train "
                            "(slowfast/models/optimizer.py)"),
    "backbone_bn": _code("eval", "tools/train_net.py train_epoch, ResNet.set_clsonly", "the frozen backbone "
                         "stays in eval mode: BN uses and keeps the checkpoint's statistics"),
    "training": _code("online", "tools/train_net.py train_epoch", "every step decodes and augments clips and "
                      "passes them through the frozen backbone"),
    "precise_bn_batches": _lin(0, "BN.USE_PRECISE_STATS False"),
}))

_register(Protocol("finetune", "modist", "modist's finetuning: the release's augmentation at a scale one "
                   "machine runs in minutes", {
    **_ENCODER_OWN,
    "test_crop_size": _ours(None, "the training crop size"),
    "short_side": _ours(None, "the encoder's own (the pretraining run's data.short_side)"),
    "conv1_temporal_stride": _ours(None, "the encoder's own (encoder.json)"),
    "crop_scale": _ft((0.3, 1.0), "DATA.TRAIN_JITTER_AREAS"),
    "crop_ratio": _ft((0.5, 2.0), "DATA.TRAIN_JITTER_ASPECT_RATIOS"),
    "flip": _dflt(True, "DATA.RANDOM_FLIP"),
    "color_jitter": _dflt(0.4, "DATA.COLOR_JITTER.BRIGHTNESS/CONTRAST/SATURATION"),
    "color_jitter_prob": _ft(0.6, "DATA.COLOR_JITTER.PROB"),
    "grayscale_prob": _ft(0.5, "DATA.GRAYSCALE.PROB"),
    "epochs": _ours(30, "short runs; scale up for real datasets"),
    "expand_dataset": _ours(1, "one pass over the videos per epoch"),
    "batch_size": _ours(16, "fits a CPU or a small GPU"),
    "optimizer": _ft("sgd", "SOLVER.OPTIMIZING_METHOD"),
    "lr": _ft(0.01, "SOLVER.BASE_LR", "at batch 16 here"),
    "schedule": _ours("modist", "per step: linear warm-up to lr, then half cosine to 0 (modist.schedules.lr_factor)"),
    "warmup_epochs": _ours(2.0),
    "warmup_start_lr": _ours(None, "warm-up starts at lr / warm-up steps"),
    "momentum": _ft(0.9, "SOLVER.MOMENTUM"),
    "nesterov": _ours(False, "PyTorch's SGD default"),
    "weight_decay": _ft(1e-4, "SOLVER.WEIGHT_DECAY"),
    "bn_weight_decay": _ours(None, "the same as weight_decay"),
    "dropout": _ft(0.5, "MODEL.DROPOUT_RATE"),
    "fc_init_std": _ours(None, "PyTorch's nn.Linear initialisation"),
    "frozen_backbone": _ours(False),
    "precise_bn_batches": _ours(0, "BN statistics as training leaves them"),
    "temporal_views": _dflt(10, "TEST.NUM_ENSEMBLE_VIEWS"),
    "spatial_views": _dflt(3, "TEST.NUM_SPATIAL_CROPS"),
    "view_ensemble": _ours("mean_softmax"),
}))

_register(Protocol("linear", "modist", "modist's linear probe on cached, standardised features", {
    **_ENCODER_OWN,
    "training": _ours("cached_features", "features of the test views computed once and cached; no augmentation"),
    "feature_normalization": _ours("standardise", "per-dimension mean and std of the training features"),
    "epochs": _ours(100),
    "batch_size": _ours(256, "as the release's linear batch"),
    "optimizer": _ours("adam", "one learning rate fits encoders of any feature scale"),
    "lr": _ours(0.01),
    "schedule": _ours("cosine", "per step, no warm-up"),
    "weight_decay": _lin(0.0, "SOLVER.WEIGHT_DECAY"),
    "average": _ours("probs", "train on every view, average the test views' softmax"),
    "temporal_views": _ours(10),
    "spatial_views": _ours(1, "the centre crop"),
}))

_register(Protocol("knn", "modist", "weighted cosine kNN (Wu et al. 2018) on view-averaged features", {
    **_ENCODER_OWN,
    "k": _ours(20, "Wu et al. 2018"),
    "temperature": _ours(0.07, "Wu et al. 2018"),
    "temporal_views": _ours(10),
    "spatial_views": _ours(1, "the centre crop"),
}))

_register(Protocol("retrieval", "modist", "Recall@k of test videos querying the training set (CoCLR)", {
    **_ENCODER_OWN,
    "ks": _ours((1, 5, 10, 20), "CoCLR, Xu et al. 2019"),
    "temporal_views": _ours(10),
    "spatial_views": _ours(1, "the centre crop"),
}))

_SSV2 = f"{SSV2_YAML} and {SSV2_SSL_YAML} (facebookresearch/SlowFast)"
DATASET_RULES: dict[str, dict[str, Setting]] = {
    "ssv2": {
        "flip": Setting(False, "pyslowfast", f"{_SSV2} DATA.RANDOM_FLIP False",
                        "SSv2 classes name directions (left, right)"),
        "temporal_views": Setting(1, "pyslowfast", f"{_SSV2} TEST.NUM_ENSEMBLE_VIEWS 1"),
        "spatial_views": Setting(1, "pyslowfast", f"{_SSV2} TEST.NUM_SPATIAL_CROPS 1"),
    },
    "synth": {
        "flip": _ours(False, "the synthetic classes are motion directions (left vs right)"),
    },
}

# Test splits where "test" is not the right default.
DEFAULT_TEST_SPLITS: dict[str, tuple[str, ...]] = {
    "synth": ("test_biased", "test_unbiased"),
    # The SSv2 test labels are not public; PySlowFast tests SSv2 on the validation list
    # (slowfast/datasets/ssv2.py reads something-something-v2-validation.json outside training).
    "ssv2": ("val",),
}


def names(task: str) -> tuple[str, ...]:
    """The protocol names of ``task``, the default first."""
    found = [n for t, n in PROTOCOLS if t == task]
    return tuple(sorted(found, key=lambda n: (n != DEFAULT, n)))


def get(task: str, name: str = DEFAULT) -> Protocol:
    if task not in TASKS:
        raise ConfigError(f"unknown evaluation task {task!r}; choose from {', '.join(TASKS)}")
    if (task, name) not in PROTOCOLS:
        raise ConfigError(f"{task}: unknown protocol {name!r}; choose from {', '.join(names(task))}")
    return PROTOCOLS[(task, name)]


def resolve(task: str, name: str = DEFAULT, *, dataset_kind: str | None = None,
            overrides: Mapping[str, Any] | None = None) -> dict[str, Setting]:
    """Protocol ``name`` of ``task``, then the dataset's rules, then ``overrides`` (None values ignored).

    An override of a key the protocol does not have is an error naming the key.
    """
    protocol = get(task, name)
    out = dict(protocol.settings)
    for key, rule in DATASET_RULES.get(dataset_kind or "", {}).items():
        if key in out:
            out[key] = rule
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in out:
            raise ConfigError(f"{task} protocol {name!r} has no setting {key!r}")
        out[key] = Setting(value, "given")
    return out


def values(settings: Mapping[str, Setting]) -> dict[str, Any]:
    """The applied values of resolved settings (what a run uses)."""
    return {k: s.value for k, s in settings.items() if s.applied}


def _plain(value: Any) -> Any:
    """JSON-shaped (tuples as lists), so a value compares equal to its round trip."""
    return json.loads(json.dumps(value))


def describe(task: str, name: str, used: Mapping[str, Any], *, dataset_kind: str | None = None,
             encoder: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON block naming protocol ``name`` of ``task`` and every value a run used.

    ``used`` holds the values the run used (keys it lacks are taken as the protocol's);
    ``encoder`` the encoder's own settings, which fill the protocol's "the encoder's own"
    values. A used value that differs from the protocol's (after the dataset's rules) is
    listed in ``overridden`` with the source ``given``.

    Example:
        >>> block = describe("knn", "modist", {"k": 5}, encoder={"clip_frames": 8})
        >>> block["name"], block["values"]["k"], block["values"]["clip_frames"], block["overridden"]
        ('modist', 5, 8, ['k'])
    """
    expected = resolve(task, name, dataset_kind=dataset_kind)
    encoder = encoder or {}
    out_values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    overridden: list[str] = []
    for key, setting in expected.items():
        default = setting.value
        if default is None and key in ENCODER_KEYS:
            default = encoder.get(key)
        if default is None and key == "test_crop_size":  # None: test at the training crop size
            default = used.get("crop_size", encoder.get("crop_size"))
        value = used.get(key) if setting.applied else None
        value = default if value is None else value
        source = setting.source
        if _plain(value) != _plain(default):
            overridden.append(key)
            source = f"given; the protocol's: {_plain(setting.value)} ({setting.source})"
        out_values[key] = _plain(value)
        sources[key] = source
    return {"task": task, "name": name, "summary": get(task, name).summary, "dataset_kind": dataset_kind,
            "values": out_values, "sources": sources, "overridden": overridden,
            "not_applied": [k for k, s in expected.items() if not s.applied]}
