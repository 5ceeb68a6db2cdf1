"""``modist synth --out DIR``: generate the synthetic motion benchmark.

Example:
    modist synth --out data/synth --seed 0
    modist synth --out /tmp/tiny --train-per-class 2 --test-per-class 1 --num-frames 16
"""

from __future__ import annotations

import argparse

from modist.synth.config import SynthConfig

_DEFAULTS = SynthConfig()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Generate videos whose class is defined only by the actor's motion; "
                          "the background family predicts the class with probability --scene-bias in the "
                          "train and test_biased splits and not at all in test_unbiased.")
    parser.add_argument("--out", required=True, help="output folder (reused if already complete)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--size", type=int, default=_DEFAULTS.size, help="frame height = width in px")
    parser.add_argument("--num-frames", type=int, default=_DEFAULTS.num_frames, help="frames per video")
    parser.add_argument("--fps", type=int, default=_DEFAULTS.fps, help="frame rate written to the videos")
    parser.add_argument("--train-per-class", type=int, default=_DEFAULTS.train_per_class)
    parser.add_argument(
        "--test-per-class", type=int, default=_DEFAULTS.test_per_class, help="per class, for each test split"
    )
    parser.add_argument(
        "--scene-bias", type=float, default=_DEFAULTS.scene_bias,
        help="probability that a train/test_biased video's background family is its class's own",
    )
    parser.add_argument("--no-pan", action="store_true", help="no camera pan (default: pan with probability 0.5)")
    parser.add_argument("--distractors", type=int, default=_DEFAULTS.num_distractors,
                        help="distractor shapes per video")
    parser.add_argument("--crf", type=int, default=_DEFAULTS.crf, help="H.264 quality (lower is better)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modist.errors import ConfigError
    from modist.synth.generate import generate

    config = SynthConfig(
        size=args.size,
        num_frames=args.num_frames,
        fps=args.fps,
        train_per_class=args.train_per_class,
        test_per_class=args.test_per_class,
        scene_bias=args.scene_bias,
        num_distractors=args.distractors,
        camera_pan_prob=0.0 if args.no_pan else _DEFAULTS.camera_pan_prob,
        crf=args.crf,
    ).validate()
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"synth: --workers must be >= 1, got {args.workers}")
    generate(args.out, config, seed=args.seed, progress=True, workers=args.workers)
    return 0
