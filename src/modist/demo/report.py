"""Demo results: ``results.json`` (one row per method x split x seed) and a markdown table."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from modist.atomic import write_json, write_text


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds per (method, split)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["method"], r["split"])].append(r)
    rows = []
    for (method, split), rs in groups.items():
        lin = np.array([r["linear_top1"] for r in rs])
        knn = np.array([r["knn_top1"] for r in rs])
        rows.append({"method": method, "split": split, "seeds": len(rs),
                     "linear_mean": float(lin.mean()), "linear_std": float(lin.std()),
                     "knn_mean": float(knn.mean()), "knn_std": float(knn.std())})
    return rows


def markdown_table(runs: list[dict]) -> str:
    rows = summarise(runs)
    splits = sorted({r["split"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by_key = {(r["method"], r["split"]): r for r in rows}
    seeds = max(r["seeds"] for r in rows)
    pm = seeds > 1

    def cell(mean: float, std: float) -> str:
        return f"{100 * mean:.1f} ± {100 * std:.1f}" if pm else f"{100 * mean:.1f}"

    header = "| method | " + " | ".join(f"{s} linear | {s} kNN" for s in splits) + " |"
    lines = [header, "|---|" + "---:|" * (2 * len(splits))]
    for m in methods:
        cells = []
        for s in splits:
            r = by_key.get((m, s))
            cells += [cell(r["linear_mean"], r["linear_std"]), cell(r["knn_mean"], r["knn_std"])] if r else ["-", "-"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    note = f"Top-1 accuracy (%), {'mean ± std over ' + str(seeds) + ' seeds' if pm else 'one seed'}."
    return note + "\n\n" + "\n".join(lines) + "\n"


def write_results(out_dir: str | os.PathLike, runs: list[dict], meta: dict) -> str:
    """Write results.json, results.md and results.png; return the markdown table."""
    from modist.viz.results import plot_demo_results

    table = markdown_table(runs)
    summary = summarise(runs)
    plot_demo_results(summary, os.path.join(out_dir, "results.png"), chance=meta.get("chance"))
    write_json(os.path.join(out_dir, "results.json"), {"runs": runs, "summary": summary, "meta": meta})
    chance = f"Chance is {100 * meta['chance']:.0f} %. " if "chance" in meta else ""
    write_text(os.path.join(out_dir, "results.md"),
               f"# modist demo results\n\n{table}\n{chance}Training curves: `<method>_seed<N>/curves.png`.\n\n"
               "![results](results.png)\n")
    return table
