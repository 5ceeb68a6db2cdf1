"""Evaluation outputs: ``results.json``, ``results.md`` and the plots, all written atomically.

Rows of earlier runs in the same directory (same checkpoint and dataset) are kept
unless recomputed, so ``modist eval linear`` then ``modist eval knn`` into one
directory gives one table with both.

Files per (protocol, split): ``confusion_<protocol>_<split>.png`` and
``per_class_<protocol>_<split>.png``; finetuning adds ``curves_finetune.png``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modist.atomic import write_json, write_text
from modist.evaluation.metrics import confusion_matrix, per_class_accuracy
from modist.evaluation.protocols import ProtocolResult

# Columns of the markdown table, in order, with their headers.
COLUMNS = (("top1", "top-1"), ("top5", "top-5"), ("mean_class_acc", "mean class acc"),
           ("R@1", "R@1"), ("R@5", "R@5"), ("R@10", "R@10"), ("R@20", "R@20"))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A markdown table whose first ``text_columns`` columns align left and the rest (numbers) right.

    Example:
        >>> print(markdown_table(["method", "top-1"], [["rgb_only", "41.0"], ["modist", "47.5"]]), end="")
        | method | top-1 |
        |---|---:|
        | rgb_only | 41.0 |
        | modist | 47.5 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * text_columns + "---:|" * (len(header) - text_columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def results_table(rows: Sequence[dict]) -> str:
    """One line per (protocol, split); metrics as percentages, '-' where a protocol has none."""
    used = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    cells = [
        [r["protocol"], r["split"], str(r["num_videos"]), *(f"{100 * r[k]:.1f}" if k in r else "-" for k, _ in used)]
        for r in rows
    ]
    return markdown_table(["protocol", "split", "videos", *(h for _, h in used)], cells, text_columns=2)


def _merge(path: Path, meta: dict, rows: list[dict]) -> list[dict]:
    if not path.is_file():
        return rows
    try:
        old = json.loads(path.read_text())
    except ValueError:
        return rows
    same = all(old.get("meta", {}).get(k) == meta.get(k) for k in ("checkpoint", "dataset"))
    if not same:
        return rows
    new_keys = {(r["protocol"], r["split"]) for r in rows}
    kept = [r for r in old.get("results", []) if (r.get("protocol"), r.get("split")) not in new_keys]
    return kept + rows


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def write_report(out_dir: str | os.PathLike, results: Sequence[ProtocolResult], class_names: Sequence[str],
                 meta: dict[str, Any], history: list[dict] | None = None, plots: bool = True) -> str:
    """Write everything for ``results``; returns the markdown table of all rows in the directory."""
    from modist.viz.confusion import plot_confusion, plot_per_class_accuracy
    from modist.viz.curves import plot_training_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    num_classes = len(class_names)
    rows = _merge(out / "results.json", meta, [r.row() for r in results])
    if plots and num_classes:
        for r in results:
            tag = f"{r.protocol} / {r.split}"
            name = f"{_safe(r.protocol)}_{_safe(r.split)}"
            top1 = 100 * (r.pred == r.labels).mean()
            plot_confusion(confusion_matrix(r.labels, r.pred, num_classes), class_names,
                           out / f"confusion_{name}.png", title=f"{tag}: top-1 {top1:.1f}%")
            plot_per_class_accuracy(per_class_accuracy(r.labels, r.pred, num_classes), class_names,
                                    out / f"per_class_{name}.png", title=tag, chance=1 / num_classes)
    if plots and history:
        plot_training_curves(history, out / "curves_finetune.png", title="finetune")
    write_json(out / "results.json", {"meta": meta, "class_names": list(class_names), "results": rows})
    table = results_table(rows)
    lines = [f"# modist evaluation: {meta.get('checkpoint') or 'random init'} on {meta.get('dataset')}", "",
             "Accuracies and recalls in %.", "", table]
    write_text(out / "results.md", "\n".join(lines))
    return table
