"""The run directory: what a pretraining run writes, and only rank 0 writes it.

``RUN/metrics.jsonl`` (one JSON record per step), numbered checkpoints + ``checkpoint.pt``
+ ``config.yaml`` (:mod:`modist.training.checkpoint`), and at the end the exported encoder
(``encoder.safetensors`` + ``encoder.json``) and ``curves.png``. A fresh run replaces an
earlier run's checkpoints and metrics; a resumed run keeps the metrics of the steps its
checkpoint covers and drops records a killed run logged past it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from modist.config import PretrainConfig, to_yaml
from modist.methods import Method
from modist.models.encoder_io import save_encoder
from modist.training.checkpoint import remove_checkpoints, save_step_checkpoint
from modist.training.resume import read_history, rewrite_history
from modist.viz.curves import plot_training_curves


class RunDir:
    """Metrics, checkpoints and export of one run in ``cfg.train.out_dir``.

    On ranks other than 0 (``writer=False``) every method is a no-op, so the loop calls
    them unconditionally.
    """

    def __init__(self, cfg: PretrainConfig, *, writer: bool, resumed_at: int | None):
        self.cfg = cfg
        self.path = Path(cfg.train.out_dir)
        self.writer = writer
        self.metrics_path = self.path / "metrics.jsonl"
        self.history: list[dict] = []
        self._metrics: IO[str] | None = None
        if not writer:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        if resumed_at is None:
            remove_checkpoints(self.path)
            self.metrics_path.unlink(missing_ok=True)
        else:
            self.history = read_history(self.metrics_path, resumed_at)
            rewrite_history(self.metrics_path, self.history)

    def __enter__(self) -> RunDir:
        if self.writer:
            self._metrics = self.metrics_path.open("a")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None

    def log(self, record: dict, *, flush: bool) -> None:
        """Append one step's record (kept in :attr:`history` on every rank)."""
        self.history.append(record)
        if self._metrics is not None:
            self._metrics.write(json.dumps(record) + "\n")
            if flush:
                self._metrics.flush()

    def save_checkpoint(self, step: int, state: dict[str, Any]) -> None:
        if self.writer:
            save_step_checkpoint(self.path, step, state, to_yaml(self.cfg), keep=self.cfg.train.keep_checkpoints)

    def export(self, method: Method) -> None:
        """The kept encoder (with what it was trained on) and the training curves."""
        if not self.writer:
            return
        d = self.cfg.data
        save_encoder(self.path, method.eval_encoder(), method.export_spec(), {
            "method": self.cfg.method.name, "clip_frames": d.clip_frames, "stride": d.stride, "crop_size": d.crop_size,
        })
        plot_training_curves(self.history, self.path / "curves.png", title=f"{self.cfg.method.name} pretraining")
