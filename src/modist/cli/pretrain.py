"""``modist pretrain --config RECIPE [--config RECIPE ...] [key=value ...]``: one pretraining run."""

from __future__ import annotations

import argparse

from modist.config import load_config
from modist.configs import recipe_path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Pretrain MoDist (or a baseline) from YAML recipes. Several --config merge in order "
                          "(later ones win), then the overrides, which use dotted keys, "
                          "e.g. method.name=rgb_only train.steps=200 data.dataset=ucf101:/data/UCF101.")
    parser.add_argument("--config", action="append", metavar="RECIPE",
                        help="YAML config file, or the name of a shipped recipe (e.g. demo); repeatable")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The config first: a bad recipe is reported before the seconds torch takes to import.
    cfg = load_config([recipe_path(spec) for spec in args.config or []], args.overrides)
    from modist.training.trainer import pretrain

    result = pretrain(cfg)
    if result.rank != 0:  # under torchrun only the first process reports
        return 0
    first, last = result.loss_drop()
    print(f"pretrained {cfg.method.name} for {result.steps} steps in {result.seconds:.0f} s "
          f"({result.clips_per_sec:.1f} videos/s); loss {first:.3f} -> {last:.3f}; "
          f"skipped {result.skipped_videos} unreadable video(s)")
    print(f"checkpoint, config.yaml, encoder.safetensors and curves.png in {result.out_dir}")
    return 0
