"""``modist bench WHAT``: benchmarks that print figures (never assertions).

Each benchmark is a module ``modist.bench.<name>`` with a settings dataclass and a
function that measures and returns a result; here each gets its flags (``_<name>_arguments``),
which become its settings, and its printout (``_run_<name>``). ``models`` is the table of
``modist models``, whose flags :mod:`modist.cli.models` owns.
"""

from __future__ import annotations

import argparse

from modist.choices import CROSS_VIEWS, OPTIMIZERS, PRECISIONS
from modist.errors import ConfigError

BENCHMARKS = {
    # name: one-line help
    "flow": "optical flow: average EPE on ground-truth pairs and pairs/s per method",
    "data": "CPU ms per training sample by stage on the path `modist pretrain --config` runs",
    "train": "MoDist training step on random tensors: clips/s, peak memory, model FLOP utilisation",
    "pretrain": "end-to-end training rate (real loader + step) against the step alone, and device idle time",
    "models": "backbone table: parameters and GFLOPs per view",
}


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.cli.models import models_arguments, run_models  # `bench models` is `modist models`

    sub = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    arguments = {"flow": _flow_arguments, "data": _data_arguments, "train": _train_arguments,
                 "pretrain": _pretrain_arguments, "models": models_arguments}
    runners = {"flow": _run_flow, "data": _run_data, "train": _run_train, "pretrain": _run_pretrain,
               "models": run_models}
    for name, help_text in BENCHMARKS.items():
        bench_parser = sub.add_parser(name, help=help_text)
        arguments[name](bench_parser)
        bench_parser.set_defaults(func=runners[name])


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _flow_arguments(parser: argparse.ArgumentParser) -> None:
    from modist.bench.flow import DEFAULT_ESTIMATORS

    parser.add_argument("--pairs", default="../shared/data/flow/pairs.csv", help="pairs.csv with GT flow")
    parser.add_argument("--no-stereo", action="store_true", help="skip the stereo pairs beside pairs.csv")
    parser.add_argument(
        "--estimators", default=DEFAULT_ESTIMATORS,
        help=f"comma list of METHOD or dis:PRESET (default {DEFAULT_ESTIMATORS}; raft added if available)",
    )
    parser.add_argument("--max-side", type=int, default=384, help="downscale pairs to this longer side (0: native)")
    parser.add_argument("--speed-pairs", type=int, default=8, help="224x224 crops timed per estimator (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch intra-op threads")
    parser.add_argument("--device", default=None, help="device for torch_tvl1 / raft (default: cuda if available)")
    parser.add_argument("--out", default=None, help="also write the markdown table here")


def _run_flow(args: argparse.Namespace) -> int:
    from modist.atomic import write_text
    from modist.bench.flow import FlowBenchSettings, run_flow_bench

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    settings = FlowBenchSettings(pairs=args.pairs, stereo=not args.no_stereo, estimators=args.estimators,
                                 max_side=args.max_side, speed_pairs=args.speed_pairs, threads=args.threads,
                                 device=args.device)
    result = run_flow_bench(settings)
    report = result.markdown()
    print(report, end="")
    if args.out:
        write_text(args.out, report)
    best = result.best
    print(
        f"flow bench: {len(result.estimators)} estimators x {len(result.pairs)} pairs in {result.seconds:.0f} s; "
        f"lowest mean EPE {best.mean_epe:.3f} ({best.label})" + (f"; table written to {args.out}" if args.out else "")
    )
    return 0


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    from modist.bench.data import DataBenchSettings

    default = DataBenchSettings()
    parser.add_argument("--config", default=default.config,
                        help=f"recipe (name or YAML path) whose data path is timed (default: {default.config})")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, as for `modist pretrain`")
    parser.add_argument("--dataset", default=None,
                        help="dataset spec (kind:ROOT or a folder) or comma-separated video files "
                             "(default: the recipe's data.dataset, when it exists on this machine)")
    parser.add_argument("--samples", type=int, default=default.samples,
                        help=f"training samples timed (default: {default.samples})")
    parser.add_argument("--batch-size", type=int, default=default.batch_size,
                        help=f"samples per loader batch (default: {default.batch_size})")
    parser.add_argument("--no-motion", action="store_true", help="time the RGB clips only (no flow)")
    parser.add_argument("--no-floor", action="store_true", help="skip the decode-floor measurement")


def _run_data(args: argparse.Namespace) -> int:
    from modist.bench.data import DataBenchSettings, dataset_available, run_data_bench
    from modist.config import load_config
    from modist.configs import recipe_path

    if args.samples < 1 or args.batch_size < 1:
        raise ConfigError("--samples and --batch-size must be >= 1")
    dataset = "" if args.dataset in (None, "config") else args.dataset  # "config": older command lines spelled it so
    if not dataset:
        recipe = load_config(recipe_path(args.config), list(args.overrides)).data.dataset
        if not dataset_available(recipe):
            raise ConfigError(f"{args.config}: its data.dataset {recipe} is not on this machine; name the videos "
                              "to time with --dataset (a folder, kind:ROOT, or FILE,FILE,...)")
    settings = DataBenchSettings(config=args.config, overrides=tuple(args.overrides), dataset=dataset,
                                 samples=args.samples, batch_size=args.batch_size, motion=not args.no_motion,
                                 floor=not args.no_floor)
    result = run_data_bench(settings, on_setup=print)
    print(result.table(), end="")
    print(result.last_line())
    return 0


def _pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    from modist.bench.pretrain import PretrainBenchSettings

    default = PretrainBenchSettings()
    parser.add_argument("--config", default=default.config, help="recipe (name or YAML path) to time")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, as for `modist pretrain`")
    parser.add_argument("--steps", type=int, default=default.steps, help="timed optimiser steps per half")
    parser.add_argument("--warmup", type=int, default=default.warmup, help="untimed steps first")


def _run_pretrain(args: argparse.Namespace) -> int:
    from modist.bench.pretrain import PretrainBenchSettings, run_pretrain_bench

    if args.steps < 1 or args.warmup < 1:
        raise ConfigError("--steps and --warmup must be >= 1")
    result = run_pretrain_bench(PretrainBenchSettings(config=args.config, overrides=tuple(args.overrides),
                                                      steps=args.steps, warmup=args.warmup))
    print(result.setup)
    print(result.table(), end="")
    print(result.last_line())
    return 0


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from modist.bench.train import ARCH_DEFAULTS

    parser.add_argument("--arch", default="slow_r50,r3d_18,r3d_tiny",
                        help=f"comma-separated visual backbones ({', '.join(ARCH_DEFAULTS)})")
    parser.add_argument("--batch", type=int, default=0, help="clips per step (default: per arch and device)")
    parser.add_argument("--frames", type=int, default=0, help="frames per clip (default: per arch and device)")
    parser.add_argument("--size", type=int, default=0, help="crop size (default: per arch and device)")
    parser.add_argument("--queue-size", type=int, default=65536)
    parser.add_argument("--steps", type=int, default=5, help="timed steps (default: 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
    parser.add_argument("--compile", action="store_true", help="also time with torch.compile of every pathway")
    parser.add_argument("--no-eager", action="store_true", help="with --compile: skip the eager measurement")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="", choices=["", *PRECISIONS],
                        help="autocast precision (default: bf16 on CUDA, fp32 elsewhere)")
    parser.add_argument("--channels-last", default="auto", choices=["auto", "on", "off"],
                        help="channels_last_3d networks and inputs (auto: on for CUDA)")
    parser.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    parser.add_argument("--cross-view", default="", choices=["", *CROSS_VIEWS],
                        help="cross-modal key from the same clip or the other clip (default: the config's)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--peak-tflops", type=float, default=0.0,
                        help="device peak for the utilisation column (default: known GPUs; CPU: n/a)")


def _run_train(args: argparse.Namespace) -> int:
    from modist.bench.train import ARCH_DEFAULTS, TrainBenchSettings, plan_train_bench, run_train_bench
    from modist.runtime import resolve_device

    resolve_device(args.device, flag="--device")
    archs = _names(args.arch)
    for arch in archs or ("",):
        if arch not in ARCH_DEFAULTS:
            raise ConfigError(f"unknown --arch {arch!r}; choose from {', '.join(ARCH_DEFAULTS)}")
    if args.no_eager and not args.compile:
        raise ConfigError("--no-eager needs --compile")
    settings = TrainBenchSettings(archs=archs, batch=args.batch, frames=args.frames, size=args.size,
                                  queue_size=args.queue_size, steps=args.steps, warmup=args.warmup,
                                  compile=args.compile, eager=not args.no_eager, device=args.device,
                                  precision=args.precision, channels_last=args.channels_last,
                                  optimizer=args.optimizer, cross_view=args.cross_view, threads=args.threads,
                                  peak_tflops=args.peak_tflops)
    plan = plan_train_bench(settings)
    print(plan.describe())
    result = run_train_bench(plan)
    print(result.markdown(), end="")
    best = result.fastest
    print(f"fastest: {best.arch} {best.mode} at {best.clips_per_sec:.1f} clips/s")
    return 0
