"""``modist pretrain --config RECIPE [--config RECIPE ...] [key=value ...]``: one pretraining run."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
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
    if not args.config:
        print(no_recipe_line(cfg), file=sys.stderr)
    from modist.training.trainer import pretrain

    cfg = fit_to_machine(cfg, asked={o.split("=", 1)[0] for o in overrides})
    first = os.environ.get("RANK", "0") == "0"  # under torchrun only the first process reports
    if cfg.train.logger == "tensorboard" and first:
        print(f"modist: watch with: tensorboard --logdir {Path(cfg.train.out_dir) / 'tensorboard'}", file=sys.stderr)
    try:
        result = pretrain(cfg)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (modist.cli.main turns it into one)
        if first:
            print("\n".join(interrupted_lines(args, cfg)), file=sys.stderr)
        raise
    if result.rank != 0:
        return 0
    if result.complete:
        print(f"{result.out_dir}: already complete at step {result.steps} (train.steps={result.steps}); "
              "its outputs are left as they are (raise train.steps to train on, or --overwrite to start again)")
        return 0
    print(summary_line(result, cfg.method.name))
    print(f"checkpoint, config.yaml, metrics.jsonl, encoder.safetensors and curves.png in {result.out_dir}")
    return 0


def interrupted_lines(args: argparse.Namespace, cfg: PretrainConfig) -> list[str]:
    """Which checkpoint a stopped run kept and the command that continues from it."""
    from modist.models.run_files import numbered_checkpoints

    found = numbered_checkpoints(cfg.train.out_dir)
    if not found:
        return [f"modist: no checkpoint in {cfg.train.out_dir} yet (train.checkpoint_every="
                f"{cfg.train.checkpoint_every}); this command starts the run again:",
                f"  {resume_command(args, has_checkpoint=False)}"]
    step, path = found[-1]
    return [f"modist: kept {path} (step {step} of {cfg.train.steps}); continue with:",
            f"  {resume_command(args, has_checkpoint=True)}"]


def resume_command(args: argparse.Namespace, *, has_checkpoint: bool) -> str:
    """This command line with ``train.resume=auto`` (unless its recipes set it) and without overwriting.

    A ``train.resume=PATH`` stays when the run folder has no checkpoint of its own yet.
    """
    def dropped(item: str) -> bool:
        key, _, value = item.partition("=")
        return key == "train.overwrite" or (key == "train.resume" and (value == "never" or
                                                                       (value != "auto" and has_checkpoint)))

    kept = [item for item in args.overrides if not dropped(item)]
    words = ["modist", "pretrain"]
    for spec in args.config or []:
        words += ["--config", spec]
    words += kept
    cfg = load_config([recipe_path(spec) for spec in args.config or []], kept)
    if cfg.train.resume == "never":
        words.append("train.resume=auto")
    if cfg.train.overwrite:  # set by a recipe: with it, train.resume=auto would start again
        words.append("train.overwrite=false")
    return shlex.join(words)


def no_recipe_line(cfg: PretrainConfig) -> str:
    """What a bare ``modist pretrain`` trains: the built-in defaults are a CPU toy, not a paper recipe."""
    shipped = ", ".join(sorted(p.stem for p in Path(configs.__file__).parent.glob("*.yaml")))
    return (f"modist: no --config: training the built-in defaults ({cfg.model.arch} width {cfg.model.base_width}, "
            f"{cfg.optim.name} lr {cfg.optim.lr:g}, {cfg.motion.estimator} flow gap {cfg.motion.flow_gap}, "
            f"{cfg.train.steps} steps on {cfg.data.dataset}); `modist config show` prints them all; "
            f"shipped recipes: {shipped}")


def summary_line(result, method: str) -> str:
    """Steps this process ran, the loss it names the averaging of, distinct unreadable files."""
    if result.steps_run == 0:  # a run killed while exporting: its last checkpoint was final
        return f"pretrained {method}: the run was at its last step ({result.steps}) already; exported its encoder"
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
    return (f"pretrained {method} for {ran} in {result.seconds:.0f} s ({result.clips_per_sec:.1f} clips/s); "
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
