"""``modist bench WHAT``: benchmarks that print figures (never assertions).

Each benchmark is a module ``modist.bench.<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    # name: one-line help
    "flow": "optical flow: average EPE on ground-truth pairs and pairs/s per method",
    "data": "video loading throughput: decode, + flow, + augmentation; memory",
    "train": "MoDist training step on random tensors: clips/s, peak memory, model FLOP utilisation",
    "models": "backbone table: parameters and GFLOPs per view",
}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for name, help_text in BENCHMARKS.items():
        module = importlib.import_module(f"modist.bench.{name}")
        bench_parser = sub.add_parser(name, help=help_text)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(func=module.run)
