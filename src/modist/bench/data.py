"""``modist bench data``: training-clip loading throughput and memory on real videos.

A training clip here is what one pretraining sample needs: 2 views x 8 frames at stride 4,
plus the frame after each (for flow), read by exact seek at start times 0.5-10 s apart,
resized during decoding so the short side is 128 px and centre-cropped to 112 x 112.
Three pipelines are timed through a torch DataLoader with persistent workers:

* ``decode``: the clip above;
* ``flow``: plus DIS-fast optical flow (``modist.flow.estimate_batch``) for the 16 pairs;
* ``aug``: plus the paired augmentation (``modist.data.augment.PairedAugment``) applied
  batch-wise in the main process, as the training loop does.

Memory is the resident set of the main process plus its workers (from ``/proc``),
sampled at the start and end of each run and at every batch (peak). CPU ms per clip
(user + system time of main process and workers over the timed window, per clip) is
the cost that stays meaningful when other programs share the cores.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from modist.data.augment import PairedAugment
from modist.data.decode_stats import DecodeStats
from modist.data.sampling import clip_seconds, sample_pair_start_times
from modist.data.video import VideoReader
from modist.flow import estimate_batch

CLIP_FRAMES, STRIDE, SHORT_SIDE, CROP = 8, 4, 128, 112
MODES = ("decode", "flow", "aug")


@dataclass(frozen=True)
class DataBenchSettings:
    workers: tuple[int, ...] = (0, 1, 2)  # DataLoader worker counts, each timed
    seconds: float = 10.0  # timed seconds per configuration
    batch_size: int = 4  # training clips per batch
    modes: tuple[str, ...] = MODES  # a subset of decode, flow, aug


@dataclass
class DataBenchResult:
    videos: int
    rows: list[dict] = field(default_factory=list)  # one per (mode, workers); {"mode", "na"} for an unknown mode
    peak_rss_main_mb: float = 0.0  # getrusage: this process
    peak_rss_children_mb: float = 0.0  # getrusage: the largest finished worker

    def markdown(self) -> str:
        lines = ["| pipeline | workers | clips/s | per worker | CPU ms per clip | RSS start / end / peak (MB) |",
                 "|---|---|---|---|---|---|"]
        for row in self.rows:
            if "na" in row:
                lines.append(f"| {row['mode']} | - | {row['na']} | | | |")
            else:
                lines.append(f"| {row['mode']} | {row['workers']} | {row['clips_per_s']:.2f} | "
                             f"{row['per_worker']:.2f} | {row['cpu_ms_per_clip']:.0f} | "
                             f"{row['rss_start_mb']:.0f} / {row['rss_end_mb']:.0f} / {row['rss_peak_mb']:.0f} |")
        return "\n".join(lines) + "\n"


def describe_setup(videos: int, root: str, batch_size: int) -> str:
    """What is timed, in two lines."""
    return (f"{videos} videos from {root}; {os.cpu_count()} CPUs; one thread per process (cv2, torch, FFmpeg)\n"
            f"training clip = 2 views x {CLIP_FRAMES} frames at stride {STRIDE} (+ the frame after each for flow), "
            f"short side resized to {SHORT_SIDE}, centre crop {CROP}x{CROP}; batch {batch_size}")


def describe_row(row: dict) -> str:
    """One configuration's figures, as soon as it is timed."""
    if "na" in row:
        return f"{row['mode']}: {row['na']}"
    return (f"{row['mode']:6s} workers={row['workers']}: {row['clips_per_s']:6.2f} clips/s "
            f"({row['per_worker']:.2f} per worker, {row['cpu_ms_per_clip']:.0f} CPU ms per clip), "
            f"RSS start {row['rss_start_mb']:.0f} MB, end {row['rss_end_mb']:.0f} MB, "
            f"peak {row['rss_peak_mb']:.0f} MB, {row['clips']} clips in {row['seconds']:.1f} s, "
            f"skipped {row['skipped']}\n"
            f"       RSS at start {row['rss_start_parts']}, at end {row['rss_end_parts']} (MB)")


def _center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    h, w = frames.shape[-3:-1]
    y, x = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return frames[..., y : y + size, x : x + size, :]


class TrainingClips(Dataset):
    """Endless stream of training clips (2 views) over ``paths``; unreadable videos give None."""

    def __init__(self, paths: list[str], with_flow: bool, seed: int = 0):
        self.paths = paths
        self.with_flow = with_flow
        self.seed = seed
        self.stats = DecodeStats()

    def __len__(self) -> int:
        return 1 << 30

    def _read(self, path: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        with VideoReader(path, short_side=SHORT_SIDE) as reader:
            span = clip_seconds(CLIP_FRAMES, STRIDE, reader.fps) + 1.0 / max(reader.fps, 1.0)
            starts = sample_pair_start_times(reader.duration, span, 0.5, 10.0, rng)
            views = reader.clips(starts, CLIP_FRAMES, STRIDE, with_next=True)
        rgb = np.stack([_center_crop(v.frames, CROP) for v in views])
        nxt = np.stack([_center_crop(v.next_frames, CROP) for v in views])
        return rgb, nxt

    def __getitem__(self, index: int) -> dict | None:
        rng = np.random.default_rng((self.seed, index))
        read = self.stats.call(self._read, self.paths[index % len(self.paths)], rng)
        if read is None:
            return None
        rgb, nxt = read
        item = {"rgb": torch.from_numpy(np.ascontiguousarray(rgb))}
        if self.with_flow:
            flat = rgb.reshape(-1, *rgb.shape[2:])
            flow = estimate_batch(np.ascontiguousarray(flat), np.ascontiguousarray(nxt.reshape(flat.shape)),
                                  estimator="dis", preset="fast")
            item["flow"] = torch.from_numpy(flow.reshape(*rgb.shape[:-1], 2))
        return item


def _collate(items: list[dict | None]) -> dict:
    good = [it for it in items if it is not None]
    batch = {"size": len(good), "skipped": len(items) - len(good)}
    for key in ("rgb", "flow"):
        if good and key in good[0]:
            batch[key] = torch.stack([it[key] for it in good])
    return batch


def _worker_init(_: int) -> None:
    import cv2

    # One core per worker: library thread pools would only fight over the same cores.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live descendants so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    me = os.getpid()
    for pid in [me, *_descendants(me)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def tree_rss_mb() -> float:
    """Resident MB of this process plus all its descendants (shared pages counted per process)."""
    return sum(rss_breakdown_mb())


def rss_breakdown_mb() -> list[float]:
    """Resident MB of this process, then of each descendant."""
    me = os.getpid()
    return [_rss_mb(pid) for pid in [me, *_descendants(me)]]


def _fmt_breakdown(values: list[float]) -> str:
    workers = "+".join(f"{v:.0f}" for v in values[1:])
    return f"{values[0]:.0f}" + (f" main + {workers} workers" if workers else " main")


def _run_one(paths: list[str], mode: str, workers: int, seconds: float, batch_size: int) -> dict:
    dataset = TrainingClips(paths, with_flow=mode != "decode")
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=_collate,
                        persistent_workers=workers > 0, worker_init_fn=_worker_init if workers else None)
    augment = PairedAugment(crop_size=CROP) if mode == "aug" else None
    batches = iter(loader)
    next(batches)  # worker start-up and first reads are not timed
    parts_start = rss_breakdown_mb()
    rss_start = peak = sum(parts_start)
    cpu_start = tree_cpu_seconds()
    clips = skipped = 0
    bar = tqdm(desc=f"{mode:6s} workers={workers}", unit="clip", leave=False)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = next(batches)
        if augment is not None and batch["size"]:
            augment(batch["rgb"], batch.get("flow"))
        clips += batch["size"]
        skipped += batch["skipped"]
        peak = max(peak, tree_rss_mb())
        bar.update(batch["size"])
    elapsed = time.perf_counter() - start
    cpu = tree_cpu_seconds() - cpu_start
    bar.close()
    parts_end = rss_breakdown_mb()
    rss_end = sum(parts_end)
    del batches, loader
    rate = clips / elapsed
    return {"mode": mode, "workers": workers, "clips": clips, "seconds": elapsed, "clips_per_s": rate,
            "per_worker": rate / max(workers, 1), "skipped": skipped,
            "cpu_ms_per_clip": 1000 * cpu / max(clips, 1),
            "rss_start_mb": rss_start, "rss_end_mb": rss_end, "rss_peak_mb": peak,
            "rss_start_parts": _fmt_breakdown(parts_start), "rss_end_parts": _fmt_breakdown(parts_end)}


def run_data_bench(paths: list[str], settings: DataBenchSettings, *,
                   on_row: Callable[[dict], None] | None = None) -> DataBenchResult:
    """Time each (mode, worker count) of ``settings`` on clips of ``paths``.

    ``on_row`` sees each row as soon as it is measured (a run takes ``seconds`` per
    configuration plus worker start-up, minutes in all).
    """
    _worker_init(0)  # the main process decodes too (workers=0) and applies the augmentation
    result = DataBenchResult(len(paths))
    for mode in settings.modes:
        if mode not in MODES:
            rows = [{"mode": mode, "na": f"unknown mode (choose from {', '.join(MODES)})"}]
        else:
            rows = (_run_one(paths, mode, count, settings.seconds, settings.batch_size) for count in settings.workers)
        for row in rows:
            result.rows.append(row)
            if on_row is not None:
                on_row(row)
    result.peak_rss_main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.peak_rss_children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result
