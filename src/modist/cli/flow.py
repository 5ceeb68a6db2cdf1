"""``modist flow``: visualise flow of a video, or precompute motion input for a dataset.

    modist flow --visualize VIDEO --out FILE.gif|mp4 [--estimator dis --preset medium]
    modist flow DATASET --out DIR [--estimator dis --preset medium] [--flow-gap 1]
                [--flow-direction forward|backward] [--shard i --num-shards n] [--workers k]
"""

from __future__ import annotations

import argparse

from modist.choices import FLOW_DIRECTIONS
from modist.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", nargs="?", help="dataset spec (folder, manifest, kind:ROOT) to precompute")
    parser.add_argument("--visualize", metavar="VIDEO", help="write frame | flow colour | flow edges for VIDEO")
    parser.add_argument("--out", required=True, help="output .gif/.mp4 (--visualize) or cache folder")
    parser.add_argument("--estimator", default="dis", help="flow estimator (dis, farneback, tvl1, torch_tvl1, raft)")
    parser.add_argument("--preset", default=None, help="DIS preset: ultrafast, fast, medium (default)")
    parser.add_argument("--flow-gap", type=int, default=1, help="frames between the two frames of a flow pair")
    parser.add_argument("--flow-direction", choices=FLOW_DIRECTIONS, default="forward",
                        help="flow from frame t to t + flow_gap (forward, default) or to t - flow_gap, clamped to "
                             "the first frame (backward, the authors'); match motion.flow_direction of the runs "
                             "that read the store")
    parser.add_argument("--short-side", type=int, default=None, help="resize frames to this short side first")
    parser.add_argument("--max-frames", type=int, default=90, help="--visualize: frames to read")
    parser.add_argument("--split", default="train", help="dataset split")
    parser.add_argument("--fold", type=int, default=1, help="dataset fold (UCF101/HMDB51)")
    parser.add_argument("--shard", type=int, default=None, help="this shard's index (default: env RANK or 0)")
    parser.add_argument("--num-shards", type=int, default=None, help="number of shards (default: env WORLD_SIZE or 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes computing flow")
    parser.add_argument("--compress-level", type=int, default=6, help="deflate level of the store files (0-9)")
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    if args.preset and args.estimator != "dis":
        raise ConfigError(f"--preset applies to --estimator dis only, got --estimator {args.estimator}")
    if args.estimator == "dis":
        # Named even when it is the default, so that a store's settings say which preset made it
        # (stores made before the default became medium recorded no preset and are redone).
        return {"preset": args.preset or "medium"}
    return {}


def run(args: argparse.Namespace) -> int:
    if args.flow_gap < 1:
        raise ConfigError(f"--flow-gap must be >= 1, got {args.flow_gap}")
    if args.visualize:
        if args.dataset:
            raise ConfigError("give either --visualize VIDEO or a DATASET, not both")
        return _visualize(args)
    if not args.dataset:
        raise ConfigError("missing DATASET (or --visualize VIDEO)")
    return _precompute(args)


def _precompute(args: argparse.Namespace) -> int:
    """Returns 0, or 1 if some videos failed (each named); none readable is an error (exit status 2)."""
    from modist.flow.precompute import PrecomputeSettings, precompute_dataset

    if args.shard is not None and args.num_shards is not None and not 0 <= args.shard < args.num_shards:
        raise ConfigError(f"--shard {args.shard} --num-shards {args.num_shards}: need 0 <= shard < num_shards")
    if args.num_shards is not None and args.num_shards < 1:
        raise ConfigError(f"--num-shards must be >= 1, got {args.num_shards}")
    if args.shard is not None and args.shard < 0:
        raise ConfigError(f"--shard must be >= 0, got {args.shard}")
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if not 0 <= args.compress_level <= 9:
        raise ConfigError(f"--compress-level must be 0..9, got {args.compress_level}")
    settings = PrecomputeSettings(estimator=args.estimator, options=_options(args), flow_gap=args.flow_gap,
                                  flow_direction=args.flow_direction, short_side=args.short_side,
                                  compress_level=args.compress_level)
    summary = precompute_dataset(args.dataset, args.out, settings, shard=args.shard, num_shards=args.num_shards,
                                 workers=args.workers, split=args.split, fold=args.fold)
    if summary.videos and summary.failed == summary.videos:
        from modist.errors import DataError

        raise DataError(f"{args.dataset}: none of the {summary.videos} video(s) could be read, e.g. "
                        f"{summary.failures[0] if summary.failures else '?'}")
    for error in summary.failures:
        print(f"flow: failed: {error}")
    print(
        f"flow: shard {summary.shard}/{summary.num_shards}: {summary.videos} videos ({summary.done} done, "
        f"{summary.redone} redone, {summary.skipped} skipped, {summary.failed} failed), "
        f"{summary.pairs} pairs, {summary.bytes / 1e6:.1f} MB "
        f"({summary.bytes_per_video_second / 1e3:.0f} kB per video-second), "
        f"{summary.pairs_per_second:.0f} pairs/s per worker, {summary.wall_seconds:.0f} s"
    )
    return 1 if summary.failed else 0


def _visualize(args: argparse.Namespace) -> int:
    from modist.data.video import read_video
    from modist.flow.visualize import FORMATS, flow_panels, write_animation

    if not args.out.lower().endswith(FORMATS):
        raise ConfigError(f"--out {args.out}: use a .gif or .mp4 file name")
    video = read_video(args.visualize, max_frames=args.max_frames, short_side=args.short_side)
    if len(video.frames) <= args.flow_gap:
        raise ConfigError(f"{args.visualize}: {len(video.frames)} frame(s), need more than --flow-gap {args.flow_gap}")
    panels = flow_panels(video.frames, estimator=args.estimator, flow_gap=args.flow_gap, progress=True,
                         flow_direction=args.flow_direction, **_options(args))
    write_animation(args.out, panels, fps=video.fps or 10.0)
    h, w = panels.shape[1:3]
    print(f"flow: wrote {len(panels)} frames ({w}x{h}: frame | flow colour | flow edges) to {args.out}")
    return 0
