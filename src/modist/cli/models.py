"""``modist models`` (also ``modist bench models``): parameters and GFLOPs per view of the backbones.

The table is :mod:`modist.bench.models`'s; this module owns its flags.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Parameters and GFLOPs (multiply-adds) of one clip per backbone. "
                          "Without --arch, the reference configurations.")
    models_arguments(parser)
    parser.set_defaults(func=run_models)


def models_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``modist models`` (and of ``modist bench models``)."""
    from modist.models.resnet3d import BACKBONES

    parser.add_argument("--arch", default="", help=f"comma-separated backbones ({', '.join(BACKBONES)}); "
                                                   "default: the table of reference configurations")
    parser.add_argument("--frames", type=int, default=8, help="clip length for --arch (default: 8)")
    parser.add_argument("--size", type=int, default=224, help="crop size for --arch (default: 224)")
    parser.add_argument("--width-divisor", type=float, default=1.0, help="thin pathway factor for --arch (default: 1)")
    parser.add_argument("--in-channels", type=int, default=3)
    parser.add_argument("--classes", type=int, default=400, help="classifier outputs counted (default: 400; 0 = none)")


def run_models(args: argparse.Namespace) -> int:
    from modist.bench.models import ModelsSettings, complexity_table

    archs = tuple(s.strip() for s in args.arch.split(",") if s.strip())
    settings = ModelsSettings(archs=archs, frames=args.frames, size=args.size, width_divisor=args.width_divisor,
                              in_channels=args.in_channels, classes=args.classes)
    print(complexity_table(settings).markdown(), end="")
    return 0
