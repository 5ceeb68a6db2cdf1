"""``modist explain``: saliency overlays of encoders on a video or a dataset (:mod:`modist.evaluation.explain`).

Their numbers are ``modist eval saliency`` and ``modist eval probe`` (:mod:`modist.cli.probes`).

Example:
    modist explain --checkpoint runs/modist --checkpoint runs/rgb_only --input synth:data/synth --out explain/
    modist explain --checkpoint runs/modist --input clip.mp4 --out explain/ --clips 3
"""

from __future__ import annotations

import argparse

from modist.cli.common import device_flags, setup


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Spatio-temporal saliency of one or more encoders on a video or a dataset: a GIF per clip "
                          "(frame | heat overlay) and a PNG contact sheet with the encoders side by side.")
    p = parser
    p.add_argument("--checkpoint", action="append", required=True,
                   help="run directory or encoder.safetensors; repeat to compare encoders on the same clips")
    p.add_argument("--label", action="append", help="column name per --checkpoint (default: the run folder's name)")
    p.add_argument("--input", action="append", required=True,
                   help="a video file, or a dataset spec (synth:DIR, a folder, ...); repeat to mix inputs")
    p.add_argument("--split", help="dataset split (default: test_unbiased for synth, test otherwise)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--max-videos", type=int, default=4,
                   help="videos per dataset input, a seeded random subset (default 4)")
    p.add_argument("--clips", type=int, default=1, help="uniformly spaced clips per video (default 1)")
    p.add_argument("--map", choices=("activation", "gradient", "both"), default="both",
                   help="activation norm, Grad-CAM towards the clip's positive, or both (default)")
    p.add_argument("--classifier", action="append",
                   help="finetuned.safetensors (modist eval finetune) per --checkpoint, in order, or 'none': adds "
                        "Grad-CAM towards the finetuned model's predicted class")
    p.add_argument("--fps", type=float, default=4.0, help="GIF frame rate (default 4)")
    p.add_argument("--scale", type=int, default=0, help="GIF pixel repeat (default 0: to at least 128 px)")
    device_flags(p)
    p.set_defaults(func=run)


def _labels(args: argparse.Namespace) -> list[str]:
    """A column name per --checkpoint; errors name the flags."""
    from modist.errors import ConfigError
    from modist.evaluation.explain import default_labels

    if args.label and len(args.label) != len(args.checkpoint):
        raise ConfigError(f"--label given {len(args.label)} time(s) for {len(args.checkpoint)} --checkpoint")
    labels = args.label or default_labels(args.checkpoint)
    if len(set(labels)) != len(labels):
        raise ConfigError("--checkpoint folders share a name; tell them apart with --label")
    if args.classifier and len(args.classifier) != len(args.checkpoint):
        raise ConfigError(f"--classifier given {len(args.classifier)} time(s) for {len(args.checkpoint)} "
                          "--checkpoint (use 'none' for a checkpoint without one)")
    return labels


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modist.atomic import write_json
    from modist.evaluation.explain import explain
    from modist.evaluation.saliency import MAPS

    device = setup(args)
    labels = _labels(args)
    result = explain(checkpoints=args.checkpoint, inputs=args.input, out=args.out, labels=labels,
                     classifiers=args.classifier, maps=MAPS if args.map == "both" else (args.map,), split=args.split,
                     max_videos=args.max_videos, clips=args.clips, fps=args.fps, scale=args.scale, device=device,
                     seed=args.seed, progress=not args.no_progress)
    write_json(Path(args.out) / "explain.json", result.to_json())
    print(f"explained {result.clips} clip(s) of {result.videos} video(s) with {len(labels)} encoder(s) in "
          f"{result.seconds:.0f} s; skipped {result.skipped} unreadable video(s); {len(result.gifs)} GIFs and "
          f"{result.contact_sheet}")
    return 0
