"""``modist export RUN [--step N] [--out DIR]``: the encoder of any checkpoint of a run.

A run writes ``encoder.safetensors`` only when it finishes; this writes it (with
``encoder.json``) from a checkpoint, so a killed or unfinished run can be evaluated.

Example:
    modist export runs/cpu_small                       # the latest checkpoint, into runs/cpu_small/export-STEP
    modist export runs/cpu_small --step 500 --out enc500
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Write encoder.safetensors + encoder.json from a run's checkpoint (the latest, or "
                          "checkpoint-STEP.pt with --step). The result is accepted by eval --checkpoint and "
                          "embed --checkpoint.")
    parser.add_argument("run", metavar="RUN", help="run folder, or one checkpoint .pt file in it")
    parser.add_argument("--step", type=int, default=None, help="export checkpoint-STEP.pt (default: the latest)")
    parser.add_argument("--out", default=None, help="output folder (default: RUN/export-STEP)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modist.errors import DataError
    from modist.evaluation.encoder import checkpoint_encoder
    from modist.models.encoder_io import save_encoder
    from modist.models.run_files import LATEST, checkpoint_at_step, export_name, find_latest_checkpoint, runs_in

    path = Path(args.run)
    if not path.exists():
        raise DataError(f"{path}: run folder not found")
    if path.is_dir() and args.step is not None:
        ckpt = checkpoint_at_step(path, args.step)
    elif path.is_dir():
        ckpt = find_latest_checkpoint(path)
        if ckpt is None:
            runs = runs_in(path)
            if runs:
                raise DataError(f"{path}: a folder of runs, not a run; pass one of: {', '.join(runs[:8])}")
            raise DataError(f"{path}: no checkpoint-N.pt or {LATEST} to export")
    else:
        ckpt = path
    saved, _ = checkpoint_encoder(ckpt)
    step = saved.trained_on.step
    out = Path(args.out) if args.out else ckpt.parent / export_name(step)
    weights = save_encoder(out, saved.module, saved.spec, {**saved.trained_on.record(), "checkpoint": str(ckpt)})
    print(f"exported the {saved.spec.arch} encoder of {ckpt} (step {step}) to {weights}")
    return 0
