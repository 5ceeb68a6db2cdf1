"""``modist bench flow``: accuracy (average end-point error) and speed of every flow estimator.

Runs each estimator on every pair of ``pairs.csv`` (Middlebury, Sintel) plus the stereo pairs
next to it, reports average EPE against ground truth (zero flow as the reference), EPE per
pair, pairs/s on the benchmark pairs and pairs/s on 224x224 crops (the training size).
Timing is in this one process after a warm-up, with ``--threads`` intra-op threads for
OpenCV and torch. Pairs are downscaled to ``--max-side`` (GT scaled too) so that TV-L1 on a
2-core CPU fits in minutes; ``--max-side 0`` keeps native resolution.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from modist.choices import BATCHED_FLOW_ESTIMATORS
from modist.errors import ConfigError, FlowError
from modist.flow import endpoint_error, estimate, estimate_batch
from modist.flow.pairs import FlowPair, load_csv_pairs, load_stereo_pairs

DEFAULT_ESTIMATORS = "dis:ultrafast,dis:fast,dis:medium,farneback,tvl1,torch_tvl1"


@dataclass
class EstimatorResult:
    label: str
    epe: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    speed_224: float = float("nan")

    @property
    def mean_epe(self) -> float:
        return float(np.mean(list(self.epe.values())))


@dataclass(frozen=True)
class FlowBenchSettings:
    pairs: str = "../shared/data/flow/pairs.csv"  # pairs.csv with ground-truth flow
    stereo: bool = True  # also the stereo pairs beside pairs.csv
    estimators: str = DEFAULT_ESTIMATORS  # comma list of METHOD or dis:PRESET (raft added if available)
    max_side: int = 384  # downscale pairs to this longer side (0: native)
    speed_pairs: int = 8  # 224x224 crops timed per estimator (0: skip)
    threads: int = 1  # OpenCV and torch intra-op threads
    device: str | None = None  # for torch_tvl1 / raft (None: cuda if available)


@dataclass
class FlowBenchResult:
    settings: FlowBenchSettings
    pairs: list[FlowPair]
    estimators: list[EstimatorResult]
    seconds: float

    @property
    def best(self) -> EstimatorResult:
        """The estimator of lowest mean EPE."""
        return min(self.estimators, key=lambda r: r.mean_epe)

    def markdown(self) -> str:
        return format_report(self.pairs, self.estimators, self.settings)


def parse_estimators(spec: str, device: str | None) -> list[tuple[str, str, dict]]:
    """``"dis:fast,tvl1"`` -> [(label, estimator, options)]; raft is appended when available."""
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, _, preset = item.partition(":")
        options: dict = {"preset": preset} if preset else {}
        if name in BATCHED_FLOW_ESTIMATORS and device:
            options["device"] = device
        out.append((item, name, options))
    if "raft" not in {m for _, m, _ in out}:
        try:
            from modist.flow.raft import check_available

            check_available()
            out.append(("raft", "raft", {"device": device} if device else {}))
        except FlowError:
            pass
    return out


def _crops(pairs: list[FlowPair], n: int, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    f0, f1 = [], []
    for i in range(n):
        p = pairs[i % len(pairs)]
        h, w = p.frame0.shape[:2]
        s = size / min(h, w) if min(h, w) < size else 1.0
        a, b = (cv2.resize(x, None, fx=s, fy=s) if s != 1.0 else x for x in (p.frame0, p.frame1))
        y, x = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
        f0.append(a[y : y + size, x : x + size])
        f1.append(b[y : y + size, x : x + size])
    return np.ascontiguousarray(np.stack(f0)), np.ascontiguousarray(np.stack(f1))


def run_estimators(pairs: list[FlowPair], estimators: list[tuple[str, str, dict]],
                   speed_pairs: int) -> list[EstimatorResult]:
    results = []
    crops = _crops(pairs, speed_pairs) if speed_pairs > 0 else None
    bar = tqdm(total=len(estimators) * len(pairs), desc="flow bench", unit="pair")
    for label, estimator, options in estimators:
        res = EstimatorResult(label)
        warm = pairs[0].frame0[:64, :64], pairs[0].frame1[:64, :64]
        estimate(*warm, estimator=estimator, **options)  # create cached objects / first-call costs
        for pair in pairs:
            bar.set_postfix_str(f"{label} {pair.name}")
            start = time.perf_counter()
            flow = estimate(pair.frame0, pair.frame1, estimator=estimator, **options)
            res.seconds += time.perf_counter() - start
            res.epe[pair.name] = endpoint_error(flow, pair.gt, pair.valid)
            bar.update()
        if crops is not None:
            start = time.perf_counter()
            estimate_batch(*crops, estimator=estimator, **options)
            res.speed_224 = len(crops[0]) / (time.perf_counter() - start)
        results.append(res)
    bar.close()
    return results


def format_report(pairs: list[FlowPair], results: list[EstimatorResult], settings: FlowBenchSettings) -> str:
    zero = {p.name: endpoint_error(np.zeros_like(p.gt), p.gt, p.valid) for p in pairs}
    dev = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
    res_note = f"longer side <= {settings.max_side} px" if settings.max_side else "native resolution"
    lines = [
        f"Flow benchmark: {len(pairs)} pairs ({res_note}), {os.cpu_count()} CPUs, "
        f"{settings.threads} thread(s) for OpenCV/torch, torch device {dev}, "
        f"{platform.processor() or platform.machine()}.",
        "",
        "| estimator | mean EPE (px) | pairs/s (bench pairs) | pairs/s (224x224) |",
        "|---|---|---|---|",
        f"| zero flow | {np.mean(list(zero.values())):.3f} | - | - |",
    ]
    for r in results:
        lines.append(f"| {r.label} | {r.mean_epe:.3f} | {len(pairs) / r.seconds:.2f} | {r.speed_224:.2f} |")
    lines += ["", "EPE per pair (px):", ""]
    lines.append("| pair | size | zero | " + " | ".join(r.label for r in results) + " |")
    lines.append("|---" * (3 + len(results)) + "|")
    for p in pairs:
        h, w = p.frame0.shape[:2]
        cells = " | ".join(f"{r.epe[p.name]:.3f}" for r in results)
        lines.append(f"| {p.name} | {w}x{h} | {zero[p.name]:.3f} | {cells} |")
    return "\n".join(lines) + "\n"


def run_flow_bench(settings: FlowBenchSettings) -> FlowBenchResult:
    """EPE and speed of every estimator of ``settings`` on the benchmark pairs."""
    if settings.threads < 1:
        raise ConfigError(f"threads must be >= 1, got {settings.threads}")
    torch.set_num_threads(settings.threads)
    cv2.setNumThreads(settings.threads)
    pairs = load_csv_pairs(settings.pairs)
    if settings.stereo:
        pairs += load_stereo_pairs(Path(settings.pairs).parent / "stereo")
    if settings.max_side:
        pairs = [p.resized(settings.max_side) for p in pairs]
    estimators = parse_estimators(settings.estimators, settings.device)
    if not estimators:
        raise ConfigError("no flow estimator given")
    for _, estimator, options in estimators:  # fail fast on a bad name before minutes of work
        estimate(pairs[0].frame0[:16, :16], pairs[0].frame1[:16, :16], estimator=estimator, **options)
    start = time.perf_counter()
    results = run_estimators(pairs, estimators, settings.speed_pairs)
    return FlowBenchResult(settings, pairs, results, time.perf_counter() - start)
