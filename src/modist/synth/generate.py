"""Writing the benchmark to disk: videos, masks, ``synth.json`` and, last, ``manifest.csv``.

Every video is rendered from its own generator seeded by (seed, split, index), so the
output does not depend on the order or the number of worker processes. The manifest
is written last and atomically: its presence means the dataset is complete.

Example:
    >>> import tempfile
    >>> cfg = SynthConfig(size=48, num_frames=8, train_per_class=1, test_per_class=0, num_distractors=0)
    >>> manifest = generate(tempfile.mkdtemp(), cfg, seed=0, progress=False)
    >>> len(read_manifest(manifest))
    10
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from modist.atomic import write_json
from modist.data.adapters.synth import ManifestRow, read_manifest
from modist.errors import ConfigError, DataError
from modist.synth.classes import CLASS_NAMES
from modist.synth.config import SynthConfig
from modist.synth.manifest import write_manifest
from modist.synth.textures import BACKGROUND_NAMES
from modist.synth.videos import SPLITS, make_video
from modist.synth.workers import run_in_workers

GENERATOR_VERSION = 2  # bump when rendering or encoding changes, so cached datasets are regenerated
MANIFEST_NAME = "manifest.csv"
INFO_NAME = "synth.json"
_SERIAL_BELOW = 24  # fewer videos than this are not worth starting worker processes


def split_counts(config: SynthConfig) -> dict[str, int]:
    per_class = {"train": config.train_per_class, "test_biased": config.test_per_class,
                 "test_unbiased": config.test_per_class, "train_unbiased": config.train_unbiased_per_class}
    return {split: per_class[split] * len(CLASS_NAMES) for split in SPLITS}


def generate(
    out_dir: str | os.PathLike,
    config: SynthConfig = SynthConfig(),
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Write the benchmark under ``out_dir`` and return the manifest path.

    A folder that already holds a complete dataset of the same config and seed is
    left as it is. ``workers`` processes render and encode in parallel (default: one
    per CPU core); the result is the same for any number.
    """
    config.validate()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"synth: seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: out_dir must be a folder, not a file")
    manifest_path = out / MANIFEST_NAME
    info = _info(config, seed)
    if _is_complete(out, info):
        if progress:
            print(f"synth: already generated: {out} ({sum(info['counts'].values())} videos)")
        return manifest_path

    started = time.perf_counter()
    # Without the old manifest a half-overwritten folder can never look complete.
    manifest_path.unlink(missing_ok=True)
    (out / INFO_NAME).unlink(missing_ok=True)
    jobs = [(split, i) for split, n in split_counts(config).items() for i in range(n)]
    rows = _run_jobs(out, config, seed, jobs, progress, workers)
    _remove_stale(out, {row.path for row in rows} | {row.mask_path for row in rows})
    write_json(out / INFO_NAME, info)
    write_manifest(manifest_path, rows)
    if progress:
        megabytes = sum(p.stat().st_size for row in rows for p in (row.path, row.mask_path)) / 1e6
        print(f"synth: {len(rows)} videos in {time.perf_counter() - started:.1f} s, {megabytes:.1f} MB -> {out}")
    return manifest_path


def _run_jobs(
    out: Path, config: SynthConfig, seed: int, jobs: list[tuple[str, int]], progress: bool, workers: int | None
) -> list[ManifestRow]:
    workers = min(workers or os.cpu_count() or 1, 8)
    bar = tqdm(total=len(jobs), desc="synth", unit="video", disable=not progress)
    try:
        if workers <= 1 or len(jobs) < _SERIAL_BELOW:
            done = {}
            for split, index in jobs:
                done[split, index] = make_video(out, config, seed, split, index)
                bar.update()
        else:
            done = run_in_workers(out, config, seed, jobs, workers, on_done=lambda row: bar.update())
    finally:
        bar.close()
    return [done[key] for key in jobs]


def _info(config: SynthConfig, seed: int) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "config": config.to_dict(),
        "class_names": list(CLASS_NAMES),
        "background_names": list(BACKGROUND_NAMES),
        "splits": list(SPLITS),
        "counts": split_counts(config),
    }


def _is_complete(out: Path, info: dict) -> bool:
    try:
        if json.loads((out / INFO_NAME).read_text()) != info:
            return False
        rows = read_manifest(out / MANIFEST_NAME)
    except (OSError, ValueError, DataError):  # anything unreadable means "not complete"
        return False
    return len(rows) == sum(info["counts"].values()) and all(
        row.path.is_file() and row.mask_path.is_file() for row in rows
    )


# Our own names, and the hidden temporary names atomic_path gives them while writing.
_OWN_FILE = re.compile(r"^\.?(train|test_biased|test_unbiased|train_unbiased)_\d{5,}(\..*)?\.(mp4|npz)$")


def _remove_stale(out: Path, keep: set[Path]) -> None:
    """Delete videos/masks of an earlier, different dataset (and temp files of a killed run)."""
    for kind in ("videos", "masks"):
        for split in SPLITS:
            folder = out / kind / split
            if folder.is_dir():
                for path in folder.iterdir():
                    if _OWN_FILE.match(path.name) and path.resolve() not in keep:
                        path.unlink()
