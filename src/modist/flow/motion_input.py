"""The encoded motion input of a prepared copy, computed once while ``modist prepare`` transcodes.

:class:`MotionInputWriter` is the :class:`~modist.data.prepare.FrameSink` that
``modist prepare DATASET --out DIR --config RECIPE`` hands the transcode: it receives every frame
the RGB copy encodes, estimates the flow of frame ``t`` to its partner
(:func:`~modist.data.sampling.flow_partners`, the recipe's gap and direction; the loaders pair
frames with the same function) with the recipe's estimator, encodes it as the recipe's motion
input (flow edges, :func:`~modist.flow.encodings.flow_edges_uint8`: truncated to 0..255 as the
authors' ``astype(np.uint8)``) and writes one grey frame per frame
(:class:`~modist.data.prepared.GrayVideoWriter`). Frames are held only until their last pair
is estimated: ``flow_gap`` frames back, or on, plus one batch.

Example:
    >>> import tempfile
    >>> from fractions import Fraction
    >>> from pathlib import Path
    >>> from modist.data.prepared import MotionInputSettings
    >>> from modist.data.video import VideoReader
    >>> settings = MotionInputSettings(preset="ultrafast", flow_gap=2, flow_direction="backward", crf=0)
    >>> writer = MotionInputWriter(settings)
    >>> path = Path(tempfile.mkdtemp()) / "m.mp4"
    >>> writer.begin(path, Fraction(10), 5, 32, 24)
    >>> for _ in range(5):
    ...     writer.add(np.zeros((24, 32, 3), np.uint8))
    >>> writer.end()
    >>> with VideoReader(path, luma=True) as r:
    ...     r.frames(range(5)).frames.shape  # no motion in a still video: flow edges 0
    (5, 24, 32, 1)
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from modist.choices import BATCHED_FLOW_ESTIMATORS
from modist.data.prepare import PrepareSettings
from modist.data.prepared import DEFAULT_MOTION_CRF, RECIPE_GOP, GrayVideoWriter, MotionInputSettings
from modist.data.sampling import flow_partners
from modist.data.timing import StageTimer, stage
from modist.flow.encodings import flow_edges_uint8
from modist.flow.estimate import estimate_batch
from modist.flow.raft import weights_digest


class MotionInputWriter:
    """Flow of each frame to its partner, encoded, written as a grey video (see the module docstring).

    ``batch`` pairs go to the estimator at once (batched estimators such as RAFT gain from
    more); ``options`` are passed to it (e.g. ``device="cuda"`` for raft or torch_tvl1).
    """

    def __init__(self, settings: MotionInputSettings, *, batch: int = 8, options: dict[str, Any] | None = None):
        settings.check()
        self.motion = settings
        #: recorded in prepared.json under "motion"
        self.settings = settings.to_dict()
        self.batch = batch
        self.options = dict(options or {})
        if settings.estimator == "dis":
            self.options.setdefault("preset", settings.preset)
        if settings.estimator == "raft":  # which weights made it, so a rerun with others is refused
            self.settings["raft_weights"] = weights_digest(self.options.get("weights"))
        self._out: GrayVideoWriter | None = None

    def begin(self, path: Path, fps: Fraction, num_frames: int, width: int, height: int,
              timer: StageTimer | None = None) -> None:
        self.timer = timer
        self._frames: dict[int, np.ndarray] = {}
        self._partners = flow_partners(np.arange(num_frames), self.motion.flow_gap, self.motion.flow_direction,
                                       num_frames)
        self._added = 0
        self._next = 0  # the next frame whose motion input is written
        with stage(timer, "motion"):
            self._out = GrayVideoWriter(path, fps, width, height, self.motion.crf)

    def add(self, image: np.ndarray) -> None:
        self._frames[self._added] = image
        self._added += 1
        self._write(final=False)

    def end(self) -> None:
        # A transcode hands over every frame it announced; should one come short, pair with the last there.
        self._partners = np.minimum(self._partners[:self._added], max(self._added - 1, 0))
        self._write(final=True)
        with stage(self.timer, "motion"):
            self._out.close()
        self._out, self._frames = None, {}

    def abort(self) -> None:
        if self._out is not None:
            self._out.abort()
        self._out, self._frames = None, {}

    def _write(self, final: bool) -> None:
        """Estimate, encode and write the frames whose pairs are complete, a batch at a time."""
        while True:
            ready = self._next
            limit = len(self._partners) if final else self._added
            while ready < limit and ready - self._next < self.batch and (final or self._partners[ready] < self._added):
                ready += 1
            if ready == self._next or (ready - self._next < self.batch and not final):
                return
            frames = np.arange(self._next, ready)
            partners = self._partners[frames]
            with stage(self.timer, "flow"):
                flow = estimate_batch(np.stack([self._frames[i] for i in frames]),
                                      np.stack([self._frames[i] for i in partners]),
                                      estimator=self.motion.estimator, **self.options)
            with stage(self.timer, "motion"):
                self._out.add(flow_edges_uint8(flow, self.motion.edge_max))
            self._next = ready
            # Later frames pair with partners at or after this one (flow_partners is monotone).
            keep_from = min(self._next, int(self._partners[self._next])) if self._next < len(self._partners) else ready
            for i in [i for i in self._frames if i < keep_from]:
                del self._frames[i]


def for_recipe(cfg: Any, *, motion_crf: int = DEFAULT_MOTION_CRF, gop: int = RECIPE_GOP, device: str | None = None,
               **rgb: Any) -> tuple[PrepareSettings, MotionInputWriter]:
    """What ``modist prepare --config`` writes for the :class:`~modist.config.PretrainConfig` ``cfg``.

    The RGB copy at the recipe's ``data.short_side`` (0 keeps each video's size) with a keyframe
    every ``gop`` frames, and its motion input stored at ``motion_crf``; ``rgb`` sets other
    :class:`~modist.data.prepare.PrepareSettings` fields. ``device`` runs a batched estimator
    (raft, torch_tvl1) there. The estimator is tried once on a tiny pair, so a bad one fails
    here rather than once per video.
    """
    settings = MotionInputSettings.from_config(cfg, crf=motion_crf)
    options = {"device": device} if device and settings.estimator in BATCHED_FLOW_ESTIMATORS else {}
    writer = MotionInputWriter(settings, options=options)
    blank = np.zeros((1, 16, 16, 3), np.uint8)
    estimate_batch(blank, blank, settings.estimator, **writer.options)
    return PrepareSettings(short_side=cfg.data.short_side, gop=gop, **rgb), writer


__all__ = ["MotionInputWriter", "for_recipe"]
