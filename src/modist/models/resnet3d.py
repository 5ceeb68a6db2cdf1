"""3D ResNets assembled from a stem and a list of stage specifications.

One builder covers the family: R3D (basic blocks, 3x3x3 convs), Slow-style
bottleneck networks (temporal kernel per stage) and the thin motion pathway (every
width divided by a factor). Named presets live in :data:`BACKBONES`.

``conv1_temporal_stride`` is the temporal stride of the stem convolution (PySlowFast's
``RESNET.CONV1_TEMPORAL_STRIDE``): the MaCLR release finetunes its Slow-R50 on 32-frame clips
with stride 2, so the residual stages see 16 time steps. It is not a weight: the state dict
is the same at any stride.

Example:
    >>> import torch
    >>> net = build_backbone("r3d_tiny", in_channels=3, width_divisor=1)
    >>> net(torch.zeros(2, 3, 8, 56, 56)).shape
    torch.Size([2, 128])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from modist import choices


@dataclass(frozen=True)
class StageSpec:
    """One residual stage: ``depth`` blocks producing ``width`` channels."""

    depth: int
    width: int
    spatial_stride: int = 1
    temporal_stride: int = 1
    temporal_kernel: int = 3


def _conv_bn_relu(cin: int, cout: int, kernel, stride, relu: bool = True) -> list[nn.Module]:
    padding = tuple(k // 2 for k in kernel)
    layers: list[nn.Module] = [
        nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm3d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class _Residual(nn.Module):
    """ReLU(body(x) + shortcut(x)), the computation every block of these networks shares."""

    expansion = 1  # output channels per unit of ``width``

    def __init__(self, body: nn.Module, shortcut: nn.Module):
        super().__init__()
        # These attribute names are the blocks' state-dict keys, which checkpoints rely on.
        self.body = body
        self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class BasicBlock3d(_Residual):
    """Two (kt x 3 x 3) convolutions (R3D-18 style)."""

    def __init__(self, cin: int, width: int, stride: tuple[int, int, int], temporal_kernel: int):
        kt = temporal_kernel
        body = nn.Sequential(
            *_conv_bn_relu(cin, width, (kt, 3, 3), stride),
            *_conv_bn_relu(width, width, (kt, 3, 3), 1, relu=False),
        )
        super().__init__(body, _shortcut(cin, width, stride))


class Bottleneck3d(_Residual):
    """(kt x 1 x 1) -> (1 x 3 x 3) -> (1 x 1 x 1) with 4x expansion (Slow / ResNet-50 style)."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: tuple[int, int, int], temporal_kernel: int):
        cout = width * self.expansion
        body = nn.Sequential(
            *_conv_bn_relu(cin, width, (temporal_kernel, 1, 1), 1),
            *_conv_bn_relu(width, width, (1, 3, 3), stride),
            *_conv_bn_relu(width, cout, (1, 1, 1), 1, relu=False),
        )
        # Zero-init of the last BN makes each block start as identity (Goyal et al.).
        nn.init.zeros_(body[-1].weight)
        super().__init__(body, _shortcut(cin, cout, stride))


def midplanes_2plus1d(cin: int, cout: int, temporal_kernel: int = 3) -> int:
    """Middle width of a factorised (kt x 3 x 3) conv with the parameters of the full 3D one.

    As torchvision (Tran et al. 2018), one value per block from (inplanes, planes)
    serves both of its convolutions.

    Example:
        >>> midplanes_2plus1d(64, 64), midplanes_2plus1d(64, 128)
        (144, 230)
    """
    kt = temporal_kernel
    return (kt * 9 * cin * cout) // (9 * cin + kt * cout)


class Conv2Plus1d(nn.Sequential):
    """A (kt x 3 x 3) convolution factorised into spatial (1 x 3 x 3) then temporal (kt x 1 x 1)."""

    def __init__(self, cin: int, cout: int, mid: int, stride: tuple[int, int, int], temporal_kernel: int):
        super().__init__(
            nn.Conv3d(cin, mid, (1, 3, 3), stride=(1, stride[1], stride[2]), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, cout, (temporal_kernel, 1, 1), stride=(stride[0], 1, 1),
                      padding=(temporal_kernel // 2, 0, 0), bias=False),
        )


class BasicBlock2Plus1d(_Residual):
    """Two factorised (kt x 3 x 3) convolutions (torchvision's R(2+1)D-18 block)."""

    def __init__(self, cin: int, width: int, stride: tuple[int, int, int], temporal_kernel: int):
        mid = midplanes_2plus1d(cin, width, temporal_kernel)
        body = nn.Sequential(
            Conv2Plus1d(cin, width, mid, stride, temporal_kernel),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            Conv2Plus1d(width, width, mid, (1, 1, 1), temporal_kernel),
            nn.BatchNorm3d(width),
        )
        super().__init__(body, _shortcut(cin, width, stride))


def stem_2plus1d(in_channels: int, mid: int, width: int, temporal_stride: int = 1) -> nn.Sequential:
    """torchvision's R(2+1)D stem: (1 x 7 x 7) conv to ``mid`` (45), then (3 x 1 x 1) to ``width`` (64).

    ``temporal_stride`` goes to the (3 x 1 x 1) conv, the only one of the stem that sees time.
    """
    return nn.Sequential(
        *_conv_bn_relu(in_channels, mid, (1, 7, 7), (1, 2, 2)),
        *_conv_bn_relu(mid, width, (3, 1, 1), (temporal_stride, 1, 1)),
    )


def _shortcut(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Module:
    if cin == cout and stride == (1, 1, 1):
        return nn.Identity()
    return nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))


class ResNet3d(nn.Module):
    """Stem, residual stages, global average pool; returns [N, out_dim] features."""

    def __init__(
        self,
        block: type[nn.Module],
        stages: list[StageSpec],
        in_channels: int = 3,
        stem_width: int = 64,
        stem_kernel: tuple[int, int, int] = (3, 7, 7),
        stem_stride: tuple[int, int, int] = (1, 2, 2),
        stem_pool: bool = True,
        stem: nn.Module | None = None,
    ):
        """``stem`` replaces the default (conv, BN, ReLU[, max-pool]); it must output ``stem_width`` channels."""
        super().__init__()
        # Kept so that code holding only the network can tell (the stride is not in the state dict).
        self.conv1_temporal_stride = stem_stride[0]
        if stem is None:
            layers: list[nn.Module] = _conv_bn_relu(in_channels, stem_width, stem_kernel, stem_stride)
            if stem_pool:
                layers.append(nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
            stem = nn.Sequential(*layers)
        self.stem = stem
        layers = []
        cin = stem_width
        for spec in stages:
            blocks = []
            for i in range(spec.depth):
                stride = (spec.temporal_stride, spec.spatial_stride, spec.spatial_stride) if i == 0 else (1, 1, 1)
                blocks.append(block(cin, spec.width, stride, spec.temporal_kernel))
                cin = spec.width * block.expansion
            layers.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*layers)
        self.out_dim = cin
        self.pool = nn.AdaptiveAvgPool3d(1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map [N, out_dim, T', H', W'], before the global pool.

        ``forward`` pools it away; saliency and attention maps need its layout.
        """
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x)).flatten(1)


def _div(width: float, divisor: float) -> int:
    return max(1, int(round(width / divisor)))


def r3d_tiny(in_channels: int = 3, width_divisor: float = 1.0, base_width: int = 16, *,
             conv1_temporal_stride: int = 1) -> ResNet3d:
    """A small R3D for CPU-scale runs: 4 stages of one basic block, widths w..8w."""
    w = _div(base_width, width_divisor)
    stages = [StageSpec(1, w), StageSpec(1, 2 * w, 2), StageSpec(1, 4 * w, 2), StageSpec(1, 8 * w, 2)]
    return ResNet3d(BasicBlock3d, stages, in_channels, stem_width=w, stem_pool=False,
                    stem_stride=(conv1_temporal_stride, 2, 2))


def r3d_18(in_channels: int = 3, width_divisor: float = 1.0, base_width: int = 64, *,
           conv1_temporal_stride: int = 1) -> ResNet3d:
    """R3D-18 (Tran et al. 2018, as in torchvision): [2,2,2,2] basic blocks, 3x3x3 convs."""
    w = _div(base_width, width_divisor)
    stages = [StageSpec(2, w), StageSpec(2, 2 * w, 2, 2), StageSpec(2, 4 * w, 2, 2), StageSpec(2, 8 * w, 2, 2)]
    return ResNet3d(BasicBlock3d, stages, in_channels, stem_width=w, stem_pool=False,
                    stem_stride=(conv1_temporal_stride, 2, 2))


def r2plus1d_18(in_channels: int = 3, width_divisor: float = 1.0, base_width: int = 64, *,
                conv1_temporal_stride: int = 1) -> ResNet3d:
    """R(2+1)D-18 as torchvision's ``r2plus1d_18``: R3D-18 with each 3x3x3 conv factorised
    into 1x3x3 + 3x1x1 and a (2+1)D stem (31.5 M parameters with a 400-way classifier)."""
    w = _div(base_width, width_divisor)
    stages = [StageSpec(2, w), StageSpec(2, 2 * w, 2, 2), StageSpec(2, 4 * w, 2, 2), StageSpec(2, 8 * w, 2, 2)]
    stem = stem_2plus1d(in_channels, _div(45 * base_width / 64, width_divisor), w, conv1_temporal_stride)
    net = ResNet3d(BasicBlock2Plus1d, stages, in_channels, stem_width=w, stem=stem)
    net.conv1_temporal_stride = conv1_temporal_stride
    return net


# Temporal kernel sizes (conv1, res2, res3, res4, res5) of the Slow-R50 presets.
SLOW_ONLY_KERNELS = (1, 1, 1, 3, 3)  # SlowOnly 8x8 (PySlowFast)
MODIST_RELEASE_KERNELS = (5, 1, 1, 3, 3)  # the visual pathway of the MoDist release
TEMPORAL_1_KERNELS = (1, 1, 1, 1, 1)  # the release's default thin motion pathway


def slow_r50(
    in_channels: int = 3,
    width_divisor: float = 1.0,
    base_width: int = 64,
    temporal_kernels: tuple[int, int, int, int, int] = SLOW_ONLY_KERNELS,
    *,
    conv1_temporal_stride: int = 1,
) -> ResNet3d:
    """Slow-R50 (Feichtenhofer et al. 2019): ResNet-50 bottlenecks [3,4,6,3].

    ``temporal_kernels`` are (conv1, res2, res3, res4, res5); the SlowOnly default is
    conv1=1 and 3 in res4/res5 only; the MoDist release uses conv1=5. Pass all ones
    for the motion pathway's 2D-temporal default variant. ``conv1_temporal_stride`` 2 is
    the release's UCF101 finetune network (``SLOW_32x8_R50``).
    """
    w = _div(base_width, width_divisor)
    k1, k2, k3, k4, k5 = temporal_kernels
    stages = [StageSpec(3, w, 1, 1, k2), StageSpec(4, 2 * w, 2, 1, k3),
              StageSpec(6, 4 * w, 2, 1, k4), StageSpec(3, 8 * w, 2, 1, k5)]
    return ResNet3d(Bottleneck3d, stages, in_channels, stem_width=w, stem_kernel=(k1, 7, 7),
                    stem_stride=(conv1_temporal_stride, 2, 2))


def slow_r50_modist(in_channels: int = 3, width_divisor: float = 1.0, base_width: int = 64, *,
                    conv1_temporal_stride: int = 1) -> ResNet3d:
    """Slow-R50 with the MoDist release's temporal kernels: conv1=5, res4/res5=3."""
    return slow_r50(in_channels, width_divisor, base_width, MODIST_RELEASE_KERNELS,
                    conv1_temporal_stride=conv1_temporal_stride)


def slow_r50_t1(in_channels: int = 3, width_divisor: float = 1.0, base_width: int = 64, *,
                conv1_temporal_stride: int = 1) -> ResNet3d:
    """Slow-R50 layout with temporal kernel 1 everywhere (the release's motion pathway, at width/8)."""
    return slow_r50(in_channels, width_divisor, base_width, TEMPORAL_1_KERNELS,
                    conv1_temporal_stride=conv1_temporal_stride)


# The names are modist.choices.BACKBONES (what the config accepts as model.arch); the presets live here.
BACKBONES: dict[str, Callable[..., ResNet3d]] = {
    name: globals()[target.partition(":")[2]] for name, target in choices.BACKBONES.items()
}


def build_backbone(name: str, in_channels: int = 3, width_divisor: float = 1.0, *,
                   conv1_temporal_stride: int = 1, **kwargs) -> ResNet3d:
    """Build a preset by name; ``width_divisor`` thins every stage (motion pathway).

    ``conv1_temporal_stride`` is the stem convolution's temporal stride (1: every frame).

    Example:
        >>> x = torch.zeros(1, 3, 32, 32, 32)
        >>> net = build_backbone("slow_r50_modist", width_divisor=16, conv1_temporal_stride=2)
        >>> net.forward_features(x).shape[2], net.conv1_temporal_stride
        (16, 2)
    """
    from modist.errors import ConfigError

    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    if isinstance(conv1_temporal_stride, bool) or not isinstance(conv1_temporal_stride, int) \
            or conv1_temporal_stride < 1:
        raise ConfigError(f"invalid conv1_temporal_stride {conv1_temporal_stride!r}; must be an integer >= 1")
    return BACKBONES[name](in_channels=in_channels, width_divisor=width_divisor,
                           conv1_temporal_stride=conv1_temporal_stride, **kwargs)
