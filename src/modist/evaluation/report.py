"""Evaluation outputs: ``results.json``, ``results.md`` and the plots, all written atomically.

Rows of earlier runs in the same directory (same checkpoint, dataset and held-out draw) are
kept unless recomputed, so ``modist eval linear`` then ``modist eval knn`` into one
directory gives one table with both. A row is keyed by its task (``protocol``), its
named protocol (``preset``) and split.

``results.json`` holds ``protocols``: for each ``"<task>:<name>"`` of its rows the block
of :func:`modist.evaluation.presets.describe` (the protocol's name and every value the run
used, with its source); ``results.md`` lists them under the table.

Files per (protocol, split): ``confusion_<protocol>_<split>.png`` and
``per_class_<protocol>_<split>.png``; training runs add ``curves_<protocol>.png``
(``curves_finetune.png``, or ``curves_linear.png`` for the online linear protocol).
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
    """One line per (protocol, preset, split); metrics as percentages, '-' where a protocol has none."""
    used = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    cells = [
        [r["protocol"], r.get("preset", "modist"), r["split"], str(r["num_videos"]),
         *(f"{100 * r[k]:.1f}" if k in r else "-" for k, _ in used)]
        for r in rows
    ]
    return markdown_table(["protocol", "preset", "split", "videos", *(h for _, h in used)], cells, text_columns=3)


def _row_key(row: dict) -> tuple:
    return row.get("protocol"), row.get("preset", "modist"), row.get("split")


def _previous(path: Path, meta: dict) -> dict:
    """The results.json already in the directory when it is of the same checkpoint and dataset, else {}."""
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except ValueError:
        return {}
    if not isinstance(old, dict):
        return {}
    # Rows measured on another held-out draw are of other test videos: not one table.
    same = all(old.get("meta", {}).get(k) == meta.get(k) for k in ("checkpoint", "dataset", "held_out"))
    return old if same else {}


def _merge(old: dict, rows: list[dict], protocols: dict[str, dict]) -> tuple[list[dict], dict[str, dict]]:
    new_keys = {_row_key(r) for r in rows}
    kept = [r for r in old.get("results", []) if _row_key(r) not in new_keys]
    rows = kept + rows
    merged = {**old.get("protocols", {}), **protocols}
    wanted = {f"{r.get('protocol')}:{r.get('preset', 'modist')}" for r in rows}
    return rows, {k: v for k, v in merged.items() if k in wanted}


def protocols_markdown(protocols: dict[str, dict]) -> str:
    """Each protocol block as a heading and a table of its values and their sources."""
    parts = []
    for key, block in protocols.items():
        lines = [f"### {key.replace(':', ' / ')}: {block.get('summary', '')}".rstrip(": "), ""]
        overridden = set(block.get("overridden", []))
        not_applied = set(block.get("not_applied", []))
        cells = []
        for name, value in block.get("values", {}).items():
            mark = " (given)" if name in overridden else " (not applied)" if name in not_applied else ""
            cells.append([name, f"{json.dumps(value)}{mark}", str(block.get("sources", {}).get(name, ""))])
        lines.append(markdown_table(["setting", "value", "source"], cells, text_columns=3))
        parts.append("\n".join(lines))
    return "\n".join(parts)


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
    meta = dict(meta)
    protocols = meta.pop("protocols", {})
    rows, protocols = _merge(_previous(out / "results.json", meta), [r.row() for r in results], protocols)
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
        task = results[0].protocol if results else "finetune"
        plot_training_curves(history, out / f"curves_{_safe(task)}.png", title=task)
    write_json(out / "results.json", {"meta": meta, "class_names": list(class_names), "results": rows,
                                      "protocols": protocols})
    table = results_table(rows)
    lines = [f"# modist evaluation: {meta.get('checkpoint') or 'random init'} on {meta.get('dataset')}", "",
             "Accuracies and recalls in %.", ""]
    if meta.get("split_note"):
        lines += [f"Splits: {meta['split_note']}.", ""]
    lines.append(table)
    if protocols:
        lines += ["## Protocols", "", "Every value each protocol used, and where it comes from (see "
                  "docs/evaluation.md). \"given\": set for this run; \"not applied\": recorded for comparison.",
                  "", protocols_markdown(protocols)]
    write_text(out / "results.md", "\n".join(lines))
    return table
