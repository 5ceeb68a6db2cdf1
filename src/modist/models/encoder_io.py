"""The exported encoder: one backbone's weights (safetensors) and how to rebuild it (JSON).

A finished run (and ``modist export``) writes ``encoder.safetensors`` with ``encoder.json``
beside it. The JSON holds the :class:`EncoderSpec` (architecture, input channels, width,
modality, conv1 temporal stride) plus what the encoder was trained on (method, clip shape,
decode short side; :class:`modist.models.run_files.TrainedOn`) and, for an RGB encoder, the input
normalisation (``mean``, ``std`` of pixels in [0, 1]). :func:`modist.models.run_files.read_encoder`
reads it back without unpickling, the network in eval mode; an ``encoder.json`` written before a
field existed reads with that field's default (``width_divisor`` 1, ``modality`` rgb,
``conv1_temporal_stride`` 1; see :mod:`modist.models.encoder` for the inputs).

Example:
    >>> import json, tempfile
    >>> spec = EncoderSpec(arch="r3d_tiny", in_channels=3, base_width=4)
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = save_encoder(d, spec.build(), spec, {"method": "rgb_only"})
    >>> record = json.loads((d / META).read_text())
    >>> record["arch"], record["method"], record["conv1_temporal_stride"], EncoderSpec.from_meta(record) == spec
    ('r3d_tiny', 'rgb_only', 1, True)
    >>> record["mean"], record["std"]
    ([0.45, 0.45, 0.45], [0.225, 0.225, 0.225])
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from modist.atomic import atomic_path, write_json
from modist.data.augment import MEAN, STD
from modist.models.resnet3d import ResNet3d, build_backbone

WEIGHTS = "encoder.safetensors"
META = "encoder.json"


@dataclass(frozen=True)
class EncoderSpec:
    """What rebuilds a backbone: architecture, input channels, width, input modality and conv1's temporal stride."""

    arch: str
    in_channels: int
    width_divisor: float = 1.0
    base_width: int = 16
    modality: str = "rgb"  # "rgb" or "motion"
    # Not a weight, so only this record keeps it: the same tensors at stride 2 are another network.
    conv1_temporal_stride: int = 1

    def build(self) -> ResNet3d:
        """A freshly initialised backbone of this shape."""
        return build_backbone(self.arch, in_channels=self.in_channels, width_divisor=self.width_divisor,
                              base_width=self.base_width, conv1_temporal_stride=self.conv1_temporal_stride)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> EncoderSpec:
        """The spec an ``encoder.json`` records; fields it predates take their defaults.

        Raises KeyError or TypeError when ``arch``, ``in_channels`` or ``base_width`` is missing.
        """
        return cls(meta["arch"], meta["in_channels"], meta.get("width_divisor", 1.0), meta["base_width"],
                   meta.get("modality", "rgb"), meta.get("conv1_temporal_stride", 1))


def save_weights(path: str | os.PathLike, module: torch.nn.Module) -> Path:
    """``module``'s state dict as a safetensors file at ``path``, written atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return path


def save_encoder(out_dir: str | os.PathLike, encoder: torch.nn.Module, spec: EncoderSpec,
                 extra: dict[str, Any] | None = None) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` (spec + ``extra``) into ``out_dir``.

    An RGB encoder's record names the normalisation modist's data pipeline applies (``MEAN``,
    ``STD``) unless ``extra`` gives its own ``mean`` and ``std``.
    """
    out_dir = Path(out_dir)
    weights = save_weights(out_dir / WEIGHTS, encoder)
    inputs = {"mean": list(MEAN), "std": list(STD)} if spec.modality == "rgb" else {}
    write_json(out_dir / META, {**asdict(spec), **inputs, **(extra or {})})
    return weights
