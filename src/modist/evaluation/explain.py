"""Saliency overlays of one or more encoders on the same clips (what ``modist explain`` runs).

For every video of the inputs (video files or dataset specs), ``clips`` uniformly spaced clips
are explained by every encoder (:func:`~modist.evaluation.saliency.explain_video`): a GIF per
clip and map (frame | heat overlay) in ``out/<label>/``, and one contact sheet
(``out/contact_sheet.png``) with a row per clip and the encoders' overlays side by side.

Example:
    >>> from modist.evaluation.explain import default_labels
    >>> default_labels(["runs/a/encoder.safetensors", "runs/b/encoder.safetensors"])  # files: their folders' names
    ['a', 'b']
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from modist.errors import ConfigError, DataError, VideoReadError
from modist.evaluation.encoder import load_eval_encoder
from modist.evaluation.saliency import MAPS, explain_video, finetuned_classifier
from modist.viz.saliency import contact_sheet, heat_overlay, save_gif, side_by_side

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


def input_records(spec: str, split: str | None, *, default_split: str) -> tuple[list, str]:
    """Records of a video file or dataset spec, and a name for them (synth specs default to ``test_unbiased``)."""
    from modist.data.adapters import parse_spec, resolve_dataset
    from modist.data.records import VideoRecord

    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return [VideoRecord(str(path))], path.name
    kind = parse_spec(spec)[0]
    split = split or ("test_unbiased" if kind == "synth" else default_split)
    dataset = resolve_dataset(spec, split)
    if not dataset.records:
        raise DataError(f"{spec}: no readable videos in split {split!r}")
    return dataset.records, f"{spec} ({split})"


def seeded_subset(records: list, n: int | None, seed: int) -> list:
    """``n`` of ``records`` drawn without replacement by ``seed``, in their order; all when ``n`` is None or more.

    >>> seeded_subset(list("abcdef"), 3, seed=0) == seeded_subset(list("abcdef"), 3, seed=0)
    True
    >>> seeded_subset(list("abc"), None, seed=0)
    ['a', 'b', 'c']
    """
    if n is None or n >= len(records):
        return records
    return [records[i] for i in np.sort(np.random.default_rng(seed).choice(len(records), n, replace=False))]


def default_labels(checkpoints: Sequence[str | os.PathLike]) -> list[str]:
    """A run folder's name per checkpoint (the folder holding it, for a file)."""
    return [Path(c).name if Path(c).is_dir() else Path(c).parent.name for c in checkpoints]


@dataclass
class ExplainResult:
    """What :func:`explain` wrote, and counts for its summary line."""

    inputs: list[str]  # a name per input: the file name, or "spec (split)"
    checkpoints: dict[str, str]  # label -> checkpoint
    maps: list[str]  # the maps drawn; "class" last when a classifier was given
    clips_per_video: int
    contact_sheet: Path
    gifs: list[str] = field(default_factory=list)
    clips: int = 0  # clips explained: the contact sheet's rows
    videos: int = 0  # videos explained
    skipped: int = 0  # unreadable videos
    seconds: float = 0.0  # explaining and writing, after the encoders are loaded

    def to_json(self) -> dict:
        """The content of ``explain.json``."""
        return {"inputs": self.inputs, "checkpoints": self.checkpoints, "maps": self.maps,
                "clips_per_video": self.clips_per_video, "gifs": self.gifs, "contact_sheet": str(self.contact_sheet),
                "skipped_unreadable": self.skipped}


@dataclass
class _Sheet:
    """The contact sheet's rows: a middle frame and each column's overlay per clip."""

    frames: list[np.ndarray] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _check(checkpoints, labels, classifiers, *, max_videos, clips, fps, scale) -> None:
    for name, value in (("max_videos", max_videos), ("clips", clips), ("fps", fps)):
        if value is not None and value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    if scale < 0:
        raise ConfigError(f"scale must be 0 (automatic) or positive, got {scale}")
    if labels is not None and len(labels) != len(checkpoints):
        raise ConfigError(f"labels: {len(labels)} given for {len(checkpoints)} checkpoint(s)")
    if classifiers is not None and len(classifiers) != len(checkpoints):
        raise ConfigError(f"classifiers: {len(classifiers)} given for {len(checkpoints)} checkpoint(s) "
                          "(None or 'none' for a checkpoint without one)")


def _explain_record(record, encoders: list, classifiers: list, *, maps: tuple[str, ...], clips: int,
                    device) -> list:
    """Every encoder's clips of one video, with the classifier's "class" map added where there is one."""
    per_encoder = [explain_video(enc, record, maps=maps, num_clips=clips, device=device) for enc in encoders]
    for explained, classifier in zip(per_encoder, classifiers):
        if classifier is not None:
            tuned, score = classifier
            for clip, c in zip(explained, explain_video(tuned, record, maps=("class",), classifier=score,
                                                        num_clips=clips, device=device)):
                clip.maps["class"] = c.maps["class"]
    return per_encoder


def _write_record(stem: str, per_encoder: list, labels: list[str], sheet: _Sheet, out: Path, *, clips: int,
                  fps: float, scale: int) -> list[str]:
    """The GIFs of one video's clips (their paths), and its rows of the contact sheet."""
    files = []
    for k in range(clips):
        mid = per_encoder[0][k].frames.shape[0] // 2
        sheet.frames.append(per_encoder[0][k].frames[mid])
        sheet.rows.append(f"{stem[:18]} #{k}")
        for label, explained in zip(labels, per_encoder):
            clip = explained[k]
            repeat = scale or max(1, -(-128 // clip.frames.shape[1]))
            for m in clip.maps:
                path = out / label / f"{stem}_clip{k}_{m}.gif"
                save_gif(side_by_side(clip.frames, clip.maps[m]), path, fps=fps, scale=repeat)
                files.append(str(path))
                column = label if len(clip.maps) == 1 else f"{label}\n{m}"
                sheet.columns.setdefault(column, []).append(heat_overlay(clip.frames, clip.maps[m])[mid])
    return files


def explain(*, checkpoints: Sequence[str | os.PathLike], inputs: Sequence[str], out: str | os.PathLike,
            labels: Sequence[str] | None = None, classifiers: Sequence[str | os.PathLike | None] | None = None,
            maps: Sequence[str] = MAPS, split: str | None = None, max_videos: int | None = 4, clips: int = 1,
            fps: float = 4.0, scale: int = 0, device: torch.device | str = "cpu", seed: int = 0,
            progress: bool = True) -> ExplainResult:
    """Explain ``clips`` clips of every video of ``inputs`` with every encoder of ``checkpoints``; see the module.

    ``inputs``: video files or dataset specs (``max_videos`` of each dataset, a subset drawn by
    ``seed``; ``split`` default: test_unbiased for synth, test otherwise). ``labels``: a name per
    checkpoint (default: its run folder's). ``classifiers``: a finetuned classifier (``modist eval
    finetune``'s folder or file) per checkpoint, or None / "none", adding Grad-CAM towards its
    predicted class. ``scale``: GIF pixel repeat (0: to at least 128 px). Unreadable videos are
    skipped and counted; a VideoReadError when none could be read.
    """
    _check(checkpoints, labels, classifiers, max_videos=max_videos, clips=clips, fps=fps, scale=scale)
    labels = list(labels) if labels is not None else default_labels(checkpoints)
    if len(set(labels)) != len(labels):
        raise ConfigError("checkpoints: their folders share a name; tell them apart with labels")
    maps = tuple(maps)
    if not maps or any(m not in MAPS for m in maps):
        raise ConfigError(f"maps must be some of {', '.join(MAPS)}, got {', '.join(maps) or 'none'}")
    records, names = [], []
    for spec in inputs:
        found, name = input_records(spec, split, default_split="test")
        records += seeded_subset(found, max_videos, seed)
        names.append(name)
    encoders = [load_eval_encoder(c) for c in checkpoints]
    tuned = [None if c in (None, "none") else finetuned_classifier(enc, c)
             for enc, c in zip(encoders, classifiers or [None] * len(encoders))]
    out = Path(out)
    t0 = time.perf_counter()
    result = ExplainResult(names, dict(zip(labels, (str(c) for c in checkpoints))),
                           [*maps, *(["class"] if any(tuned) else [])], clips, out / "contact_sheet.png")
    sheet = _Sheet()
    for record in tqdm(records, desc="explain", disable=not progress, leave=False):
        try:
            per_encoder = _explain_record(record, encoders, tuned, maps=maps, clips=clips, device=device)
        except VideoReadError:
            result.skipped += 1
            continue
        result.gifs += _write_record(Path(record.path).stem, per_encoder, labels, sheet, out, clips=clips,
                                     fps=fps, scale=scale)
    if not sheet.frames:
        raise VideoReadError(f"{', '.join(inputs)}: none of the {len(records)} video(s) could be read")
    contact_sheet(sheet.frames, sheet.columns, result.contact_sheet, row_labels=sheet.rows)
    result.clips, result.videos = len(sheet.frames), len(records) - result.skipped
    result.seconds = time.perf_counter() - t0
    return result
