"""Backbone weights in other tools' layouts: PySlowFast, pytorchvideo and mmaction2.

Import maps every tensor of a source state dict onto a modist preset (``slow_r50``,
``slow_r50_modist``, ``slow_r50_t1`` at any width, ``r3d_18`` from mmaction2) and checks it:
a missing, unexpected or mis-shaped tensor is an error naming the first offending key.
Tensors outside the backbone (classifier and projection heads, a momentum encoder, queues,
the other pathway of a two-pathway file) are returned by name in :attr:`Conversion.ignored`.
Export writes a modist encoder back in the PySlowFast or pytorchvideo layout.

Weights carry no strides, so an import also records how the network is to be run: conv1's
temporal stride (in the :class:`EncoderSpec`) and the evaluation clip (frames, stride, crop).
For the MaCLR release (:func:`release_input`) these default to what its own configs use; for
anything else to 8x8 frames at 224 px with stride 1 (our choice: the model zoos' Slow-R50 8x8).
A motion pathway whose stem takes 3 identical channels (the release replicates flow edges) is
imported as a 1-channel stem by summing conv1's weight over its input channels: for an input
``x`` repeated 3 times, ``sum_c W[:, c] * x == (sum_c W[:, c]) * x``, so the outputs are equal.

Reading never unpickles unless asked: pickled files (``.pyth``, ``.pth``) are opened weights-only
(:func:`modist.serialization.load_torch_file`); ``trust_pickle=True`` is the explicit way past a refusal.

Example:
    >>> from modist.models.resnet3d import build_backbone
    >>> net = build_backbone("slow_r50", width_divisor=8)
    >>> names = source_names("pytorchvideo", net.state_dict())
    >>> names["stem.0.weight"], names["stages.0.0.body.0.weight"]
    ('blocks.0.conv.weight', 'blocks.1.res_blocks.0.branch2.conv_a.weight')
    >>> source_names("pyslowfast", net.state_dict(), pathway=1)["stages.3.2.body.7.bias"]
    's5.pathway1_res2.branch2.c_bn.bias'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from modist.atomic import atomic_path, write_text
from modist.errors import ConfigError, DataError
from modist.models.encoder_io import WEIGHTS, EncoderSpec, save_encoder
from modist.models.resnet3d import MODIST_RELEASE_KERNELS, SLOW_ONLY_KERNELS, TEMPORAL_1_KERNELS
from modist.models.run_files import CONFIG, read_encoder
from modist.serialization import PickleRefused, load_torch_file

IMPORT_FORMATS = ("pyslowfast", "pytorchvideo", "mmaction2")
EXPORT_FORMATS = ("pyslowfast", "pytorchvideo")

# Temporal kernels (conv1, res2..res5) of a bottleneck [3,4,6,3] file -> the modist preset.
SLOW_PRESETS = {SLOW_ONLY_KERNELS: "slow_r50", MODIST_RELEASE_KERNELS: "slow_r50_modist",
                TEMPORAL_1_KERNELS: "slow_r50_t1"}

# Role of each index inside a modist block: body (bottleneck / basic) and shortcut.
_BOTTLENECK_BODY = {0: "conv_a", 1: "bn_a", 3: "conv_b", 4: "bn_b", 6: "conv_c", 7: "bn_c"}
_BASIC_BODY = {0: "conv_a", 1: "bn_a", 3: "conv_b", 4: "bn_b"}
_SHORTCUT = {0: "conv_sc", 1: "bn_sc"}

# Per format: stem conv / BN module, block prefix and the module of each role in a block.
_LAYOUTS: dict[str, dict[str, Any]] = {
    "pyslowfast": {
        "stem": ("s1.pathway{p}_stem.conv", "s1.pathway{p}_stem.bn"),
        "block": "s{stage2}.pathway{p}_res{b}",
        "roles": {"conv_a": "branch2.a", "bn_a": "branch2.a_bn", "conv_b": "branch2.b", "bn_b": "branch2.b_bn",
                  "conv_c": "branch2.c", "bn_c": "branch2.c_bn", "conv_sc": "branch1", "bn_sc": "branch1_bn"},
        "prefixes": ("", "module.", "encoder_q.", "module.encoder_q.", "encoder_q.backbone.", "backbone."),
        # The classifier/projection heads, the MoCo key encoder and its queues.
        "ignore": (r"(^|\.)head[^.]*\.", r"^(module\.)?encoder_k\.", r"queue", r"^(module\.)?(encoder_q\.)?(mlp|proj)"),
        "bottleneck_only": True,
    },
    "pytorchvideo": {
        "stem": ("blocks.0.conv", "blocks.0.norm"),
        "block": "blocks.{stage1}.res_blocks.{b}",
        "roles": {"conv_a": "branch2.conv_a", "bn_a": "branch2.norm_a", "conv_b": "branch2.conv_b",
                  "bn_b": "branch2.norm_b", "conv_c": "branch2.conv_c", "bn_c": "branch2.norm_c",
                  "conv_sc": "branch1_conv", "bn_sc": "branch1_norm"},
        "prefixes": ("", "module.", "model.", "module.model."),
        "ignore": (r"^(module\.)?(model\.)?blocks\.5\.",),  # ResNetBasicHead (proj)
        "bottleneck_only": True,
    },
    "mmaction2": {
        "stem": ("conv1.conv", "conv1.bn"),
        "block": "layer{stage1}.{b}",
        "roles": {"conv_a": "conv1.conv", "bn_a": "conv1.bn", "conv_b": "conv2.conv", "bn_b": "conv2.bn",
                  "conv_c": "conv3.conv", "bn_c": "conv3.bn", "conv_sc": "downsample.conv", "bn_sc": "downsample.bn"},
        "prefixes": ("backbone.", "", "module.backbone.", "module."),
        "ignore": (r"^(module\.)?cls_head\.", r"^(module\.)?(neck|data_preprocessor)\."),
        "bottleneck_only": False,
    },
}
_STATE_KEYS = ("model_state", "state_dict", "model_state_dict", "model")
_BLOCK_KEY = re.compile(r"^stages\.(\d+)\.(\d+)\.(body|shortcut)\.(\d+)\.(\w+)$")
_STEM_KEY = re.compile(r"^stem\.([01])\.(\w+)$")


@dataclass(frozen=True)
class EvalInput:
    """How an imported encoder is run: clip frames and frame stride, crop size, conv1 temporal stride."""

    clip_frames: int = 8
    stride: int = 8
    crop_size: int = 224
    conv1_temporal_stride: int = 1
    source: str = "modist's default for imported encoders (ours: Slow-R50 8x8 at 224 px, as the model zoos)"


# The MaCLR release (amazon-science/self-supervised-maclr). Its UCF101 finetune and linear configs
# (configs/UCF101/SLOW_32x8_R50.yaml, SLOW_32x8_R50_CLSONLY.yaml) run the visual pathway on 32 frames
# at sampling rate 8 with RESNET.CONV1_TEMPORAL_STRIDE 2, 224 px training crops. Its motion pathway
# was pretrained on DATA.FLOW_NUM_FRAMES 16 x FLOW_SAMPLING_RATE 4 with the default conv1 stride 1
# (slowfast/config/defaults.py), the stride DualNet gives both pathways (video_model_builder.py).
MACLR_VISUAL_INPUT = EvalInput(32, 8, 224, 2, "the release finetunes and probes this network on UCF101 "
                               "(configs/UCF101/SLOW_32x8_R50.yaml: DATA.NUM_FRAMES 32, SAMPLING_RATE 8, "
                               "TRAIN_CROP_SIZE 224, RESNET.CONV1_TEMPORAL_STRIDE 2)")
MACLR_MOTION_INPUT = EvalInput(16, 4, 224, 1, "the release pretrains this motion pathway "
                               "(slowfast/config/defaults.py: DATA.FLOW_NUM_FRAMES 16, FLOW_SAMPLING_RATE 4, "
                               "RESNET.CONV1_TEMPORAL_STRIDE 1)")
# The release's flow-edge preprocessing (fanyix/RAFT misc.py): flow from frame t to frame t-5,
# Sobel magnitude clamped to 10, scaled to [0, 1] by FLOW_STD 1 after /255; written as config.yaml.
MACLR_MOTION_CONFIG = {"encoding": "flow_edges", "flow_gap": 5, "flow_direction": "backward", "edge_max": 10.0}


def release_input(fmt: str, spec: EncoderSpec) -> EvalInput | None:
    """The MaCLR release's own input for an encoder of its layout, or None for any other network.

    The release is the only PySlowFast layout with conv1 temporal kernel 5 (``dense_slow``,
    ``video_flow`` pathway0); its motion pathway is the width/8 ``slow_r50_t1`` beside it.

    Example:
        >>> release_input("pyslowfast", EncoderSpec("slow_r50_modist", 3, 1.0, 64)).clip_frames
        32
        >>> release_input("pytorchvideo", EncoderSpec("slow_r50", 3, 1.0, 64)) is None
        True
    """
    if fmt != "pyslowfast" or spec.base_width != 64:
        return None
    if spec.arch == "slow_r50_modist" and spec.width_divisor == 1 and spec.modality == "rgb":
        return MACLR_VISUAL_INPUT
    if spec.arch == "slow_r50_t1" and spec.width_divisor == 8 and spec.modality == "motion":
        return MACLR_MOTION_INPUT
    return None


@dataclass
class Conversion:
    """What an import produced: the encoder, its spec, and how the source's tensors were used."""

    encoder: torch.nn.Module
    spec: EncoderSpec
    used: int
    ignored: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)  # modist buffers the file lacks (BN batch counters)
    prefix: str = ""
    notes: list[str] = field(default_factory=list)
    # Stem input channels (file, encoder) when they were collapsed by summing, else None.
    collapsed_channels: tuple[int, int] | None = None
    # Other pathways of a two-pathway PySlowFast file: index -> number of their tensors.
    other_pathways: dict[int, int] = field(default_factory=dict)
    # Set by import_checkpoint: the recorded evaluation input, and the motion settings written
    # to config.yaml beside the encoder (None: none written).
    eval_input: EvalInput | None = None
    motion_config: dict[str, Any] | None = None

    def ignored_summary(self) -> str:
        """One line naming the ignored tensors; more than 4 under one name prefix show as ``prefix.* (n)``."""
        if not self.ignored:
            return "ignored no tensors"
        groups: dict[str, list[str]] = {}
        for key in self.ignored:
            groups.setdefault(key.split(".")[0], []).append(key)
        shown = ", ".join(", ".join(keys) if len(keys) <= 4 else f"{group}.* ({len(keys)})"
                          for group, keys in groups.items())
        return f"ignored {len(self.ignored)} tensors that are not part of the backbone: {shown}"


def _check_format(fmt: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if fmt not in allowed:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(allowed)}")
    return _LAYOUTS[fmt]


def source_names(fmt: str, modist_state: dict[str, Any], pathway: int = 0) -> dict[str, str]:
    """The source-format name (without any wrapper prefix) of each modist state-dict key."""
    layout = _check_format(fmt, IMPORT_FORMATS)
    bottleneck = any(k.endswith("body.7.weight") for k in modist_state)
    body_roles = _BOTTLENECK_BODY if bottleneck else _BASIC_BODY
    if layout["bottleneck_only"] and not bottleneck:
        raise ConfigError(f"{fmt} has no layout for basic-block (R3D/R(2+1)D) backbones; only the Slow-R50 family")
    names = {}
    for key in modist_state:
        if m := _STEM_KEY.match(key):
            module = layout["stem"][int(m.group(1))].format(p=pathway)
            names[key] = f"{module}.{m.group(2)}"
            continue
        m = _BLOCK_KEY.match(key)
        roles = {"body": body_roles, "shortcut": _SHORTCUT}[m.group(3)] if m else {}
        if not m or int(m.group(4)) not in roles:
            raise ConfigError(f"{key}: no {fmt} name for this tensor (is the backbone a ResNet preset?)")
        stage, block = int(m.group(1)), int(m.group(2))
        prefix = layout["block"].format(p=pathway, stage1=stage + 1, stage2=stage + 2, b=block)
        names[key] = f"{prefix}.{layout['roles'][roles[int(m.group(4))]]}.{m.group(5)}"
    return names


# ---------------------------------------------------------------------------------------- reading


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and 0 < int.from_bytes(head[:8], "little") < 1 << 28 and head[8:9] == b"{"


def read_state_dict(path: str | os.PathLike, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: safetensors, or a pickle holding a state dict.

    A pickle is a plain state dict or a dict with ``model_state`` (PySlowFast),
    ``state_dict`` (mmaction2) or ``model_state_dict``/``model`` beside metadata. It is read
    with ``weights_only=True``; when that refuses the file, a :class:`DataError` says why,
    unless ``trust_pickle`` (full unpickling, which runs code from the file).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint file not found")
    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError) as exc:
            raise DataError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        obj = load_torch_file(path)
    except PickleRefused as exc:
        if not trust_pickle:
            raise DataError(f"{path}: weights-only loading refused it ({exc.reason}); if you trust "
                            "this file, pass trust_pickle=True (unpickling runs code from the file)") from None
        obj = load_torch_file(path, trust_pickle=True)
    return _state_of(obj, path)


def _state_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in _STATE_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise DataError(f"{path}: holds no state dict (expected a dict of tensors or one under "
                        f"{'/'.join(_STATE_KEYS)})")
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise DataError(f"{path}: {key} is a {type(value).__name__}, not a tensor")
    return dict(obj)


# ---------------------------------------------------------------------------------------- import


def _find_prefix(state: dict[str, torch.Tensor], fmt: str, pathway: int, path: Path) -> str:
    layout = _LAYOUTS[fmt]
    stem = layout["stem"][0].format(p=pathway) + ".weight"
    for prefix in layout["prefixes"]:
        if prefix + stem in state:
            return prefix
    if pathway and any(k.endswith(layout["stem"][0].format(p=0) + ".weight") for k in state):
        raise DataError(f"{path}: no pathway {pathway} in this file (no {stem})")
    raise DataError(f"{path}: not a {fmt} ResNet state dict: no stem tensor {stem} "
                    f"(also tried the prefixes {', '.join(p for p in layout['prefixes'] if p)})")


def _count_blocks(state: dict[str, torch.Tensor], fmt: str, prefix: str, pathway: int) -> list[int]:
    layout = _LAYOUTS[fmt]
    depths = []
    for stage in range(4):
        n = 0
        while True:  # a block is there when any tensor is under its name (a renamed one is found later)
            block = prefix + layout["block"].format(p=pathway, stage1=stage + 1, stage2=stage + 2, b=n) + "."
            if not any(k.startswith(block) for k in state):
                break
            n += 1
        depths.append(n)
    return depths


def infer_spec(state: dict[str, torch.Tensor], fmt: str, *, pathway: int = 0, prefix: str | None = None,
               path: str | os.PathLike = "<state>") -> EncoderSpec:
    """The modist preset a source state dict fits, from its block counts, widths and temporal kernels."""
    path = Path(path)
    layout = _check_format(fmt, IMPORT_FORMATS)
    prefix = _find_prefix(state, fmt, pathway, path) if prefix is None else prefix
    stem = state[prefix + layout["stem"][0].format(p=pathway) + ".weight"]
    if stem.ndim != 5:
        raise DataError(f"{path}: {prefix}{layout['stem'][0].format(p=pathway)}.weight is not a 3D conv "
                        f"(shape {tuple(stem.shape)})")
    width, in_channels = int(stem.shape[0]), int(stem.shape[1])
    depths = _count_blocks(state, fmt, prefix, pathway)
    first = layout["block"].format(p=pathway, stage1=1, stage2=2, b=0)
    bottleneck = f"{prefix}{first}.{layout['roles']['conv_c']}.weight" in state
    if bottleneck and depths == [3, 4, 6, 3]:
        kernels = [int(stem.shape[2])]
        for stage in range(4):
            block = layout["block"].format(p=pathway, stage1=stage + 1, stage2=stage + 2, b=0)
            kernels.append(int(state[f"{prefix}{block}.{layout['roles']['conv_a']}.weight"].shape[2]))
        arch = SLOW_PRESETS.get(tuple(kernels))
        if arch is None:
            raise DataError(f"{path}: a ResNet-50 with temporal kernels (conv1, res2..res5) {tuple(kernels)}; modist "
                            f"has presets for {', '.join(f'{k} ({a})' for k, a in SLOW_PRESETS.items())}")
    elif not bottleneck and depths == [2, 2, 2, 2] and fmt == "mmaction2" and tuple(stem.shape[2:]) == (3, 7, 7):
        arch = "r3d_18"
    else:
        kind = "bottleneck" if bottleneck else "basic"
        raise DataError(f"{path}: a {kind}-block ResNet with stages {depths} and stem {tuple(stem.shape)} maps onto "
                        "no modist preset (covered: Slow-R50 family, and R3D-18 from mmaction2)")
    return EncoderSpec(arch=arch, in_channels=in_channels, width_divisor=64 / width, base_width=64)


def convert_state_dict(state: dict[str, torch.Tensor], fmt: str, *, pathway: int = 0, arch: str | None = None,
                       modality: str | None = None, conv1_temporal_stride: int = 1, in_channels: int | None = None,
                       path: str | os.PathLike = "<state>") -> Conversion:
    """Map a source state dict onto a modist backbone; every tensor is used, ignored by name, or an error.

    ``conv1_temporal_stride`` is recorded in the spec (no file holds it). ``in_channels``: the
    encoder's input channels; None keeps the file's, except that a motion stem of 3 channels
    becomes 1 (no modist motion encoding has 3 channels; the release's 3 are one replicated).
    Going from 3 to 1 sums conv1's weight over its input channels.
    """
    path = Path(path)
    _check_format(fmt, IMPORT_FORMATS)
    prefix = _find_prefix(state, fmt, pathway, path)
    inferred = infer_spec(state, fmt, pathway=pathway, prefix=prefix, path=path)
    modality = modality or ("motion" if pathway else "rgb")
    file_channels = inferred.in_channels
    if in_channels is None:
        in_channels = 1 if modality == "motion" and file_channels == 3 else file_channels
    if in_channels not in (file_channels, 1):
        raise ConfigError(f"{path}: the stem takes {file_channels} input channels; it imports as {file_channels} "
                          f"or, summed over them, as 1, not {in_channels}")
    spec = EncoderSpec(arch or inferred.arch, in_channels, inferred.width_divisor, inferred.base_width, modality,
                       conv1_temporal_stride)
    encoder = spec.build()
    new_state, defaulted, used = _mapped_tensors(state, encoder.state_dict(), fmt, pathway, prefix, spec,
                                                 collapse=in_channels != file_channels, path=path)
    ignored, others = _unused_tensors(state, used, fmt, pathway, prefix, spec, path=path)
    encoder.load_state_dict(new_state)
    notes = []
    if spec.arch == "r3d_18":
        notes.append("mmaction2's ResNet3d-18 weights fit modist's r3d_18 one to one, but check the source config: "
                     "r3d_18 has no max-pool after conv1 and temporal stride 2 in res3-res5")
    collapsed = (file_channels, in_channels) if in_channels != file_channels else None
    return Conversion(encoder, spec, len(used), ignored, defaulted, prefix, notes, collapsed, others)


def _mapped_tensors(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], fmt: str, pathway: int,
                    prefix: str, spec: EncoderSpec, *, collapse: bool, path: Path
                    ) -> tuple[dict[str, torch.Tensor], list[str], set[str]]:
    """(modist state, source names left at their defaults, source names used) for every target tensor."""
    names = source_names(fmt, target, pathway)
    stem_key = "stem.0.weight"
    new_state, defaulted, used = {}, [], set()
    for key, value in target.items():
        src = prefix + names[key]
        if src not in state:
            if key.endswith("num_batches_tracked"):
                new_state[key] = value
                defaulted.append(src)
                continue
            raise DataError(f"{path}: missing tensor {src} (modist {spec.arch} {key})")
        tensor = state[src]
        if key == stem_key and collapse and tensor.ndim == 5:
            # Exact for identical input channels: conv(x repeated C times, W) == conv(x, sum_c W[:, c]).
            tensor = tensor.sum(dim=1, keepdim=True)
        if tuple(tensor.shape) != tuple(value.shape):
            raise DataError(f"{path}: {src} has shape {tuple(tensor.shape)}; {spec.arch} "
                            f"expects {tuple(value.shape)} for {key}")
        new_state[key] = tensor.detach().to(value.dtype).clone()
        used.add(src)
    return new_state, defaulted, used


def _unused_tensors(state: dict[str, torch.Tensor], used: set[str], fmt: str, pathway: int, prefix: str,
                    spec: EncoderSpec, *, path: Path) -> tuple[list[str], dict[int, int]]:
    """(source tensors ignored by name, tensors per other pathway); any other unused tensor is an error."""
    other = re.compile(rf"pathway(?!{pathway}_)(\d+)_") if fmt == "pyslowfast" else None
    ignore = [re.compile(p) for p in _LAYOUTS[fmt]["ignore"]]
    ignored: list[str] = []
    others: dict[int, int] = {}
    for key in state:
        if key in used:
            continue
        if any(p.search(key) for p in ignore):
            ignored.append(key)
            continue
        if other is not None and (m := other.search(key)):
            ignored.append(key)
            index = int(m.group(1))
            others[index] = others.get(index, 0) + 1
            continue
        where = "" if key.startswith(prefix) else f" (and outside {prefix!r})"
        raise DataError(f"{path}: unexpected tensor {key}: not part of a {fmt} {spec.arch} backbone{where}")
    return ignored, others


def _input_source(ev: EvalInput, chosen: dict[str, int], total: int) -> str:
    if len(chosen) == total:
        return "given"
    return ev.source + (f"; given: {', '.join(chosen)}" if chosen else "")


def import_checkpoint(src: str | os.PathLike, fmt: str, out_dir: str | os.PathLike, *, pathway: int = 0,
                      arch: str | None = None, modality: str | None = None, trust_pickle: bool = False,
                      clip_frames: int | None = None, stride: int | None = None, crop_size: int | None = None,
                      conv1_temporal_stride: int | None = None, in_channels: int | None = None,
                      extra: dict[str, Any] | None = None, overwrite: bool = False) -> Conversion:
    """Convert ``src`` and write a modist run directory (``encoder.safetensors`` + ``encoder.json``).

    ``clip_frames``, ``stride``, ``crop_size`` and ``conv1_temporal_stride`` left at None take
    the MaCLR release's own values for its layout (:func:`release_input`), else :class:`EvalInput`'s
    defaults. For the release's motion pathway a ``config.yaml`` with its motion encoding is
    written too, which evaluation reads. Everything is read and checked before anything is written.
    """
    src, out_dir = Path(src), Path(out_dir)
    _check_format(fmt, IMPORT_FORMATS)
    given = {"clip_frames": clip_frames, "stride": stride, "crop_size": crop_size,
             "conv1_temporal_stride": conv1_temporal_stride}
    for key, value in given.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"invalid {key} {value!r}; must be an integer >= 1")
    chosen = {k: v for k, v in given.items() if v is not None}
    if (out_dir / WEIGHTS).exists() and not overwrite:
        raise DataError(f"{out_dir}: already holds {WEIGHTS}")
    state = read_state_dict(src, trust_pickle=trust_pickle)
    conv = convert_state_dict(state, fmt, pathway=pathway, arch=arch, modality=modality, in_channels=in_channels,
                              path=src)
    release = release_input(fmt, conv.spec)
    conv.eval_input = replace(release or EvalInput(), **chosen)
    if conv.eval_input.conv1_temporal_stride != conv.spec.conv1_temporal_stride:
        spec = replace(conv.spec, conv1_temporal_stride=conv.eval_input.conv1_temporal_stride)
        encoder = spec.build()
        encoder.load_state_dict(conv.encoder.state_dict())
        conv.spec, conv.encoder = spec, encoder
    if release is MACLR_MOTION_INPUT and conv.spec.in_channels == 1:
        conv.motion_config = dict(MACLR_MOTION_CONFIG)
        if (out_dir / CONFIG).exists() and not overwrite:
            raise DataError(f"{out_dir}: already holds {CONFIG}")
    ev = conv.eval_input
    meta = {"method": f"import:{fmt}", "source": str(src), "source_format": fmt, "source_prefix": conv.prefix,
            "clip_frames": ev.clip_frames, "stride": ev.stride, "crop_size": ev.crop_size,
            "input_source": _input_source(ev, chosen, len(given)), **(extra or {})}
    if fmt == "pyslowfast":
        meta["source_pathway"] = pathway
    if conv.collapsed_channels:
        meta["source_in_channels"] = conv.collapsed_channels[0]
    save_encoder(out_dir, conv.encoder, conv.spec, meta)
    if conv.motion_config is not None:
        lines = "".join(f"  {k}: {v}\n" for k, v in conv.motion_config.items())
        write_text(out_dir / CONFIG, "# The MaCLR release's motion input (written by modist convert).\n"
                                         f"motion:\n{lines}")
    return conv


# ---------------------------------------------------------------------------------------- export


def export_state_dict(encoder: torch.nn.Module, fmt: str) -> dict[str, torch.Tensor]:
    """``encoder``'s tensors under ``fmt``'s names (PySlowFast pathway 0; pytorchvideo ``blocks.0-4``)."""
    _check_format(fmt, EXPORT_FORMATS)
    state = encoder.state_dict()
    names = source_names(fmt, state)
    return {names[k]: v.detach().cpu().contiguous().clone() for k, v in state.items()}


def export_checkpoint(run: str | os.PathLike, fmt: str, out: str | os.PathLike) -> tuple[Path, EncoderSpec, int]:
    """Write the encoder of a modist run as a ``fmt`` checkpoint file (``torch.save``, weights-only loadable).

    PySlowFast gets ``{"model_state": ...}``, what its ``load_checkpoint`` reads; pytorchvideo
    the plain state dict of ``create_resnet``'s stem and stages (its head is the user's).
    Returns the file, the encoder's spec and the number of tensors written.
    """
    _check_format(fmt, EXPORT_FORMATS)
    encoder = read_encoder(run)
    tensors = export_state_dict(encoder.module, fmt)
    payload: dict[str, Any] = {"model_state": tensors} if fmt == "pyslowfast" else tensors
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return out, encoder.spec, len(tensors)
