"""Demo results: ``results.json`` (one row per arm x split x seed, the validity checks,
the paired MoDist - RGB-only difference, the machine) and ``results.md``."""

from __future__ import annotations

import math
import os
import platform
from collections import defaultdict

import numpy as np

from modist.atomic import write_json, write_text
from modist.demo import (
    ARMS,
    CEILING_MIN,
    DEMO_METHODS,
    SALIENCY_CEILING_MIN,
    SALIENCY_MARGIN,
    SHORTCUT_MIN_GAP,
    TEACHER_MIN,
)
from modist.evaluation.intervals import Interval, bootstrap_interval, mean_interval, paired_difference
from modist.evaluation.report import markdown_table


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and sample standard deviation over seeds per (method, split)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["method"], r["split"])].append(r)
    rows = []
    for (method, split), rs in groups.items():
        lin = mean_interval([r["linear_top1"] for r in rs])
        knn = mean_interval([r["knn_top1"] for r in rs])
        rows.append({"method": method, "split": split, "seeds": len(rs),
                     "linear_mean": lin.mean, "linear_std": _finite(lin.std),
                     "knn_mean": knn.mean, "knn_std": _finite(knn.std)})
    return rows


def _finite(x: float) -> float:
    return 0.0 if math.isnan(x) else x


def _by_seed(runs: list[dict], method: str, split: str, metric: str = "linear_top1") -> dict[int, float]:
    return {r["seed"]: r.get(metric) for r in runs if r["method"] == method and r["split"] == split}


def validity(runs: list[dict]) -> dict:
    """The instrument's checks, as means over seeds (fractions); a check whose arm did not
    run is ``None`` and then ``passed`` is ``None`` too."""

    def mean(method: str, split: str) -> float | None:
        values = list(_by_seed(runs, method, split).values())
        return float(np.mean(values)) if values else None

    ceiling = mean("supervised_unbiased", "test_unbiased")
    teacher = mean("motion_only", "test_unbiased")
    biased, unbiased = mean("supervised", "test_biased"), mean("supervised", "test_unbiased")
    gap = None if biased is None or unbiased is None else biased - unbiased
    checks = [(ceiling, CEILING_MIN), (teacher, TEACHER_MIN), (gap, SHORTCUT_MIN_GAP)]
    passed = None if any(v is None for v, _ in checks) else all(v >= low for v, low in checks)
    return {"ceiling": ceiling, "teacher": teacher, "shortcut_gap": gap, "passed": passed,
            "thresholds": {"ceiling": CEILING_MIN, "teacher": TEACHER_MIN, "shortcut_gap": SHORTCUT_MIN_GAP},
            **saliency_validity(runs)}


def _pooled_lift(runs: list[dict], method: str, prefix: str = "") -> dict | None:
    """Foreground lift of ``method`` on test_unbiased: the mean over its seeds' videos pooled, with a 95 %
    bootstrap interval over those videos; None when no run has it."""
    values = [x for r in runs if r["method"] == method and r["split"] == "test_unbiased"
              for x in (r.get(f"{prefix}foreground_lift_videos") or [])]
    if not values:
        return None
    b = bootstrap_interval(values)
    return {"lift": b.mean, "ci95": [b.low, b.high], "videos": b.n}


def saliency_validity(runs: list[dict]) -> dict:
    """The saliency measure's checks (Grad-CAM foreground lift on test_unbiased, videos pooled over seeds):

    * ``saliency_ceiling``: ``supervised_unbiased``'s lift >= SALIENCY_CEILING_MIN, its interval above 1;
    * ``saliency_shortcut``: ``supervised``'s lift below the ceiling's by >= SALIENCY_MARGIN, intervals apart;
    * ``saliency_learned``: a random-init encoder's lift (``random_init_*`` of the ceiling's rows) below
      the ceiling's by >= SALIENCY_MARGIN, intervals apart.

    Each is ``{"value": ..., "passed": bool | None, ...}``; ``saliency_passed`` is None when an arm is missing.

    Example:
        >>> row = lambda m, xs, **k: {"method": m, "split": "test_unbiased", "foreground_lift_videos": xs, **k}
        >>> ceiling = row("supervised_unbiased", [1.9, 2.0, 2.1], random_init_foreground_lift_videos=[1.0])
        >>> v = saliency_validity([ceiling, row("supervised", [1.2, 1.3])])
        >>> v["saliency_ceiling"]["passed"], v["saliency_shortcut"]["passed"], v["saliency_learned"]["passed"]
        (True, True, True)
        >>> round(v["saliency_shortcut"]["margin"], 2), v["saliency_passed"]
        (0.75, True)
    """
    ceiling = _pooled_lift(runs, "supervised_unbiased")
    others = {"saliency_shortcut": _pooled_lift(runs, "supervised"),
              "saliency_learned": _pooled_lift(runs, "supervised_unbiased", "random_init_")}
    out: dict = {"saliency_ceiling": {**(ceiling or {"lift": None}), "passed": None if ceiling is None else
                                      bool(ceiling["lift"] >= SALIENCY_CEILING_MIN and ceiling["ci95"][0] > 1.0)}}
    for name, other in others.items():
        if ceiling is None or other is None:
            out[name] = {"lift": None if other is None else other["lift"], "passed": None}
            continue
        margin = ceiling["lift"] - other["lift"]
        apart = other["ci95"][1] < ceiling["ci95"][0]
        out[name] = {**other, "margin": margin, "intervals_apart": bool(apart),
                     "passed": bool(margin >= SALIENCY_MARGIN and apart)}
    results = [out[k]["passed"] for k in ("saliency_ceiling", *others)]
    out["saliency_passed"] = None if None in results else all(results)
    out["saliency_thresholds"] = {"ceiling_lift": SALIENCY_CEILING_MIN, "margin": SALIENCY_MARGIN}
    return out


def comparisons(runs: list[dict], baseline: str = "rgb_only", split: str = "test_unbiased",
                methods: list[str] | None = None) -> list[dict]:
    """Every MoDist arm (or each of ``methods``) minus ``baseline`` on ``split``, paired by seed
    (linear and kNN top-1)."""
    out = []
    if methods is None:
        methods = [m for m in dict.fromkeys(r["method"] for r in runs) if m in ARMS and ARMS[m].method == "modist"]
    for method in (m for m in methods if m != baseline):
        row: dict = {"method": method, "baseline": baseline, "split": split}
        for metric in ("linear_top1", "knn_top1"):
            a, b = _by_seed(runs, method, split, metric), _by_seed(runs, baseline, split, metric)
            seeds = sorted(set(a) & set(b))
            if not seeds:
                break
            d = paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
            row[metric.removesuffix("_top1")] = _interval_dict(d)
            row["seeds"] = seeds
        else:
            out.append(row)
    return out


def _only_length(method: str) -> bool:
    """The arm differs from its method's demo arm in nothing but ``train.steps`` (the ``length`` study)."""
    return ARMS[method].train_split == "train" and all(o.startswith("train.steps=") for o in ARMS[method].overrides)


def length_curves(runs: list[dict], split: str = "test_unbiased") -> dict[str, list[dict]]:
    """Per method of the ``length`` study (modist, rgb_only, motion_only), one point per training
    length: ``steps``, linear top-1 and foreground lift (mean and sample std over seeds).

    >>> rows = [{"method": m, "split": "test_unbiased", "seed": s, "steps": n, "linear_top1": a + s / 10}
    ...         for m, n, a in [("modist_1200", 1200, 0.5), ("modist", 600, 0.3)] for s in (0, 1)]
    >>> [(p["steps"], round(p["linear_mean"], 2)) for p in length_curves(rows)["modist"]]
    [(600, 0.35), (1200, 0.55)]
    """
    curves: dict[str, list[dict]] = defaultdict(list)
    for method in dict.fromkeys(r["method"] for r in runs):
        if method not in ARMS or not _only_length(method) or ARMS[method].method == "supervised":
            continue
        rows = [r for r in runs if r["method"] == method and r["split"] == split]
        point: dict = {"steps": rows[0]["steps"], "seeds": len(rows)}
        for key, name in (("linear_top1", "linear"), ("foreground_lift", "lift")):
            values = np.array([r[key] for r in rows if r.get(key) is not None], float)
            if len(values):
                point[f"{name}_mean"] = float(values.mean())
                point[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        curves[ARMS[method].method].append(point)
    return {m: sorted(points, key=lambda p: p["steps"]) for m, points in curves.items()}


def matched_budget_comparisons(runs: list[dict], split: str = "test_unbiased") -> list[dict]:
    """The ``length`` study at equal training length, paired by seed: each MoDist arm that differs
    from ``modist`` only in its steps minus the RGB-only arm of its length (``modist_1200 -
    rgb_only_1200``; at ``modist``'s own length :func:`comparisons` has it) and minus the teacher
    trained alone for as long (``modist_1200 - motion_only_1200``: how close the student comes).
    Nothing unless some arm's length differs from ``modist``'s.

    >>> rows = [{"method": m, "split": "test_unbiased", "seed": s, "steps": n, "linear_top1": a, "knn_top1": a}
    ...         for m, n, a in [("modist", 600, 0.4), ("motion_only", 600, 0.7), ("modist_1200", 1200, 0.5),
    ...                         ("rgb_only_1200", 1200, 0.2), ("motion_only_1200", 1200, 0.8)]
    ...         for s in (0, 1)]
    >>> [(r["method"], r["baseline"], round(r["linear"]["mean"], 2)) for r in matched_budget_comparisons(rows)]
    [('modist', 'motion_only', -0.3), ('modist_1200', 'rgb_only_1200', 0.3), ('modist_1200', 'motion_only_1200', -0.3)]
    """
    steps = {r["method"]: r["steps"] for r in runs if "steps" in r and r["method"] in ARMS}
    default = steps.get("modist")
    students = [m for m in steps if ARMS[m].method == "modist" and _only_length(m)]
    if all(steps[m] == default for m in students):
        return []
    out = []
    for method in students:
        for kind in ("rgb_only", "motion_only"):
            if kind == "rgb_only" and steps[method] == default:
                continue
            baseline = next((m for m, n in steps.items() if n == steps[method] and ARMS[m].method == kind
                             and _only_length(m)), None)
            if baseline is not None:
                out += comparisons(runs, baseline=baseline, split=split, methods=[method])
    return out


def _interval_dict(d: Interval) -> dict:
    nan = math.isnan(d.half_width)
    return {"mean": d.mean, "std": None if nan else d.std, "ci95": None if nan else [d.low, d.high], "n": d.n}


def machine() -> dict:
    import importlib.metadata as md

    import torch

    versions = {}
    for name in ("torch", "numpy", "av", "opencv-contrib-python-headless", "modist"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {"cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "processor": _cpu_model() or platform.processor() or platform.machine(),
            "python": platform.python_version(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
            else None, "versions": versions}


def _cpu_model() -> str | None:
    """The CPU's model name on Linux (platform.processor() is often empty there)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def summary_table(runs: list[dict]) -> str:
    """Linear and kNN top-1 per method (rows) and split (columns), mean ± std over seeds."""
    rows = summarise(runs)
    splits = list(dict.fromkeys(r["split"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by_key = {(r["method"], r["split"]): r for r in rows}
    seeds = max(r["seeds"] for r in rows)
    pm = seeds > 1

    def cell(mean: float, std: float) -> str:
        return f"{100 * mean:.1f} ± {100 * std:.1f}" if pm else f"{100 * mean:.1f}"

    table = []
    for m in methods:
        cells = [m]
        for s in splits:
            r = by_key.get((m, s))
            cells += [cell(r["linear_mean"], r["linear_std"]), cell(r["knn_mean"], r["knn_std"])] if r else ["-", "-"]
        table.append(cells)
    header = ["method", *(f"{s} {metric}" for s in splits for metric in ("linear", "kNN"))]
    note = f"Top-1 accuracy (%), {'mean ± std over ' + str(seeds) + ' seeds' if pm else 'one seed'}."
    return note + "\n\n" + markdown_table(header, table)


def saliency_table(runs: list[dict]) -> str:
    """Foreground lift and pointing-game hit rate per method (Grad-CAM, test_unbiased), mean ± std
    over seeds; '' when no run has them."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        if r.get("foreground_lift") is not None:
            groups[r["method"]].append(r)
    if not groups:
        return ""
    scratch = [{"foreground_lift": r["random_init_foreground_lift"], "pointing_hit": r["random_init_pointing_hit"]}
               for r in runs if r.get("random_init_foreground_lift") is not None]
    if scratch:
        groups["random init (ceiling's architecture)"] = scratch
    table = []
    for method, rs in groups.items():
        lift = mean_interval([r["foreground_lift"] for r in rs])
        hit = mean_interval([r["pointing_hit"] for r in rs])
        # One seed has no spread to show: "± 0.00" would read as a measured zero.
        spread = lift.n > 1
        table.append([method, f"{lift.mean:.2f}" + (f" ± {_finite(lift.std):.2f}" if spread else ""),
                      f"{100 * hit.mean:.1f}" + (f" ± {100 * _finite(hit.std):.1f}" if spread else ""),
                      str(lift.n)])
    from modist.evaluation.saliency import DEFAULT_STAGE, MIN_INPUT

    stage = "the last stage" if DEFAULT_STAGE is None else f"residual stage {DEFAULT_STAGE}"
    return (f"Saliency on the moving actor (Grad-CAM at {stage}, input >= {MIN_INPUT} px, towards the clip's "
            "positive; test_unbiased of the camouflaged saliency split, data_saliency; "
            "mean ± std over seeds where there are several; lift 1.0 = no preference):\n\n"
            + markdown_table(["method", "foreground lift", "pointing hit (%)", "seeds"], table))


DETECTION_METRICS = {"detection_map": "frozen", "detection_finetune_map": "finetuned"}


def detection_table(runs: list[dict], baseline: str = "rgb_only") -> str:
    """Frame-mAP@0.5 per method (rows) and mode x test split (columns), mean ± std over seeds, and each
    MoDist arm minus ``baseline`` on test_unbiased paired by seed; '' when no run has them."""
    columns = list(dict.fromkeys((metric, r["split"]) for r in runs for metric in DETECTION_METRICS
                                 if r.get(metric) is not None))
    if not columns:
        return ""
    methods = list(dict.fromkeys(r["method"] for r in runs if any(r.get(m) is not None for m in DETECTION_METRICS)))
    table = []
    for m in methods:
        cells, n = [m], 0
        for metric, split in columns:
            values = [r[metric] for r in runs if r["method"] == m and r["split"] == split and r.get(metric) is not None]
            if not values:
                cells.append("-")
                continue
            iv = mean_interval(values)
            n = max(n, iv.n)
            cells.append(f"{100 * iv.mean:.1f}" + (f" ± {100 * _finite(iv.std):.1f}" if iv.n > 1 else ""))
        table.append([*cells, str(n)])
    header = ["method", *(f"{DETECTION_METRICS[metric]} {split}" for metric, split in columns), "seeds"]
    text = ("Action detection on the synthetic detection benchmark (RoI head on the frozen or finetuned backbone; "
            "frame-mAP@0.5 in %, mean ± std over seeds where there are several):\n\n" + markdown_table(header, table))
    for metric in dict.fromkeys(metric for metric, split in columns if split == "test_unbiased"):
        for method in (m for m in methods if m in ARMS and ARMS[m].method == "modist"):
            a = _by_seed(runs, method, "test_unbiased", metric)
            b = _by_seed(runs, baseline, "test_unbiased", metric)
            seeds = sorted(s for s in set(a) & set(b) if a[s] is not None and b[s] is not None)
            if seeds:
                d = paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
                ci = ("one seed: no interval" if math.isnan(d.half_width)
                      else f"95 % CI [{100 * d.low:+.1f}, {100 * d.high:+.1f}]")
                text += (f"\n\n- {method} - {baseline} {DETECTION_METRICS[metric]} detection frame-mAP on "
                         f"test_unbiased, paired by seed (n={len(seeds)}): {100 * d.mean:+.1f} points ({ci})")
    return text


def _pct(x: float | None) -> str:
    return "not run" if x is None else f"{100 * x:.1f}"


def validity_text(v: dict) -> str:
    t = v["thresholds"]
    verdict = {True: "**passed**", False: "**failed**", None: "incomplete (not every check's arm ran)"}[v["passed"]]
    return (f"Validity checks ({verdict}; means over seeds, %):\n\n"
            f"- ceiling, `supervised_unbiased` on test_unbiased: {_pct(v['ceiling'])} "
            f"(needs >= {100 * t['ceiling']:.0f})\n"
            f"- teacher, `motion_only` on test_unbiased: {_pct(v['teacher'])} (needs >= {100 * t['teacher']:.0f})\n"
            f"- shortcut, `supervised` test_biased - test_unbiased: {_pct(v['shortcut_gap'])} points "
            f"(needs >= {100 * t['shortcut_gap']:.0f})\n" + saliency_validity_text(v))


def _lift(d: dict | None) -> str:
    if not d or d.get("lift") is None:
        return "not run"
    return f"{d['lift']:.2f}" + (f" [{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}]" if d.get("ci95") else "")


def saliency_validity_text(v: dict) -> str:
    """The saliency checks of :func:`saliency_validity` as markdown; '' when they are absent."""
    if "saliency_ceiling" not in v:
        return ""
    t = v["saliency_thresholds"]
    verdict = {True: "**passed**", False: "**failed**", None: "incomplete (not every check's arm ran)"}
    lines = [f"\nSaliency checks ({verdict[v['saliency_passed']]}; Grad-CAM foreground lift on the saliency split's "
             "test_unbiased, videos pooled over seeds, 95 % bootstrap interval):\n",
             f"- saliency_ceiling, `supervised_unbiased`: {_lift(v['saliency_ceiling'])} "
             f"(needs >= {t['ceiling_lift']:.1f}, interval above 1)"]
    for key, who in (("saliency_shortcut", "`supervised` (scene-biased labels)"),
                     ("saliency_learned", "randomly initialised encoder")):
        d = v[key]
        margin = f", {d['margin']:.2f} below the ceiling" if d.get("margin") is not None else ""
        lines.append(f"- {key}, {who}: {_lift(d)}{margin} (needs >= {t['margin']:.1f} below, intervals apart)")
    return "\n".join(lines) + "\n"


def saliency_comparisons(runs: list[dict], baseline: str = "rgb_only") -> list[dict]:
    """Every MoDist arm minus ``baseline``: foreground lift and pointing hit on test_unbiased, paired by seed."""
    out = []
    methods = dict.fromkeys(r["method"] for r in runs)
    for method in (m for m in methods if m in ARMS and ARMS[m].method == "modist"):
        row: dict = {"method": method, "baseline": baseline, "split": "test_unbiased"}
        for metric in ("foreground_lift", "pointing_hit"):
            a = _by_seed(runs, method, "test_unbiased", metric)
            b = _by_seed(runs, baseline, "test_unbiased", metric)
            seeds = sorted(s for s in set(a) & set(b) if a[s] is not None and b[s] is not None)
            if not seeds:
                break
            row[metric] = _interval_dict(paired_difference([a[s] for s in seeds], [b[s] for s in seeds]))
            row["seeds"] = seeds
        else:
            out.append(row)
    return out


def saliency_comparison_text(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        parts = []
        for metric, scale, unit in (("foreground_lift", 1, ""), ("pointing_hit", 100, " points")):
            d = row[metric]
            fmt = ".2f" if scale == 1 else ".1f"
            ci = (f", 95 % CI [{scale * d['ci95'][0]:+{fmt}}, {scale * d['ci95'][1]:+{fmt}}]" if d["ci95"]
                  else " (one seed: no interval)")
            parts.append(f"{metric.replace('_', ' ')} {scale * d['mean']:+{fmt}}{unit}{ci}")
        lines.append(f"- {row['method']} - {row['baseline']} saliency on {row['split']}, paired by seed "
                     f"(n={len(row['seeds'])}): " + "; ".join(parts))
    return "\n".join(lines) + "\n" if lines else ""


def comparison_text(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        parts = []
        for metric in ("linear", "knn"):
            d = row[metric]
            ci = f", 95 % CI [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]" if d["ci95"] else \
                " (one seed: no interval)"
            parts.append(f"{metric} {100 * d['mean']:+.1f} points{ci}")
        lines.append(f"- {row['method']} - {row['baseline']} on {row['split']}, paired by seed "
                     f"(n={len(row['seeds'])}): " + "; ".join(parts))
    return "\n".join(lines) + "\n" if lines else ""


def write_results(out_dir: str | os.PathLike, runs: list[dict], meta: dict) -> str:
    """Write results.json, results.md and results.png (and results_length.png after the ``length`` study);
    return the markdown report."""
    from modist.viz.results import plot_demo_results, plot_length_study

    summary = summarise(runs)
    checks = validity(runs)
    diffs = comparisons(runs)
    report = summary_table(runs) + "\n" + validity_text(checks) + ("\n" + comparison_text(diffs) if diffs else "")
    # Ablation arms (named variants beyond the default five) against the release's weighting.
    ran = list(dict.fromkeys(r["method"] for r in runs))
    ablation = [m for m in ran if m in ARMS and ARMS[m].method in ("modist", "rgb_only") and m != "modist"]
    ablations = comparisons(runs, baseline="modist", methods=ablation) \
        if "modist" in ran and any(m not in DEMO_METHODS for m in ablation) else []
    if ablations:
        report += "\nAblations, each arm minus `modist` (the release's weighting):\n\n" + comparison_text(ablations)
    budget = matched_budget_comparisons(runs)
    if budget:
        report += ("\nAt equal training length, each MoDist arm minus the RGB-only arm of its length and minus "
                   "the teacher trained alone for as long (motion_only):\n\n") + \
            comparison_text(budget)
    saliency = saliency_table(runs)
    saliency_diffs = saliency_comparisons(runs)
    if saliency:
        report += "\n" + saliency + "\n" + ("\n" + saliency_comparison_text(saliency_diffs) if saliency_diffs else "")
    detection = detection_table(runs)
    if detection:
        report += "\n" + detection + "\n"
    if meta.get("note"):
        report = f"**{meta['note']}.**\n\n" + report
    plot_demo_results(summary, os.path.join(out_dir, "results.png"), chance=meta.get("chance"))
    figures = "![results](results.png)\n"
    if budget:  # the length study ran: its curves against training steps
        plot_length_study(length_curves(runs), os.path.join(out_dir, "results_length.png"))
        figures += "\n![training length](results_length.png)\n"
    write_json(os.path.join(out_dir, "results.json"), {"runs": runs, "summary": summary, "validity": checks,
                                                       "comparisons": diffs,
                                                       "saliency_comparisons": saliency_diffs,
                                                       "ablation_comparisons": ablations,
                                                       "matched_budget_comparisons": budget,
                                                       "meta": {**meta, "machine": machine()}})
    chance = f"Chance is {100 * meta['chance']:.0f} %. " if "chance" in meta else ""
    write_text(os.path.join(out_dir, "results.md"),
               f"# modist demo results\n\n{report}\n{chance}Training curves: `<method>_seed<N>/curves.png`.\n\n"
               + figures)
    return report
