"""Precompute motion input (quantised flow) for every video of a dataset, sharded and resumable.

Each video becomes one store file (see :mod:`modist.flow.store`). Videos are split over
shards by position in the sorted, de-duplicated path list (``paths[shard::num_shards]``),
with shard / count from ``--shard/--num-shards`` or torchrun's ``RANK`` / ``WORLD_SIZE``.
A video whose store file opens with the same settings is skipped; a damaged or
differently-computed one is redone. An unreadable video is counted and reported, never
fatal to the run.

Example:
    >>> summary = precompute_videos(["a.mp4"], "cache/", PrecomputeSettings())  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from modist.atomic import write_json
from modist.errors import ConfigError, DataError, ModistError
from modist.flow.store import StoredFlow, FlowStoreWriter, store_path
from modist.flow.estimate import estimate_batch


@dataclass(frozen=True)
class PrecomputeSettings:
    estimator: str = "dis"
    options: dict[str, Any] = field(default_factory=dict)
    flow_gap: int = 1
    short_side: int | None = None
    max_flow: float = 20.0
    chunk: int = 64  # pairs per stored chunk (and per estimate_batch call)
    compress_level: int = 6  # deflate level: 1 is 3x faster to write, 60 % larger

    def identity(self) -> dict[str, Any]:
        """What must match for an existing store file to be reused."""
        return {"estimator": self.estimator, "options": dict(self.options), "flow_gap": self.flow_gap, "short_side": self.short_side}


@dataclass
class VideoResult:
    path: str
    status: str  # "done", "redone", "skipped", "failed"
    pairs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    error: str = ""


def resolve_shard(shard: int | None, num_shards: int | None) -> tuple[int, int]:
    """``(shard, num_shards)`` from the arguments, else torchrun's RANK / WORLD_SIZE, else (0, 1)."""
    try:
        n = num_shards if num_shards is not None else int(os.environ.get("WORLD_SIZE", "1"))
        i = shard if shard is not None else int(os.environ.get("RANK", "0"))
    except ValueError as exc:
        raise ConfigError(f"RANK / WORLD_SIZE must be integers ({exc})") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {i} --num-shards {n}: need 0 <= shard < num_shards")
    return i, n


def _reusable(path: Path, settings: PrecomputeSettings) -> str:
    """"ok" if ``path`` is a complete cache with these settings, else why it must be (re)done."""
    if not path.exists():
        return "missing"
    try:
        with StoredFlow(path) as cached:
            if cached.settings != settings.identity() or cached.meta.get("max_flow") != settings.max_flow:
                return "other settings"
    except DataError:
        return "damaged"
    return "ok"


def precompute_video(video_path: str, out_path: Path, settings: PrecomputeSettings) -> VideoResult:
    """Compute and store the flow of one video (pairs ``(i, i + flow_gap)`` on the nominal frame grid)."""
    from modist.data.video import VideoReader

    reason = _reusable(out_path, settings)
    if reason == "ok":
        with StoredFlow(out_path) as cached:
            size, duration = out_path.stat().st_size, cached.num_pairs / max(cached.fps, 1e-6)
            return VideoResult(video_path, "skipped", cached.num_pairs, size, 0.0, duration)
    start = time.perf_counter()
    flow_gap = settings.flow_gap
    try:
        with VideoReader(video_path, short_side=settings.short_side, threads=1) as reader:
            num_pairs = reader.info.num_frames - flow_gap
            if num_pairs < 1:
                raise DataError(f"{video_path}: {reader.info.num_frames} frame(s), need more than --flow-gap {flow_gap}")
            fps = reader.fps or 30.0
            writer = FlowStoreWriter(
                out_path, settings.identity(), fps, max_flow=settings.max_flow, compress_level=settings.compress_level
            )
            with writer:
                for first in range(0, num_pairs, settings.chunk):
                    last = min(first + settings.chunk, num_pairs)
                    clip = reader.frames(np.arange(first, last + flow_gap))
                    flow = estimate_batch(clip.frames[:-flow_gap], clip.frames[flow_gap:], settings.estimator, **settings.options)
                    writer.add(flow, clip.times[: last - first])
    except ModistError as exc:
        return VideoResult(video_path, "failed", error=str(exc))
    status = "done" if reason == "missing" else "redone"
    seconds = time.perf_counter() - start
    return VideoResult(video_path, status, num_pairs, out_path.stat().st_size, seconds, num_pairs / fps)


def _init_worker() -> None:
    # one core per worker process: library thread pools would fight each other
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _run_one(job: tuple[str, str, PrecomputeSettings]) -> VideoResult:
    video, out, settings = job
    return precompute_video(video, Path(out), settings)


def precompute_videos(
    paths: list[str],
    out_dir: str | os.PathLike,
    settings: PrecomputeSettings,
    shard: int = 0,
    num_shards: int = 1,
    workers: int = 1,
    progress: bool = True,
) -> list[VideoResult]:
    """Precompute this shard's share of ``paths`` into ``out_dir``; one result per video."""
    mine = sorted(set(map(str, paths)))[shard::num_shards]
    jobs = [(p, str(store_path(out_dir, p)), settings) for p in mine]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(jobs), desc=f"flow shard {shard}/{num_shards}", unit="video", disable=not progress)
    results: list[VideoResult] = []
    if workers <= 1:
        for job in jobs:
            results.append(_run_one(job))
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork after torch / OpenMP threads started
        with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
            for result in pool.map(_run_one, jobs):
                results.append(result)
                bar.update()
    bar.close()
    return results


def summarize(results: list[VideoResult]) -> dict[str, Any]:
    counts = {s: sum(r.status == s for r in results) for s in ("done", "redone", "skipped", "failed")}
    ok = [r for r in results if r.status != "failed"]
    computed = [r for r in results if r.status in ("done", "redone")]
    video_sec = sum(r.video_seconds for r in ok)
    total_bytes = sum(r.bytes for r in ok)
    seconds = sum(r.seconds for r in computed)
    return {
        **counts,
        "videos": len(results),
        "pairs": int(sum(r.pairs for r in ok)),
        "bytes": int(total_bytes),
        "bytes_per_video_second": total_bytes / video_sec if video_sec else 0.0,
        "pairs_per_second": sum(r.pairs for r in computed) / seconds if seconds else 0.0,
        "failures": [r.error for r in results if r.status == "failed"],
    }


def precompute_from_args(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """``modist flow DATASET --out DIR ...``: returns 0, or 1 if any video failed."""
    from modist.data.adapters import resolve_dataset

    shard, num_shards = resolve_shard(args.shard, args.num_shards)
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    dataset = resolve_dataset(args.dataset, split=args.split, fold=args.fold)
    if not 0 <= args.compress_level <= 9:
        raise ConfigError(f"--compress-level must be 0..9, got {args.compress_level}")
    settings = PrecomputeSettings(
        args.estimator, options, args.flow_gap, args.short_side, compress_level=args.compress_level
    )
    estimate_batch(np.zeros((1, 16, 16, 3), np.uint8), np.zeros((1, 16, 16, 3), np.uint8), args.estimator, **options)
    wall = time.perf_counter()
    results = precompute_videos([r.path for r in dataset.records], args.out, settings, shard, num_shards, args.workers)
    summary = summarize(results)
    summary.update(settings=asdict(settings), shard=shard, num_shards=num_shards, wall_seconds=time.perf_counter() - wall)
    write_json(Path(args.out) / f"flow-summary.shard{shard}of{num_shards}.json", summary)
    for error in summary["failures"]:
        print(f"flow: failed: {error}")
    print(
        f"flow: shard {shard}/{num_shards}: {summary['videos']} videos ({summary['done']} done, "
        f"{summary['redone']} redone, {summary['skipped']} skipped, {summary['failed']} failed), "
        f"{summary['pairs']} pairs, {summary['bytes'] / 1e6:.1f} MB "
        f"({summary['bytes_per_video_second'] / 1e3:.0f} kB per video-second), "
        f"{summary['pairs_per_second']:.0f} pairs/s per worker, {summary['wall_seconds']:.0f} s"
    )
    return 1 if summary["failed"] else 0
