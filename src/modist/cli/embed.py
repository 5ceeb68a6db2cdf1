"""``modist embed --checkpoint CKPT --input DATASET_OR_DIR --out FILE.npz``: one embedding per video.

Example:
    modist embed --checkpoint runs/modist --input synth:data/synth --split test_unbiased --out emb.npz
    modist embed --checkpoint runs/modist/encoder.safetensors --input clips/ --out clips.npz --device cuda
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Write one embedding per video (the encoder's pooled feature averaged over N uniformly "
                          "spaced, centre-cropped clips) to an .npz with arrays paths, embeddings (and labels, "
                          "class_names when the dataset has them). Unreadable videos are skipped and counted.")
    parser.add_argument("--checkpoint", required=True, help="run directory or encoder.safetensors")
    parser.add_argument("--input", required=True, help="dataset spec (kind:ROOT) or a folder of videos")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--split", default="train",
                        help="dataset split (default train; a plain folder uses all videos)")
    parser.add_argument("--fold", type=int, default=1, help="UCF101/HMDB51 split number (default 1)")
    parser.add_argument("--num-clips", type=int, default=4, help="clips per video (default 4)")
    parser.add_argument("--batch-size", type=int, default=8, help="videos per batch (default 8)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    parser.add_argument("--clip-frames", type=int, help="frames per clip (default: the encoder's)")
    parser.add_argument("--stride", type=int, help="frame stride within a clip (default: the encoder's)")
    parser.add_argument("--crop-size", type=int, help="crop side in pixels (default: the encoder's)")
    parser.add_argument("--workers", type=int, default=0, help="data-loading processes (default 0: in process)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import time

    import torch

    from modist.errors import ConfigError
    from modist.evaluation.embed import embed, save_embeddings
    from modist.runtime import resolve_device

    for key in ("num_clips", "batch_size", "clip_frames", "stride", "crop_size"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    if not args.out.endswith(".npz"):  # found out before embedding, not after
        raise ConfigError(f"--out {args.out}: the embeddings file must end in .npz")
    device = resolve_device(args.device, flag="--device")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if args.workers > cores:
        print(f"modist: --workers {args.workers} is more than the {cores} CPU core(s) here; using {cores}",
              file=sys.stderr)
        args.workers = cores
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = embed(args.checkpoint, args.input, num_clips=args.num_clips, batch_size=args.batch_size,
                   device=device, clip_frames=args.clip_frames, stride=args.stride, crop_size=args.crop_size,
                   split=args.split, fold=args.fold, num_workers=args.workers, progress=not args.no_progress)
    save_embeddings(args.out, result)
    seconds = time.perf_counter() - start
    dim = result.embeddings.shape[1] if result.embeddings.ndim == 2 else 0
    print(f"embedded {len(result.paths)} video(s) as {dim}-d vectors in {seconds:.1f} s "
          f"({len(result.paths) / max(seconds, 1e-9):.1f} videos/s); skipped {result.skipped} unreadable "
          f"video(s); wrote {args.out}")
    for path in result.skipped_paths[:10]:
        print(f"  skipped: {path}")
    return 0
