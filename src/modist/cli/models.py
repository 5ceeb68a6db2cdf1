"""``modist models``: parameters and GFLOPs per view of the backbones (see :mod:`modist.bench.models`)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.bench import models

    parser.description = ("Parameters and GFLOPs (multiply-adds) of one clip per backbone. "
                          "Without --arch, the reference configurations.")
    models.add_arguments(parser)
    parser.set_defaults(func=models.run)
