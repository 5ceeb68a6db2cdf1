"""Generate the benchmark, pretrain every arm at the same budget, evaluate each run
through the same runner as ``modist eval``, check the instrument, report."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from modist.config import PretrainConfig, load_config
from modist.configs import config_path
from modist.data.adapters import resolve_dataset
from modist.demo import ARMS, DEMO_METHODS, TEST_SPLITS
from modist.demo.report import write_results
from modist.errors import ConfigError
from modist.evaluation.saliency import DEFAULT_STAGE, MIN_INPUT
from modist.synth import CLASS_NAMES, SynthConfig, generate
from modist.synth.config import DetectionSynthConfig
from modist.training.trainer import pretrain


@dataclass(frozen=True)
class DemoBudget:
    steps: int
    train_per_class: int  # for each of train and train_unbiased
    test_per_class: int  # for each test split


FULL = DemoBudget(steps=600, train_per_class=100, test_per_class=50)
QUICK = DemoBudget(steps=60, train_per_class=10, test_per_class=5)

# The demo's benchmark. 32 px frames, 16 frames a video (an 8-frame clip at stride 2 sees the
# whole motion), the actor 1.6x the default size with a coarser texture, camera pan in a
# quarter of the videos: at these settings labels teach the RGB pathway the motion classes
# within the budget, and the motion pathway carries them (the validity checks; docs/demo.md).
DEMO_SYNTH = SynthConfig(size=32, num_frames=16, actor_scale=1.6, texture_scale=2.0, camera_pan_prob=0.25)

# The detection benchmark of ``modist demo --detection``: its defaults draw the demo benchmark's
# actors at the same pixel scale, 2-3 to a 96-px frame (docs/detection.md).
DEMO_DETECTION = DetectionSynthConfig()
QUICK_DETECTION = DetectionSynthConfig(train_videos=8, val_videos=2, test_videos=4, seconds=3)

# The saliency split (data_saliency/): the demo benchmark's test videos with the background drawn
# from the actor's own texture, no camera pan and no distractors, so that only the actor's motion
# singles it out; a randomly initialised encoder cannot find the actor by texture there (the
# saliency_learned check). 10 videos a class, the 100 test_unbiased videos the measure scores.
SALIENCY_PER_CLASS = 10


def saliency_synth_config(synth_cfg: SynthConfig, per_class: int = SALIENCY_PER_CLASS) -> SynthConfig:
    return replace(synth_cfg, camouflage=True, camera_pan_prob=0.0, num_distractors=0, train_per_class=0,
                   train_unbiased_per_class=0, test_per_class=per_class)


QUICK_NOTE = ("--quick is a pipeline check: its data and training are far too small for its numbers "
              "to mean anything")


def demo_synth_config(budget: DemoBudget) -> SynthConfig:
    return replace(DEMO_SYNTH, train_per_class=budget.train_per_class, test_per_class=budget.test_per_class,
                   train_unbiased_per_class=budget.train_per_class)


def demo_config(arm: str, out_dir: Path, *, data_dir: Path, seed: int, steps: int, device: str,
                overrides: list[str] | None = None) -> PretrainConfig:
    """The resolved config of one arm: demo.yaml, the arm's overrides, then the user's."""
    if arm not in ARMS:
        raise ConfigError(f"unknown demo method {arm!r}; choose from {', '.join(ARMS)}")
    spec = ARMS[arm]
    return load_config(config_path("demo"), [
        f"data.dataset=synth:{data_dir}",
        f"data.split={spec.train_split}",
        f"method.name={spec.method}",
        f"train.steps={steps}",
        f"train.seed={seed}",
        f"train.device={device}",
        f"train.out_dir={out_dir / f'{arm}_seed{seed}'}",
        *spec.overrides,
        *(overrides or []),
    ])


def evaluate_run(run_dir: Path, data_dir: Path, *, device: str, progress: bool) -> dict[str, dict[str, float]]:
    """Linear and kNN top-1 per test split, exactly as ``modist eval`` computes them with its defaults."""
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.runner import EvalSpec, run_frozen

    results, _, _ = run_frozen(load_eval_encoder(run_dir), EvalSpec(f"synth:{data_dir}", device=device,
                                                                    progress=progress),
                               ("linear", "knn"), checkpoint=str(run_dir))
    out: dict[str, dict[str, float]] = {}
    for r in results:
        out.setdefault(r.split, {"num_videos": r.num_videos})[f"{r.protocol}_top1"] = r.metrics["top1"]
    return out


# test_unbiased videos whose saliency each run scores: the same seeded subset for every arm and seed.
SALIENCY_VIDEOS = 100


def _saliency_fields(result, prefix: str = "") -> dict:
    from modist.evaluation.intervals import bootstrap_interval

    if not result.lift:
        return {f"{prefix}foreground_lift": None, f"{prefix}pointing_hit": None}
    ci = bootstrap_interval(result.lift)
    return {f"{prefix}foreground_lift": ci.mean,
            f"{prefix}pointing_hit": float(sum(result.pointing) / len(result.pointing)),
            f"{prefix}foreground_lift_ci95": [ci.low, ci.high],
            # Per video, so that the checks can pool the videos of several seeds.
            f"{prefix}foreground_lift_videos": [round(x, 5) for x in result.lift]}


def saliency_run(run_dir: Path, data_dir: Path, *, device: str, random_init_seed: int | None = None) -> dict:
    """Foreground lift (mean, 95 % bootstrap interval, per video) and pointing-game hit rate of the
    Grad-CAM map on test_unbiased of ``data_dir`` (the demo passes its saliency split), as
    ``modist eval saliency --map gradient --max-videos 100`` computes them with its defaults. With ``random_init_seed``,
    the same numbers (``random_init_*``) for a randomly initialised encoder of the run's architecture
    and inputs (``torch.manual_seed(random_init_seed)``): the ``saliency_learned`` check."""
    import torch

    from modist.evaluation.encoder import load_eval_encoder, scratch_encoder
    from modist.evaluation.saliency import saliency_eval
    from modist.runtime import resolve_device

    def score(enc, prefix: str = "") -> dict:
        return _saliency_fields(saliency_eval(enc, data_dir, split="test_unbiased", map_kind="gradient",
                                              max_videos=SALIENCY_VIDEOS, device=resolve_device(device),
                                              progress=False), prefix)

    fields = score(load_eval_encoder(run_dir))
    if random_init_seed is not None:
        torch.manual_seed(random_init_seed)
        fields.update(score(scratch_encoder(run_dir), "random_init_"))
    return fields


def saliency_figure(out_dir: Path, data_dir: Path, arms: tuple[str, ...], *, seed: int, device: str,
                    videos: int = 4) -> Path:
    """``saliency.png``: for the first ``videos`` test_unbiased clips the saliency scores, the middle
    frame | its actor mask | each arm's Grad-CAM map (seed ``seed``), as the numbers compute them."""
    import numpy as np

    from modist.data.adapters.files import canonical_split
    from modist.data.records import VideoRecord
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.saliency import DEFAULT_STAGE, centre_square, explain_video
    from modist.runtime import resolve_device
    from modist.synth import read_manifest, read_masks
    from modist.viz.saliency import saliency_grid

    rows = [r for r in read_manifest(data_dir / "manifest.csv") if canonical_split(r.split) == "test_unbiased"]
    if SALIENCY_VIDEOS < len(rows):  # the subset saliency_eval scores, in its order
        rows = [rows[i] for i in np.sort(np.random.default_rng(0).choice(len(rows), SALIENCY_VIDEOS, replace=False))]
    rows = rows[:videos]
    frames, masks, labels, columns = [], [], [], {}
    for arm in arms:
        enc = load_eval_encoder(out_dir / f"{arm}_seed{seed}")
        source = enc.clip_source(frame_cache=1)
        columns[arm] = []
        for row in rows:
            (clip,) = explain_video(enc, VideoRecord(str(row.path), row.label), maps=("gradient",),
                                    device=resolve_device(device), source=source)
            mid = len(clip.indices) // 2
            columns[arm].append(clip.maps["gradient"][mid])
            if len(frames) < len(rows):
                mask = centre_square(read_masks(row.mask_path)[clip.indices])[mid]
                frames.append(clip.frames[mid])
                masks.append(mask)
                labels.append(row.label_name)
    stage = "last stage" if DEFAULT_STAGE is None else f"stage {DEFAULT_STAGE}"
    path = out_dir / "saliency.png"
    saliency_grid(frames, masks, columns, path, row_labels=labels,
                  title=f"Grad-CAM ({stage}, input {MIN_INPUT} px) on the camouflaged saliency split "
                        f"(test_unbiased), seed {seed}, middle frame of each clip")
    return path


DETECTION_MODES = {"frozen": ("frozen",), "both": ("frozen", "finetune")}


def detection_run(run_dir: Path, det_dir: Path, *, device: str, finetune: bool = False
                  ) -> dict[str, dict[str, float]] | None:
    """Row fields per test split: ``detection_map``, the frame-mAP@0.5 of a frozen-backbone RoI head on
    each test split, and with ``finetune`` ``detection_finetune_map`` on test_unbiased, as ``modist eval
    detect --checkpoint RUN --dataset synth-det:DIR --test-split SPLIT [--finetune]`` computes them with
    its defaults; None for a non-RGB encoder."""
    from modist.evaluation.detection import DetectRecipe, run_detection
    from modist.evaluation.encoder import load_eval_encoder

    if load_eval_encoder(run_dir).modality != "rgb":
        return None
    out: dict[str, dict[str, float]] = {}
    for split in TEST_SPLITS:
        result = run_detection(load_eval_encoder(run_dir), f"synth-det:{det_dir}", DetectRecipe(),
                               out=run_dir / "eval_detect" / split, test_split=split, device=device)
        out[split] = {"detection_map": result.mean_ap}
    if finetune:  # one split: finetuning costs minutes a run on a CPU
        result = run_detection(load_eval_encoder(run_dir), f"synth-det:{det_dir}", DetectRecipe(finetune=True),
                               out=run_dir / "eval_detect_finetune" / "test_unbiased", test_split="test_unbiased",
                               device=device)
        out["test_unbiased"]["detection_finetune_map"] = result.mean_ap
    return out


@dataclass(frozen=True)
class DemoData:
    """The demo's benchmarks on disk: classification, the saliency split, detection (when asked)."""

    data_dir: Path
    synth_cfg: SynthConfig
    sal_dir: Path
    sal_cfg: SynthConfig
    det_dir: Path
    det_cfg: DetectionSynthConfig


def generate_demo_data(out_dir: Path, *, quick: bool, seed: int, synth_config: SynthConfig | None,
                       detection: str | None, detection_config: DetectionSynthConfig | None,
                       progress: bool) -> DemoData:
    """Write (or find complete) every benchmark the demo's arms are trained and scored on."""
    budget = QUICK if quick else FULL
    synth_cfg = synth_config or demo_synth_config(budget)
    data_dir = out_dir / "data"
    generate(data_dir, synth_cfg, seed=seed, progress=progress)
    sal_dir, sal_cfg = out_dir / "data_saliency", saliency_synth_config(
        synth_cfg, min(SALIENCY_PER_CLASS, synth_cfg.test_per_class) if quick or synth_config else SALIENCY_PER_CLASS)
    generate(sal_dir, sal_cfg, seed=seed, progress=progress)
    det_dir, det_cfg = out_dir / "data_det", detection_config or (QUICK_DETECTION if quick else DEMO_DETECTION)
    if detection:
        if detection not in DETECTION_MODES:
            raise ConfigError(f"unknown detection mode {detection!r}; choose from {', '.join(DETECTION_MODES)}")
        from modist.synth.detection import generate_detection

        generate_detection(det_dir, det_cfg, progress=progress)
    return DemoData(data_dir, synth_cfg, sal_dir, sal_cfg, det_dir, det_cfg)


def run_arm(arm: str, seed: int, cfg: PretrainConfig, data: DemoData, *, device: str, detection: str | None,
            progress: bool) -> list[dict]:
    """Pretrain one arm at one seed (or resume it), evaluate it; its rows of results.json, one a test split."""
    train = resolve_dataset(cfg.data.dataset, split=cfg.data.split)
    result = pretrain(cfg, dataset=train, desc=f"{arm} seed {seed}")
    first, last = result.loss_drop()
    evals = evaluate_run(result.out_dir, data.data_dir, device=device, progress=progress)
    saliency = saliency_run(result.out_dir, data.sal_dir, device=device,
                            random_init_seed=seed if arm == "supervised_unbiased" else None)
    det = (detection_run(result.out_dir, data.det_dir, device=device, finetune=detection == "both")
           if detection else None)
    rows = []
    for split in TEST_SPLITS:
        ev = evals[split]
        rows.append({"method": arm, "split": split, "linear_top1": ev["linear_top1"],
                     "knn_top1": ev["knn_top1"], "seed": seed, "steps": cfg.train.steps,
                     "train_split": cfg.data.split,
                     "loss_first": first, "loss_last": last, "num_videos": ev["num_videos"],
                     **(saliency if split == "test_unbiased" else {}),
                     **(det[split] if det else {})})
    return rows


def arm_summary(rows: list[dict]) -> str:
    """One line: an arm's loss drop, accuracies, saliency and detection figures."""
    by_split = {r["split"]: r for r in rows}
    first, last = rows[0]["loss_first"], rows[0]["loss_last"]
    msg = ", ".join(f"{s} linear {100 * by_split[s]['linear_top1']:.1f} kNN {100 * by_split[s]['knn_top1']:.1f}"
                    for s in TEST_SPLITS)
    unbiased = by_split["test_unbiased"]
    if unbiased.get("foreground_lift") is not None:
        msg += f"; saliency lift {unbiased['foreground_lift']:.2f}, pointing {100 * unbiased['pointing_hit']:.1f}%"
    if "detection_map" in unbiased:
        msg += "; detection frame-mAP " + ", ".join(f"{s} {100 * by_split[s]['detection_map']:.1f}"
                                                    for s in TEST_SPLITS)
        if "detection_finetune_map" in unbiased:
            msg += f", finetuned test_unbiased {100 * unbiased['detection_finetune_map']:.1f}"
    return f"loss {first:.3f} -> {last:.3f} (mean of the first and last 20 steps); {msg}"


def demo_meta(data: DemoData, *, quick: bool, steps: int, seeds: tuple[int, ...], seconds: float,
              timings: dict[str, float], detection: str | None) -> dict:
    """results.json's ``meta``: budget, seeds, timings, the benchmarks' configs and the evaluation used."""
    return {"quick": quick, "steps": steps, "seeds": list(seeds), "seconds": round(seconds, 1),
            "per_run_seconds": timings, "chance": 1 / len(CLASS_NAMES), "synth": data.synth_cfg.to_dict(),
            "synth_seed": seeds[0], "evaluation": "modist eval linear / knn defaults (10 temporal views)",
            "saliency": {"synth": data.sal_cfg.to_dict(), "data": "data_saliency", "split": "test_unbiased",
                         "map": "gradient", "stage": DEFAULT_STAGE, "min_input_px": MIN_INPUT,
                         "videos": SALIENCY_VIDEOS},
            **({"detection": {"synth": data.det_cfg.__dict__, "modes": list(DETECTION_MODES[detection]),
                              "evaluation": "modist eval detect defaults"}} if detection else {}),
            **({"note": QUICK_NOTE} if quick else {})}


def run_demo(
    out_dir: str | Path = "demo_out",
    *,
    quick: bool = False,
    seeds: tuple[int, ...] = (0,),
    methods: tuple[str, ...] = DEMO_METHODS,
    device: str = "auto",
    steps: int | None = None,
    overrides: list[str] | None = None,
    progress: bool = True,
    synth_config: SynthConfig | None = None,
    detection: str | None = None,
    detection_config: DetectionSynthConfig | None = None,
) -> tuple[list[dict], str]:
    """Run the demo; returns (rows of results.json, markdown report).

    ``synth_config`` replaces the benchmark implied by ``quick`` (used by tests). With ``detection``,
    every RGB encoder is also scored on the synthetic detection benchmark (``detection_config``,
    else the one implied by ``quick``) in ``out_dir/data_det``: ``"frozen"`` trains a head on the frozen
    backbone, ``"both"`` also finetunes the backbone (test_unbiased only).
    """
    out_dir = Path(out_dir)
    steps = steps or (QUICK if quick else FULL).steps

    def config(arm: str, seed: int) -> PretrainConfig:
        return demo_config(arm, out_dir, data_dir=out_dir / "data", seed=seed, steps=steps, device=device,
                           overrides=overrides)

    for arm in methods:  # validate every config before spending minutes on data generation
        config(arm, seeds[0])
    if quick and progress:
        print(f"modist demo: {QUICK_NOTE}.")
    started = time.perf_counter()
    data = generate_demo_data(out_dir, quick=quick, seed=seeds[0], synth_config=synth_config, detection=detection,
                              detection_config=detection_config, progress=progress)
    runs: list[dict] = []
    timings: dict[str, float] = {}
    for seed in seeds:
        for arm in methods:
            t0 = time.perf_counter()
            rows = run_arm(arm, seed, config(arm, seed), data, device=device, detection=detection, progress=progress)
            timings[f"{arm}/{seed}"] = round(time.perf_counter() - t0, 1)
            runs.extend(rows)
            print(f"{arm} seed {seed}: {arm_summary(rows)} ({timings[f'{arm}/{seed}']:.0f} s)", flush=True)
    meta = demo_meta(data, quick=quick, steps=steps, seeds=seeds, seconds=time.perf_counter() - started,
                     timings=timings, detection=detection)
    saliency_figure(out_dir, data.sal_dir, methods, seed=seeds[0], device=device)
    report = write_results(out_dir, runs, meta)
    return runs, report
