"""Generate the benchmark, pretrain MoDist and its baselines at the same budget,
evaluate frozen features on the biased and unbiased test splits, report."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from modist.config import PretrainConfig, load_config
from modist.configs import config_path
from modist.data.adapters import resolve_dataset
from modist.data.records import VideoDataset
from modist.demo import DEMO_METHODS, METHOD_OVERRIDES, TEST_SPLITS
from modist.demo.report import write_results
from modist.evaluation.frozen import evaluate_frozen
from modist.synth import CLASS_NAMES, SynthConfig, generate
from modist.training.device import resolve_device
from modist.training.trainer import pretrain


@dataclass(frozen=True)
class DemoBudget:
    steps: int
    train_per_class: int
    test_per_class: int


FULL = DemoBudget(steps=800, train_per_class=40, test_per_class=12)
QUICK = DemoBudget(steps=80, train_per_class=12, test_per_class=6)


def _splits(data_dir: Path) -> dict[str, VideoDataset]:
    return {split: resolve_dataset(f"synth:{data_dir}", split=split) for split in ("train", *TEST_SPLITS)}


def demo_config(method: str, out_dir: Path, data_dir: Path, seed: int, steps: int, device: str,
                overrides: list[str] | None = None) -> PretrainConfig:
    return load_config(config_path("demo"), [
        f"data.dataset=synth:{data_dir}",
        f"method.name={method}",
        f"train.steps={steps}",
        f"train.seed={seed}",
        f"train.device={device}",
        f"train.out_dir={out_dir / f'{method}_seed{seed}'}",
        *METHOD_OVERRIDES.get(method, ()),
        *(overrides or []),
    ])


def run_demo(
    out_dir: str | Path = "demo_out",
    quick: bool = False,
    seeds: tuple[int, ...] = (0,),
    methods: tuple[str, ...] = DEMO_METHODS,
    device: str = "auto",
    steps: int | None = None,
    overrides: list[str] | None = None,
    progress: bool = True,
    synth_config: SynthConfig | None = None,
) -> tuple[list[dict], str]:
    """Run the demo; returns (rows of results.json, markdown table).

    ``synth_config`` replaces the benchmark size implied by ``quick`` (used by tests).
    """
    out_dir = Path(out_dir)
    budget = QUICK if quick else FULL
    steps = steps or budget.steps
    # Validate every config before spending minutes on data generation.
    for method in methods:
        demo_config(method, out_dir, out_dir / "data", seeds[0], steps, device, overrides)
    started = time.perf_counter()
    synth_cfg = synth_config or SynthConfig(train_per_class=budget.train_per_class,
                                            test_per_class=budget.test_per_class)
    generate(out_dir / "data", synth_cfg, seed=seeds[0], progress=progress)
    splits = _splits(out_dir / "data")
    train = splits["train"]
    runs: list[dict] = []
    timings: dict[str, float] = {}
    for seed in seeds:
        for method in methods:
            cfg = demo_config(method, out_dir, out_dir / "data", seed, steps, device, overrides)
            t0 = time.perf_counter()
            result = pretrain(cfg, dataset=train, desc=f"{method} seed {seed}")
            first, last = result.loss_drop()
            evals = evaluate_frozen(result.method.eval_encoder(), cfg, train.records,
                                    {s: splits[s].records for s in TEST_SPLITS}, modality=result.method.eval_modality,
                                    device=resolve_device(device), progress=progress, seed=seed)
            timings[f"{method}/{seed}"] = time.perf_counter() - t0
            for ev in evals:
                runs.append({"method": method, "split": ev.split, "linear_top1": ev.linear_top1,
                             "knn_top1": ev.knn_top1, "seed": seed, "steps": steps,
                             "loss_first": first, "loss_last": last, "num_videos": ev.num_videos})
            msg = ", ".join(f"{ev.split} linear {100 * ev.linear_top1:.1f} kNN {100 * ev.knn_top1:.1f}" for ev in evals)
            print(f"{method} seed {seed}: loss {first:.3f} -> {last:.3f}; {msg} ({timings[f'{method}/{seed}']:.0f} s)")
    meta = {"quick": quick, "steps": steps, "seeds": list(seeds), "seconds": time.perf_counter() - started,
            "per_run_seconds": timings, "chance": 1 / len(CLASS_NAMES),
            "synth": {"train_per_class": synth_cfg.train_per_class, "test_per_class": synth_cfg.test_per_class}}
    table = write_results(out_dir, runs, meta)
    return runs, table
