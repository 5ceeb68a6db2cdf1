"""Motion-awareness probes on unlabeled video: labels made from the video itself.

A linear probe (:func:`~modist.evaluation.linear_probe.fit_linear`) on frozen features
answers one question per task:

* ``arrow``: does the clip play forward (0) or reversed (1)? It cannot be used on the built-in
  synthetic benchmark: its classes come in time-reversed pairs (left/right, clockwise/counter,
  zoom in/out, ...), so a reversed clip is an ordinary clip of another class and an encoder that
  knows the motion has nothing to go on; every arm of the demo, the supervised ceiling included,
  is at chance there. Use it on real video, whose physics has a direction (falling, pouring).
* ``speed``: is it sampled at 1x (0), 2x (1) or 4x (2) the encoder's stride, from the same start?
* ``static``: is it a real clip (0) or one of its frames repeated (1)?

Every video gives one example of each class, so chance is 1 / classes. Videos are split
into probe-train and probe-test halves (seeded; a video is in one half only), and the
accuracy interval is a bootstrap over probe-test videos. Videos shorter than the longest
clip a task needs are skipped and counted: padding them by repeating the last frame
would give the probe a cue that is not motion.

A motion encoder's input is estimated, as in evaluation, by its own clip source, from
each frame to the one ``flow_gap`` later *in the clip's direction of play* (earlier for a
reversed clip, the same frame for a repeated one).

Example:
    >>> views = task_views("arrow", start=2, clip_frames=4, stride=2)
    >>> [(v.tolist(), label) for v, label in views]
    [([2, 4, 6, 8], 0), ([8, 6, 4, 2], 1)]
    >>> arrow_label(views[1][0][::-1])
    0
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from modist.data.clips import ClipBatch, ClipSource
from modist.data.motion_source import MotionRequest
from modist.data.sampling import clip_span
from modist.errors import ConfigError
from modist.evaluation.intervals import bootstrap_interval
from modist.evaluation.linear_probe import LinearRecipe, fit_linear
from modist.flow.inputs import modality_input

TASKS = {"arrow": ("forward", "reversed"), "speed": ("1x", "2x", "4x"), "static": ("moving", "static")}
SPEEDS = (1, 2, 4)


def task_span(task: str, clip_frames: int, stride: int) -> int:
    """Frames of video one example of ``task`` needs."""
    return clip_span(clip_frames, stride * (SPEEDS[-1] if task == "speed" else 1))


def task_views(task: str, *, start: int, clip_frames: int, stride: int, frame: int = 0
               ) -> list[tuple[np.ndarray, int]]:
    """(frame indices, label) of each class's clip; ``frame`` picks the repeated frame of ``static``."""
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    base = start + stride * np.arange(clip_frames)
    if task == "arrow":
        return [(base, 0), (base[::-1].copy(), 1)]
    if task == "speed":
        return [(start + stride * k * np.arange(clip_frames), label) for label, k in enumerate(SPEEDS)]
    return [(base, 0), (np.full(clip_frames, base[frame % clip_frames]), 1)]


def arrow_label(indices: np.ndarray) -> int:
    """0 for a clip whose frames play forward, 1 for reversed."""
    return int(indices[-1] < indices[0])


def split_videos(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint probe-train and probe-test halves of ``n`` videos (sorted positions)."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return np.sort(order[:half]), np.sort(order[half:])


def flow_partners(indices: np.ndarray, gap: int, num_frames: int) -> np.ndarray:
    """The frame each clip frame's flow goes to: ``gap`` frames on in the direction of play."""
    direction = int(np.sign(int(indices[-1]) - int(indices[0])))
    return np.clip(indices + direction * gap, 0, num_frames - 1)


def _window(record, span: int, margin: int, rng: np.random.Generator, short_side: int) -> tuple[np.ndarray, int, int]:
    """Frames around a random ``span``-frame stretch of the video (``margin`` more on each side
    for flow partners), the stretch's offset in them, and the video's length.

    Only these frames are decoded (seek, as evaluation does for real videos).
    """
    with ClipSource(None, short_side=short_side).open(record) as video:
        num_frames = video.num_frames
        start = int(rng.integers(0, num_frames - span + 1)) if num_frames >= span else 0
        first = max(start - margin, 0)
        # Past the video's end ClipSource repeats the last frame, as evaluation clips do.
        rgb = video.read([first], span + 2 * margin, 1).rgb
    return rgb[0], start - first, num_frames


@torch.no_grad()
def _encode(enc, frames: np.ndarray, views: list[np.ndarray], flow, device: torch.device) -> np.ndarray:
    """Features [V, D] of clips ``frames[views[v]]`` through the evaluation input path."""
    batch = ClipBatch(rgb=torch.from_numpy(np.stack([frames[v] for v in views]))[None])
    if enc.modality == "motion":
        at = np.concatenate(views)
        partners = np.concatenate([flow_partners(v, flow.flow_gap, len(frames)) for v in views])
        f = flow.motion(MotionRequest.pairs(frames[at], frames[partners], frames=at))
        motion = torch.from_numpy(np.asarray(f).reshape(len(views), len(views[0]), *f.shape[1:]))[None]
        batch = replace(batch, **{flow.kind.value: motion})
    x = modality_input(enc.view_pipeline(1), batch, device, enc.modality)[:, 0]
    return enc.backbone(x).float().cpu().numpy()


@dataclass
class ProbeResult:
    task: str
    accuracy: float = math.nan
    per_video: list[float] = field(default_factory=list)  # accuracy of each probe-test video
    train_videos: int = 0
    test_videos: int = 0
    skipped_short: int = 0
    skipped_unreadable: int = 0
    seconds: float = 0.0

    @property
    def chance(self) -> float:
        return 1.0 / len(TASKS[self.task])

    def summary(self, *, seed: int = 0) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "per_video"}
        out.update(chance=self.chance, classes=list(TASKS[self.task]), interval="95% bootstrap over probe-test videos",
                   accuracy_interval=asdict(bootstrap_interval(self.per_video, seed=seed)) if self.per_video else None)
        return out


def probe_features(enc, records, task: str, *, seed: int = 0, device: torch.device | str = "cpu",
                   progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Features [N, D], labels [N] and video ids [N] of every task example; counts of skipped videos."""
    from modist.errors import VideoReadError

    device = torch.device(device)
    enc.backbone.to(device).eval()
    flow = enc.clip_source().flow
    span = task_span(task, enc.clip_frames, enc.stride)
    gap = flow.flow_gap if flow is not None else 0
    feats, labels, videos = [], [], []
    counts = {"short": 0, "unreadable": 0}
    for i, record in enumerate(tqdm(records, desc=f"probe {task}", disable=not progress, leave=False)):
        rng = np.random.default_rng([seed, i])
        try:
            frames, offset, num_frames = _window(record, span, gap, rng, enc.short_side)
        except VideoReadError:
            counts["unreadable"] += 1
            continue
        if num_frames < span:
            counts["short"] += 1
            continue
        views = task_views(task, start=offset, clip_frames=enc.clip_frames, stride=enc.stride,
                           frame=int(rng.integers(0, enc.clip_frames)))
        feats.append(_encode(enc, frames, [v for v, _ in views], flow, device))
        labels.extend(label for _, label in views)
        videos.extend([i] * len(views))
    dim = feats[0].shape[1] if feats else 0
    return (np.concatenate(feats) if feats else np.zeros((0, dim), np.float32),
            np.asarray(labels, np.int64), np.asarray(videos, np.int64), counts)


def run_probe(enc, records, task: str, *, recipe: LinearRecipe = LinearRecipe(), seed: int = 0,
              device: torch.device | str = "cpu", progress: bool = True) -> ProbeResult:
    """Probe accuracy of ``enc`` (an EvalEncoder) on ``task`` over ``records`` (labels unused)."""
    from modist.errors import DataError

    t0 = time.perf_counter()
    x, y, vid, counts = probe_features(enc, records, task, seed=seed, device=device, progress=progress)
    result = ProbeResult(task, skipped_short=counts["short"], skipped_unreadable=counts["unreadable"])
    used = np.unique(vid)
    if len(used) < 2:
        raise DataError(f"{task} probe: {len(used)} usable video(s) of {len(records)} "
                        f"({counts['short']} shorter than {task_span(task, enc.clip_frames, enc.stride)} frames, "
                        f"{counts['unreadable']} unreadable); need at least 2")
    train_pos, test_pos = split_videos(len(used), seed=seed)
    train = np.isin(vid, used[train_pos])
    clf = fit_linear(x[train], y[train], recipe, num_classes=len(TASKS[task]))
    correct = clf.predict(x[~train]) == y[~train]
    test_vid = vid[~train]
    result.per_video = [float(correct[test_vid == v].mean()) for v in used[test_pos]]
    result.accuracy = float(correct.mean())
    result.train_videos, result.test_videos = len(train_pos), len(test_pos)
    result.seconds = time.perf_counter() - t0
    return result
