"""Precompute motion input (quantised flow) for every video of a dataset, sharded and resumable.

Each video becomes one store file (see :mod:`modist.flow.store`). Videos are split over
shards by position in the sorted, de-duplicated path list (``paths[shard::num_shards]``),
with shard / count given by the caller or, when not given, torchrun's ``RANK`` /
``WORLD_SIZE``. A video whose store file opens with the same settings is skipped; a
damaged or differently-computed one is redone. An unreadable video is counted and
reported, never fatal to the run.

Example:
    >>> results = precompute_videos(["a.mp4"], "cache/", PrecomputeSettings())           # doctest: +SKIP
    >>> summary = precompute_dataset("ucf101:/data/UCF101", "cache/", PrecomputeSettings())  # doctest: +SKIP
    >>> summary.failed, summary.path                                                      # doctest: +SKIP
    (0, PosixPath('cache/flow-summary.shard0of1.json'))
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from modist.atomic import write_json
from modist.choices import FLOW_DIRECTIONS
from modist.data.sampling import flow_partners
from modist.errors import ConfigError, DataError, ModistError
from modist.flow.estimate import estimate_batch
from modist.flow.raft import weights_digest
from modist.flow.store import FlowStoreWriter, StoredFlow, store_path, stored_direction
from modist.runtime import torchrun_env


@dataclass(frozen=True)
class PrecomputeSettings:
    estimator: str = "dis"
    options: dict[str, Any] = field(default_factory=dict)
    flow_gap: int = 1
    # forward: pair i is frame i -> i + flow_gap; backward: i -> max(i - flow_gap, 0), the authors' (see
    # modist.data.sampling.flow_partners).
    flow_direction: str = "forward"
    short_side: int | None = None
    max_flow: float = 20.0
    chunk: int = 64  # pairs per stored chunk (and per estimate_batch call)
    compress_level: int = 6  # deflate level: 1 is 3x faster to write, 60 % larger

    def identity(self) -> dict[str, Any]:
        """What must match for an existing store file to be reused."""
        made = {"estimator": self.estimator, "options": dict(self.options), "flow_gap": self.flow_gap,
                "flow_direction": self.flow_direction, "short_side": self.short_side}
        if self.estimator == "raft":  # the weights' contents, not merely their path
            made["raft_weights"] = weights_digest(self.options.get("weights"))
        return made


@dataclass
class VideoResult:
    path: str
    status: str  # "done", "redone", "skipped", "failed"
    pairs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    error: str = ""


@dataclass
class PrecomputeSummary:
    """One shard's run: counts per status, size and speed; ``path`` is the JSON written."""

    done: int
    redone: int
    skipped: int
    failed: int
    videos: int
    pairs: int
    bytes: int
    bytes_per_video_second: float
    pairs_per_second: float  # per worker, over the videos computed (not skipped)
    failures: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    shard: int = 0
    num_shards: int = 1
    wall_seconds: float = 0.0
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (``path`` excluded: it is where the record lives)."""
        out = asdict(self)
        del out["path"]
        return out


def resolve_shard(shard: int | None, num_shards: int | None, *,
                  environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(shard, num_shards)`` from the arguments, else torchrun's RANK / WORLD_SIZE, else (0, 1)."""
    if shard is None or num_shards is None:
        env = torchrun_env(environ)
        shard = env.rank if shard is None else shard
        num_shards = env.world_size if num_shards is None else num_shards
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise ConfigError(f"shard {shard} of num_shards {num_shards}: need 0 <= shard < num_shards")
    return shard, num_shards


def check_estimator(estimator: str, options: dict[str, Any]) -> None:
    """Run ``estimator`` with ``options`` on one tiny pair; raises its error (unknown name or option).

    Precomputing a dataset takes minutes to hours, and its workers report failures per
    video: a bad estimator or option is better found here, once, before any of it.
    """
    blank = np.zeros((1, 16, 16, 3), np.uint8)
    estimate_batch(blank, blank, estimator, **options)


def _reusable(path: Path, settings: PrecomputeSettings) -> str:
    """"ok" if ``path`` is a complete cache with these settings, else why it must be (re)done."""
    if not path.exists():
        return "missing"
    try:
        with StoredFlow(path) as cached:
            # A store from before the direction was recorded was made forward: reused as such.
            made = {**cached.settings, "flow_direction": stored_direction(cached.settings)}
            if made != settings.identity() or cached.meta.get("max_flow") != settings.max_flow:
                return "other settings"
    except DataError:
        return "damaged"
    return "ok"


def precompute_video(video_path: str, out_path: Path, settings: PrecomputeSettings) -> VideoResult:
    """Compute and store the flow of one video on the nominal frame grid.

    Forward: pairs ``(i, i + flow_gap)`` for ``i < N - flow_gap``; backward: ``(i, max(i - flow_gap, 0))``
    for every frame, partners from :func:`~modist.data.sampling.flow_partners` as the loaders'.
    """
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
            num_frames = reader.info.num_frames
            # Forward pairs stop flow_gap frames before the end; backward ones clamp at frame 0, so
            # every frame has one (as the authors' script writes an output frame for every frame).
            num_pairs = num_frames - flow_gap if settings.flow_direction == "forward" else num_frames
            if num_frames <= flow_gap:
                raise DataError(f"{video_path}: {num_frames} frame(s), need more than the flow gap ({flow_gap})")
            fps = reader.fps or 30.0
            writer = FlowStoreWriter(
                out_path, settings.identity(), fps, max_flow=settings.max_flow, compress_level=settings.compress_level
            )
            with writer:
                for first in range(0, num_pairs, settings.chunk):
                    frames = np.arange(first, min(first + settings.chunk, num_pairs))
                    partners = flow_partners(frames, flow_gap, settings.flow_direction, num_frames)
                    # One read for both; the reader decodes each distinct frame once.
                    clip = reader.frames(np.concatenate([frames, partners]))
                    k = len(frames)
                    flow = estimate_batch(clip.frames[:k], clip.frames[k:], settings.estimator, **settings.options)
                    writer.add(flow, clip.times[:k])
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
    *,
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


def summarize(results: list[VideoResult]) -> PrecomputeSummary:
    counts = {s: sum(r.status == s for r in results) for s in ("done", "redone", "skipped", "failed")}
    ok = [r for r in results if r.status != "failed"]
    computed = [r for r in results if r.status in ("done", "redone")]
    video_sec = sum(r.video_seconds for r in ok)
    total_bytes = sum(r.bytes for r in ok)
    seconds = sum(r.seconds for r in computed)
    return PrecomputeSummary(
        **counts,
        videos=len(results),
        pairs=int(sum(r.pairs for r in ok)),
        bytes=int(total_bytes),
        bytes_per_video_second=total_bytes / video_sec if video_sec else 0.0,
        pairs_per_second=sum(r.pairs for r in computed) / seconds if seconds else 0.0,
        failures=[r.error for r in results if r.status == "failed"],
    )


def precompute_dataset(
    dataset: str,
    out_dir: str | os.PathLike,
    settings: PrecomputeSettings,
    *,
    shard: int | None = None,
    num_shards: int | None = None,
    workers: int = 1,
    split: str = "train",
    fold: int = 1,
    progress: bool = True,
) -> PrecomputeSummary:
    """Precompute this shard's share of the dataset spec ``dataset`` into ``out_dir``.

    ``shard`` / ``num_shards`` default to torchrun's RANK / WORLD_SIZE (else 0 of 1). The
    summary is also written to ``out_dir/flow-summary.shard{i}of{n}.json``.
    """
    from modist.data.adapters import resolve_dataset

    shard, num_shards = resolve_shard(shard, num_shards)
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not 0 <= settings.compress_level <= 9:
        raise ConfigError(f"compress_level must be 0..9, got {settings.compress_level}")
    if settings.flow_direction not in FLOW_DIRECTIONS:
        raise ConfigError(f"flow_direction must be one of {', '.join(FLOW_DIRECTIONS)}, "
                          f"got {settings.flow_direction!r}")
    records = resolve_dataset(dataset, split=split, fold=fold).records
    check_estimator(settings.estimator, settings.options)
    wall = time.perf_counter()
    results = precompute_videos([r.path for r in records], out_dir, settings, shard=shard, num_shards=num_shards,
                                workers=workers, progress=progress)
    summary = summarize(results)
    summary.settings = asdict(settings)
    summary.shard, summary.num_shards = shard, num_shards
    summary.wall_seconds = time.perf_counter() - wall
    summary.path = Path(out_dir) / f"flow-summary.shard{shard}of{num_shards}.json"
    write_json(summary.path, summary.to_dict())
    return summary
