"""``modist prepare DATASET --out DIR``: transcode a dataset once into a training-friendly form.

    modist prepare DATASET --out DIR [--config RECIPE [key=value ...]] [--short-side 256] [--fps 0]
                   [--gop 16] [--bframes 0] [--codec libx264] [--crf 23] [--preset veryfast]
                   [--motion-crf 18] [--shard i --num-shards n]

With ``--config`` it also writes the recipe's encoded motion input (``DIR/motion``): the copy is
then what the recipe reads, and ``data.dataset=DIR`` trains from it without estimating flow.
One process uses one core; ``torchrun --nproc_per_node=N -m modist.cli.main prepare ...`` (or
``--shard i --num-shards n`` per process or machine) uses N.
"""

from __future__ import annotations

import argparse

from modist.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.data.prepare import PrepareSettings
    from modist.data.prepared import DEFAULT_MOTION_CRF, RECIPE_GOP

    d = PrepareSettings()
    parser.add_argument("dataset", help="dataset spec (folder, manifest, kind:ROOT)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="with --config: recipe overrides")
    parser.add_argument("--out", required=True, help="output folder; then train with data.dataset=DIR")
    parser.add_argument("--config", default=None,
                        help="recipe (name or YAML path): also write its encoded motion input, estimated with its "
                             "motion.estimator at its data.short_side, so training reads it instead of estimating")
    parser.add_argument("--short-side", type=int, default=None,
                        help=f"short side in px (default: the recipe's data.short_side with --config, else "
                             f"{d.short_side}; 0 keeps the size)")
    parser.add_argument("--fps", type=float, default=d.fps, help="frame rate (default: 0 keeps the source's)")
    parser.add_argument("--gop", type=int, default=None,
                        help=f"frames between keyframes (default: {RECIPE_GOP} with --config, else {d.gop})")
    parser.add_argument("--bframes", type=int, default=d.bframes, help=f"B-frames (default: {d.bframes})")
    parser.add_argument("--codec", default=d.codec, help=f"encoder (default: {d.codec})")
    parser.add_argument("--crf", type=int, default=d.crf, help=f"x264 quality, lower is better (default: {d.crf})")
    parser.add_argument("--preset", default=d.preset, help=f"x264 speed preset (default: {d.preset})")
    parser.add_argument("--motion-crf", type=int, default=DEFAULT_MOTION_CRF,
                        help=f"with --config: x264 quality of the motion input, 0 lossless (default: "
                             f"{DEFAULT_MOTION_CRF})")
    parser.add_argument("--device", default=None, help="with --config: device of a batched estimator (raft, "
                                                       "torch_tvl1), e.g. cuda")
    parser.add_argument("--split", default="train", help="dataset split")
    parser.add_argument("--fold", type=int, default=1, help="dataset fold (UCF101/HMDB51)")
    parser.add_argument("--shard", type=int, default=None, help="this shard's index (default: env RANK or 0)")
    parser.add_argument("--num-shards", type=int, default=None, help="number of shards (default: env WORLD_SIZE or 1)")
    parser.set_defaults(func=run)


def _recipe(config: str, overrides: list[str], short_side: int | None):
    """The recipe with ``--short-side`` applied; ConfigError if that contradicts the recipe's short side."""
    from modist.config import load_config
    from modist.configs import recipe_path

    cfg = load_config(recipe_path(config), overrides)
    side = cfg.data.short_side
    if short_side is not None and side and short_side != side:
        raise ConfigError(f"--short-side {short_side} differs from {config}'s data.short_side {side}: the "
                          "motion input is estimated at the size the recipe trains at; drop --short-side")
    if short_side is not None:
        cfg.data.short_side = short_side
    return cfg


def run(args: argparse.Namespace) -> int:
    """Returns 0, or 1 if any video failed."""
    from modist.data.adapters import resolve_dataset
    from modist.data.prepare import PrepareSettings, prepare_records
    from modist.runtime import torchrun_env

    env = torchrun_env()
    shard = args.shard if args.shard is not None else env.rank
    num_shards = args.num_shards if args.num_shards is not None else env.world_size
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise ConfigError(f"--shard {shard} --num-shards {num_shards}: need 0 <= shard < num_shards")
    if args.overrides and not args.config:
        raise ConfigError(f"{' '.join(args.overrides)}: recipe overrides need --config")
    # One core per process: OpenCV's and torch's thread pools cost more CPU than they save here (2.5x the
    # wall time on the 2-core development machine); run one shard per core to use more.
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    rgb = dict(fps=args.fps, bframes=args.bframes, codec=args.codec, crf=args.crf, preset=args.preset)
    motion = None
    if args.config:
        from modist.data.prepared import RECIPE_GOP
        from modist.flow.motion_input import for_recipe

        cfg = _recipe(args.config, list(args.overrides), args.short_side)
        settings, motion = for_recipe(cfg, motion_crf=args.motion_crf, gop=RECIPE_GOP if args.gop is None else args.gop,
                                      device=args.device, **rgb)
    else:
        d = PrepareSettings()
        settings = PrepareSettings(short_side=d.short_side if args.short_side is None else args.short_side,
                                   gop=d.gop if args.gop is None else args.gop, **rgb)
    dataset = resolve_dataset(args.dataset, split=args.split, fold=args.fold)
    summary = prepare_records(dataset.records, args.out, settings, class_names=dataset.class_names,
                              split=args.split, shard=shard, num_shards=num_shards, progress=True, motion=motion)
    for error in summary.errors[:20]:
        print(f"failed: {error}")
    motion_part = (f" ({summary.motion_bytes / 1e9:.3g} GB motion input)" if motion is not None else "")
    rate = ""
    if summary.done and summary.wall_seconds:
        rate = (f"; {summary.done_seconds / summary.wall_seconds:.1f} video-seconds per second, "
                f"{summary.cpu_per_video_second:.2f} CPU s per video-second")
    print(f"prepared {summary.done} videos ({summary.kept} already there, {summary.failed} failed) in {args.out}: "
          f"{summary.seconds:.0f} s of video, {summary.bytes / 1e9:.3g} GB{motion_part}, "
          f"{summary.bytes_per_second / 1e3:.1f} kB per video-second{rate}; train with data.dataset={args.out}")
    return 1 if summary.failed else 0
