"""Flags and checks that several commands share (``explain``, ``eval saliency``, ``eval probe``)."""

from __future__ import annotations

import argparse


def device_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="video subset, probe split and bootstrap seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def setup(args: argparse.Namespace):
    """Check the positive flags, set torch's threads and seed; the device ``--device`` names."""
    import torch

    from modist.errors import ConfigError
    from modist.runtime import resolve_device

    for key in ("max_videos", "clips", "scale", "epochs", "fps", "lr"):
        value = getattr(args, key, None)
        if value is not None and value <= 0 and not (key == "scale" and value == 0):
            raise ConfigError(f"--{key.replace('_', '-')} must be positive, got {value}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return resolve_device(args.device, flag="--device")
