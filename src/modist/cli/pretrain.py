"""``modist pretrain --config RECIPE [--config RECIPE ...] [key=value ...]``: one pretraining run."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from modist import configs
from modist.config import PretrainConfig, load_config
from modist.configs import recipe_path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Pretrain MoDist (or a baseline) from YAML recipes. Several --config merge in order "
                          "(later ones win), then the overrides, which use dotted keys, "
                          "e.g. method.name=rgb_only train.steps=200 data.dataset=ucf101:/data/UCF101. "
                          "A folder that holds another run is refused unless train.resume=auto (continue it) "
                          "or --overwrite (replace it).")
    shipped = sorted(p.stem for p in Path(configs.__file__).parent.glob("*.yaml"))
    parser.add_argument("--config", action="append", metavar="RECIPE",
                        help=f"YAML config file, or a shipped recipe: {', '.join(shipped)}; repeatable")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run already in train.out_dir (same as train.overwrite=true)")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The config first: a bad recipe is reported before the seconds torch takes to import.
    overrides = list(args.overrides) + (["train.overwrite=true"] if args.overwrite else [])
    cfg = load_config([recipe_path(spec) for spec in args.config or []], overrides)
    from modist.training.trainer import pretrain

    cfg = fit_to_machine(cfg, asked={o.split("=", 1)[0] for o in overrides})
    result = pretrain(cfg)
    if result.rank != 0:  # under torchrun only the first process reports
        return 0
    print(summary_line(result, cfg.method.name))
    print(f"checkpoint, config.yaml, encoder.safetensors and curves.png in {result.out_dir}")
    return 0


def summary_line(result, method: str) -> str:
    """Steps this process ran, the loss it names the averaging of, distinct unreadable files."""
    window = min(20, len(result.history) // 2)
    ran = f"{result.steps_run} steps"
    if result.start_step:
        ran += f" (steps {result.start_step + 1}-{result.steps}, resumed at step {result.start_step})"
    if window >= 1:
        first, last = result.loss_drop(window)
        loss = f"loss (mean of the run's first / last {window} steps) {first:.3f} -> {last:.3f}"
    elif result.history:
        loss = f"loss at step {result.history[-1]['step']} {result.history[-1]['loss']:.3f}"
    else:
        loss = "no steps logged"
    skipped = f"; skipped {result.skipped_videos} unreadable video file(s)" if result.skipped_videos else ""
    return (f"pretrained {method} for {ran} in {result.seconds:.0f} s ({result.clips_per_sec:.1f} videos/s); "
            f"{loss}{skipped}")


def fit_to_machine(cfg: PretrainConfig, *, asked: set[str]) -> PretrainConfig:
    """A GPU recipe started on a CPU, or more loader workers than cores: adjusted, one line each.

    What the command line set explicitly (``asked``) is kept as it is.
    """
    import torch

    t, d = cfg.train, cfg.data
    changes: dict[str, dict] = {"train": {}, "data": {}}
    on_cpu = t.device == "cpu" or (t.device == "auto" and not torch.cuda.is_available()
                                   and not torch.backends.mps.is_available())
    if on_cpu:
        if t.compile and "train.compile" not in asked:
            changes["train"]["compile"] = False
        if t.precision != "fp32" and "train.precision" not in asked:
            changes["train"]["precision"] = "fp32"
        if changes["train"]:
            print(f"modist: no GPU here: running this GPU recipe on the CPU with "
                  f"{', '.join(f'train.{k}={v}' for k, v in changes['train'].items()).replace('False', 'false')} "
                  "(set them on the command line to keep the recipe's)", file=sys.stderr)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if d.num_workers > cores and "data.num_workers" not in asked:
        changes["data"]["num_workers"] = cores
        print(f"modist: data.num_workers={d.num_workers} is more than the {cores} CPU core(s) here; "
              f"using {cores}", file=sys.stderr)
    if not any(changes.values()):
        return cfg
    return dataclasses.replace(cfg, train=dataclasses.replace(t, **changes["train"]),
                               data=dataclasses.replace(d, **changes["data"]))
