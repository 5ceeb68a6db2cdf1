"""``modist models`` (also ``modist bench models``): parameters and GFLOPs per view of each backbone.

GFLOPs are multiply-adds (as PySlowFast and torchvision report them) counted by
:class:`torch.utils.flop_counter.FlopCounterMode` over one forward pass of one clip,
including a ``--classes``-way linear classifier; batch norm, activations and pooling
are not counted. Published references: Slow-R50 8x224x224 41.9 GFLOPs and 32.5 M
parameters with its 400-way classifier (PySlowFast model zoo); torchvision's
r3d_18 and r2plus1d_18 at 16x112x112: 40.7 / 40.5 GFLOPs, 33.4 / 31.5 M parameters.

Example:
    >>> row = complexity("r3d_tiny", frames=8, size=48, classes=10)
    >>> row.params > 0 and row.gflops > 0
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from modist.models.resnet3d import BACKBONES, build_backbone

# (arch, width divisor, frames, size, what it is)
DEFAULT_ROWS: tuple[tuple[str, float, int, int, str], ...] = (
    ("slow_r50", 1, 8, 224, "SlowOnly visual pathway"),
    ("slow_r50_modist", 1, 8, 224, "visual pathway of the MoDist release (conv1 kt=5)"),
    ("slow_r50_t1", 8, 8, 224, "release motion pathway: width/8, temporal kernel 1"),
    ("slow_r50", 8, 8, 224, "motion pathway variant: width/8, 3D temporal kernels"),
    ("r3d_18", 1, 16, 112, "torchvision r3d_18"),
    ("r2plus1d_18", 1, 16, 112, "torchvision r2plus1d_18"),
    ("r3d_18", 1, 8, 112, "R3D-18 at the CPU benchmark size"),
    ("r3d_tiny", 1, 8, 48, "CPU-scale demo backbone (base width 16)"),
)


@dataclass
class Complexity:
    arch: str
    width_divisor: float
    frames: int
    size: int
    params: int  # backbone only
    params_with_fc: int
    gflops: float  # multiply-adds of one clip, classifier included

    @property
    def input(self) -> str:
        return f"{self.frames}x{self.size}x{self.size}"


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-adds of one forward pass (FlopCounterMode counts 2 FLOPs per multiply-add)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops() // 2


def complexity(arch: str, *, frames: int, size: int, width_divisor: float = 1.0, in_channels: int = 3,
               classes: int = 400) -> Complexity:
    # On the meta device nothing is initialised, computed or allocated: only shapes flow.
    with torch.device("meta"):
        backbone = build_backbone(arch, in_channels=in_channels, width_divisor=width_divisor).eval()
        net = nn.Sequential(backbone, nn.Linear(backbone.out_dim, classes)) if classes > 0 else backbone
        macs = count_macs(net, torch.empty(1, in_channels, frames, size, size))
    return Complexity(arch, width_divisor, frames, size, count_params(backbone), count_params(net), macs / 1e9)


@dataclass(frozen=True)
class ModelsSettings:
    """Which backbones: ``archs`` at one clip shape, or (``archs`` empty) the reference rows."""

    archs: tuple[str, ...] = ()
    frames: int = 8
    size: int = 224
    width_divisor: float = 1.0
    in_channels: int = 3
    classes: int = 400  # classifier outputs counted; 0: none


@dataclass
class ModelsTable:
    rows: list[tuple[Complexity, str]]  # (figures, note)
    classes: int

    def markdown(self) -> str:
        fc = f"+fc{self.classes}" if self.classes else ""
        lines = [f"| arch | width | input | params (M) | params{fc} (M) | GFLOPs/view | note |",
                 "|---|---|---|---|---|---|---|"]
        for c, note in self.rows:
            width = "1" if c.width_divisor == 1 else f"1/{c.width_divisor:g}"
            lines.append(f"| {c.arch} | {width} | {c.input} | {c.params / 1e6:.2f} | {c.params_with_fc / 1e6:.2f} | "
                         f"{c.gflops:.2f} | {note} |")
        lines.append("GFLOPs are multiply-adds of one clip (FlopCounterMode), classifier included.")
        return "\n".join(lines) + "\n"


def complexity_table(settings: ModelsSettings) -> ModelsTable:
    """Parameters and GFLOPs per view of each backbone of ``settings``."""
    from modist.errors import ConfigError

    if settings.archs:
        unknown = [a for a in settings.archs if a not in BACKBONES]
        if unknown:
            raise ConfigError(f"unknown backbone {unknown[0]!r}; choose from {', '.join(BACKBONES)}")
        rows = [(a, settings.width_divisor, settings.frames, settings.size, "") for a in settings.archs]
    else:
        rows = list(DEFAULT_ROWS)
    return ModelsTable([(complexity(arch, frames=frames, size=size, width_divisor=divisor,
                                    in_channels=settings.in_channels, classes=settings.classes), note)
                        for arch, divisor, frames, size, note in rows], settings.classes)
