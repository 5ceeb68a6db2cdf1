"""The run directory: what a pretraining run writes, and only rank 0 writes it.

``RUN/config.yaml`` (the resolved config, written before the first step),
``RUN/metrics.jsonl`` (one JSON record per step), numbered checkpoints + ``checkpoint.pt``
(:mod:`modist.training.checkpoint`), and at the end the exported encoder
(``encoder.safetensors`` + ``encoder.json``) and ``curves.png``.

Work is never replaced silently: a fresh run into a folder that holds another run's
checkpoints, metrics or encoder stops with an error unless ``train.overwrite`` is set
(``modist pretrain --overwrite``); ``train.resume=auto`` continues it instead. A resumed
run keeps the metrics of the steps its checkpoint covers and drops records a killed run
logged past it. ``RUN/.lock`` (``flock``) keeps a second process out while one writes;
the kernel drops the lock when its holder exits, however it exits, so it never goes stale.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from modist.atomic import write_text
from modist.config import PretrainConfig, to_yaml
from modist.errors import DataError
from modist.methods import Method
from modist.models.encoder_io import META, WEIGHTS, save_encoder
from modist.training.checkpoint import LATEST, numbered_checkpoints, remove_checkpoints, save_step_checkpoint
from modist.training.resume import read_history, rewrite_history
from modist.viz.curves import plot_training_curves

LOCK = ".lock"
METRICS = "metrics.jsonl"
CURVES = "curves.png"


def run_outputs(path: str | os.PathLike) -> list[str]:
    """Names in ``path`` that show a run was there (checkpoints, metrics, encoder), sorted."""
    path = Path(path)
    if not path.is_dir():
        return []
    found = [p.name for _, p in numbered_checkpoints(path)]
    found += [name for name in (LATEST, WEIGHTS) if (path / name).is_file()]
    metrics = path / METRICS
    if metrics.is_file() and metrics.stat().st_size > 0:
        found.append(METRICS)
    return sorted(found)


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock`` held until :meth:`release` or process exit."""

    def __init__(self, run: Path):
        import fcntl

        run.mkdir(parents=True, exist_ok=True)
        self.path = run / LOCK
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise DataError(f"{run}: another modist pretrain (pid {holder}) is writing this run folder; "
                            "wait for it or choose another train.out_dir") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class RunDir:
    """Metrics, checkpoints and export of one run in ``cfg.train.out_dir``.

    On ranks other than 0 (``writer=False``) every method is a no-op, so the loop calls
    them unconditionally. Construction takes the folder's lock; :meth:`close` gives it back.
    """

    def __init__(self, cfg: PretrainConfig, *, writer: bool):
        self.cfg = cfg
        self.path = Path(cfg.train.out_dir)
        self.writer = writer
        self.metrics_path = self.path / METRICS
        self.history: list[dict] = []
        self._metrics: IO[str] | None = None
        self._lock = RunLock(self.path) if writer else None

    def start(self, *, resumed_at: int | None) -> list[str]:
        """Clear an earlier run (fresh start, when allowed) or trim its metrics (resume); write config.yaml.

        Returns the names of an earlier run's outputs that a fresh start replaced.
        """
        found: list[str] = []
        if not self.writer:
            return found
        for stale in self.path.glob(".*.tmp*"):  # half-written files of a killed run; the lock says none is live
            stale.unlink(missing_ok=True)
        if resumed_at is None:
            found = run_outputs(self.path)
            t = self.cfg.train
            if found and not t.overwrite and t.resume == "never":
                raise DataError(f"{self.path}: holds another run ({', '.join(found[:3])}); continue it with "
                                "train.resume=auto or replace it with --overwrite (train.overwrite=true)")
            remove_checkpoints(self.path)
            for name in (METRICS, WEIGHTS, META, CURVES):
                (self.path / name).unlink(missing_ok=True)
        else:
            self.history = read_history(self.metrics_path, resumed_at)
            rewrite_history(self.metrics_path, self.history)
        write_text(self.path / "config.yaml", to_yaml(self.cfg))
        return found

    def close(self) -> None:
        self.__exit__()
        if self._lock is not None:
            self._lock.release()

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
        save_encoder(self.path, method.eval_encoder(), method.export_spec(), encoder_extra(self.cfg))
        plot_training_curves(self.history, self.path / CURVES, title=f"{self.cfg.method.name} pretraining")


def encoder_extra(cfg: PretrainConfig) -> dict[str, Any]:
    """What ``encoder.json`` records besides the spec: the method and the clip shape it trained on."""
    d = cfg.data
    return {"method": cfg.method.name, "clip_frames": d.clip_frames, "stride": d.stride, "crop_size": d.crop_size}
