"""One video of the benchmark: what decides it (seed, split, index) and the files it becomes.

Both the serial path of :func:`modist.synth.generate.generate` and the worker processes of
:mod:`modist.synth.workers` call :func:`make_video`; it lives here so neither imports the other.

Example:
    >>> video_label(12), SPLITS.index("test_unbiased")
    (2, 2)
    >>> float(video_rng(0, "train", 3).random()) == float(video_rng(0, "train", 3).random())
    True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modist.data import video as video_io
from modist.data.adapters.synth import ManifestRow
from modist.errors import ModistError
from modist.synth.classes import CLASS_NAMES
from modist.synth.config import SynthConfig
from modist.synth.manifest import write_masks
from modist.synth.scene import render_video
from modist.synth.textures import BACKGROUND_NAMES

# New splits go at the end: a split's position seeds its videos (``video_rng``).
SPLITS: tuple[str, ...] = ("train", "test_biased", "test_unbiased", "train_unbiased")
UNBIASED_SPLITS = ("test_unbiased", "train_unbiased")


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that decides everything about video ``index`` of ``split``."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


def video_label(index: int) -> int:
    """Classes are interleaved so that any prefix of a split is roughly balanced."""
    return index % len(CLASS_NAMES)


def choose_background(config: SynthConfig, split: str, label: int, rng: np.random.Generator) -> int:
    """The background family: the class's own with probability ``scene_bias`` (train,
    test_biased), otherwise, and always in test_unbiased and train_unbiased, uniform over families."""
    biased, uniform = rng.random() < config.scene_bias, int(rng.integers(len(BACKGROUND_NAMES)))
    if split not in UNBIASED_SPLITS and biased:
        return label % len(BACKGROUND_NAMES)
    return uniform


def make_video(out: Path, config: SynthConfig, seed: int, split: str, index: int) -> ManifestRow:
    """Render, encode and save one video and its masks; return its manifest row."""
    rng = video_rng(seed, split, index)
    label = video_label(index)
    background = choose_background(config, split, label, rng)
    frames, masks = render_video(config, label, background, rng)
    name = f"{split}_{index:05d}"
    video_path = out / "videos" / split / f"{name}.mp4"
    mask_path = out / "masks" / split / f"{name}.npz"
    try:
        video_io.write_video(video_path, frames, fps=config.fps, crf=config.crf)
        write_masks(mask_path, masks)
    except OSError as exc:
        raise ModistError(f"{video_path}: cannot write ({exc})") from exc
    return ManifestRow(video_path.resolve(), label, CLASS_NAMES[label], split, background, mask_path.resolve())
