"""``modist models``: parameters and GFLOPs per view of the backbones (see :mod:`modist.bench.models`)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.cli.bench import models_arguments, run_models

    parser.description = ("Parameters and GFLOPs (multiply-adds) of one clip per backbone. "
                          "Without --arch, the reference configurations.")
    models_arguments(parser)
    parser.set_defaults(func=run_models)
