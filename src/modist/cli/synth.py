"""``modist synth --out DIR``: generate the synthetic motion benchmark.

Example:
    modist synth --out data/synth --seed 0
    modist synth --out /tmp/tiny --train-per-class 2 --test-per-class 1 --num-frames 16
    modist synth --like demo_out/data --seed 1 --out data/fresh   # same design, new videos
"""

from __future__ import annotations

import argparse

from modist.synth.config import DetectionSynthConfig, SynthConfig

_DEFAULTS = SynthConfig()
_DET = DetectionSynthConfig()
# (option, SynthConfig field, type, help); each defaults to --like's value, else SynthConfig's.
_FIELDS = (
    ("--size", "size", int, "frame height = width in px"),
    ("--num-frames", "num_frames", int, "frames per video"),
    ("--fps", "fps", int, "frame rate written to the videos"),
    ("--train-per-class", "train_per_class", int, "training videos per class"),
    ("--test-per-class", "test_per_class", int, "per class, for each test split"),
    ("--train-unbiased-per-class", "train_unbiased_per_class", int,
     "per class, for a second training split without scene bias (train_unbiased)"),
    ("--scene-bias", "scene_bias", float,
     "probability that a train/test_biased video's background family is its class's own"),
    ("--distractors", "num_distractors", int, "distractor shapes per video"),
    ("--actor-scale", "actor_scale", float, "actor size relative to the default 14-22 px at 64 px"),
    ("--texture-scale", "texture_scale", float, "actor texture period relative to the default"),
    ("--crf", "crf", int, "H.264 quality (lower is better)"),
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Generate videos whose class is defined only by the actor's motion; "
                          "the background family predicts the class with probability --scene-bias in the "
                          "train and test_biased splits and not at all in test_unbiased.")
    parser.add_argument("--out", required=True, help="output folder (reused if already complete)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--like", metavar="DIR",
                        help="start from the settings of an existing benchmark (its synth.json); "
                             "options given here still apply")
    for option, field, kind, text in _FIELDS:
        parser.add_argument(option, dest=field, type=kind, default=None,
                            help=f"{text} (default {getattr(_DEFAULTS, field)})")
    parser.add_argument("--no-pan", action="store_true", help="no camera pan (default: pan with probability 0.5)")
    parser.add_argument("--camouflage", action="store_true",
                        help="draw the background from the actor's own texture, so only its motion singles it out "
                             "(the demo's saliency split)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core)")
    parser.add_argument("--task", choices=("classification", "detection"), default="classification",
                        help="detection: 2-3 actors per video, each with its own motion classes, written in the AVA "
                             "file formats (see docs/detection.md); takes --size, --fps, --scene-bias, --distractors, "
                             "--actor-scale, --texture-scale, --crf, --no-pan, --seed and the options below")
    parser.add_argument("--train-videos", type=int, help=f"detection: training videos (default {_DET.train_videos})")
    parser.add_argument("--val-videos", type=int,
                        help=f"detection: validation videos, for choosing settings (default {_DET.val_videos})")
    parser.add_argument("--test-videos", type=int,
                        help=f"detection: videos in each of test_biased and test_unbiased (default {_DET.test_videos})")
    parser.add_argument("--seconds", type=int, help=f"detection: seconds per video (default {_DET.seconds})")
    parser.add_argument("--multi-label", type=float,
                        help=f"detection: probability that an actor carries two actions (default {_DET.multi_label})")
    parser.set_defaults(func=run)


def base_config(like: str | None) -> SynthConfig:
    """SynthConfig's defaults, or the config recorded in ``like``/synth.json."""
    import json
    from pathlib import Path

    from modist.errors import ConfigError, DataError

    if like is None:
        return _DEFAULTS
    path = Path(like) / "synth.json" if Path(like).is_dir() or not Path(like).suffix else Path(like)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not found; --like needs a folder written by modist synth") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise DataError(f"{path}: no 'config' object")
    try:
        return SynthConfig.from_dict(info["config"])
    except ConfigError as exc:
        raise DataError(f"{path}: {exc}") from None
    except TypeError as exc:
        raise DataError(f"{path}: bad config ({exc})") from None


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from modist.errors import ConfigError
    from modist.synth.generate import generate

    if args.task == "detection":
        return _run_detection(args)
    given = {field: getattr(args, field) for _, field, _, _ in _FIELDS}
    config = replace(base_config(args.like), **{k: v for k, v in given.items() if v is not None})
    if args.no_pan:
        config = replace(config, camera_pan_prob=0.0)
    if args.camouflage:
        config = replace(config, camouflage=True)
    config.validate()
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"synth: --workers must be >= 1, got {args.workers}")
    generate(args.out, config, seed=args.seed, progress=True, workers=args.workers)
    return 0


def _run_detection(args: argparse.Namespace) -> int:
    from modist.synth.detection import generate_detection, with_overrides

    cfg = with_overrides(_DET, train_videos=args.train_videos, val_videos=args.val_videos, test_videos=args.test_videos,
                         seconds=args.seconds, multi_label=args.multi_label, fps=args.fps, size=args.size,
                         scene_bias=args.scene_bias, num_distractors=args.num_distractors,
                         actor_scale=args.actor_scale, texture_scale=args.texture_scale, crf=args.crf, seed=args.seed,
                         camera_pan_prob=0.0 if args.no_pan else None)
    out = generate_detection(args.out, cfg, progress=True)
    print(f"wrote {cfg.train_videos} training, {cfg.val_videos} validation and 2 x {cfg.test_videos} test videos "
          f"(test_biased, test_unbiased) in the AVA layout to {out}; evaluate with: "
          f"modist eval detect --checkpoint RUN --dataset synth-det:{out} --test-split test_unbiased")
    return 0
