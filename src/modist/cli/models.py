"""``modist models``: parameters and GFLOPs per view of the backbones (see :mod:`modist.bench.models`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from modist.bench import models

    p = subparsers.add_parser("models", help="backbone table: parameters and GFLOPs per view",
                              description="Parameters and GFLOPs (multiply-adds) of one clip per backbone. "
                                          "Without --arch, the reference configurations.")
    models.add_arguments(p)
    p.set_defaults(func=models.run)
