"""``modist prepare DATASET --out DIR``: transcode a dataset once into a training-friendly form.

    modist prepare DATASET --out DIR [--short-side 256] [--fps 0] [--gop 16] [--bframes 0]
                   [--codec libx264] [--crf 23] [--preset veryfast] [--shard i --num-shards n]
"""

from __future__ import annotations

import argparse

from modist.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.data.prepare import PrepareSettings

    d = PrepareSettings()
    parser.add_argument("dataset", help="dataset spec (folder, manifest, kind:ROOT)")
    parser.add_argument("--out", required=True, help="output folder; then train with data.dataset=DIR")
    parser.add_argument("--short-side", type=int, default=d.short_side, help=f"short side in px (default: "
                                                                             f"{d.short_side}; 0 keeps the size)")
    parser.add_argument("--fps", type=float, default=d.fps, help="frame rate (default: 0 keeps the source's)")
    parser.add_argument("--gop", type=int, default=d.gop, help=f"frames between keyframes (default: {d.gop})")
    parser.add_argument("--bframes", type=int, default=d.bframes, help=f"B-frames (default: {d.bframes})")
    parser.add_argument("--codec", default=d.codec, help=f"encoder (default: {d.codec})")
    parser.add_argument("--crf", type=int, default=d.crf, help=f"x264 quality, lower is better (default: {d.crf})")
    parser.add_argument("--preset", default=d.preset, help=f"x264 speed preset (default: {d.preset})")
    parser.add_argument("--split", default="train", help="dataset split")
    parser.add_argument("--fold", type=int, default=1, help="dataset fold (UCF101/HMDB51)")
    parser.add_argument("--shard", type=int, default=None, help="this shard's index (default: env RANK or 0)")
    parser.add_argument("--num-shards", type=int, default=None, help="number of shards (default: env WORLD_SIZE or 1)")
    parser.set_defaults(func=run)


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
    settings = PrepareSettings(short_side=args.short_side, fps=args.fps, gop=args.gop, bframes=args.bframes,
                               codec=args.codec, crf=args.crf, preset=args.preset)
    dataset = resolve_dataset(args.dataset, split=args.split, fold=args.fold)
    summary = prepare_records(dataset.records, args.out, settings, class_names=dataset.class_names,
                              split=args.split, shard=shard, num_shards=num_shards, progress=True)
    for error in summary.errors[:20]:
        print(f"failed: {error}")
    print(f"prepared {summary.done} videos ({summary.kept} already there, {summary.failed} failed) in {args.out}: "
          f"{summary.seconds:.0f} s of video, {summary.bytes / 1e6:.1f} MB, "
          f"{summary.bytes_per_second / 1e3:.1f} kB per video-second; train with data.dataset={args.out}")
    return 1 if summary.failed else 0
