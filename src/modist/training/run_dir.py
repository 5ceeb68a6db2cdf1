"""The run directory: what a pretraining run writes, and only rank 0 writes it.

``RUN/config.yaml`` (the resolved config, written before the first step),
``RUN/metrics.jsonl`` (one JSON record per step, flushed every ``train.log_every`` steps and
when the run stops, however it stops), numbered checkpoints + ``checkpoint.pt``
(:mod:`modist.training.checkpoint`), ``curves.png`` (redrawn in the background at every
checkpoint and every :data:`CURVES_EVERY_LOGS` log intervals, and once more when the loop
ends or is interrupted), ``RUN/tensorboard`` or ``RUN/wandb`` with ``train.logger``
(:mod:`modist.training.loggers`), and at the end the exported encoder
(``encoder.safetensors`` + ``encoder.json``).

Work is never replaced silently: a fresh run into a folder that holds another run's
checkpoints, metrics or encoder stops with an error unless ``train.overwrite`` is set
(``modist pretrain --overwrite``); ``train.resume=auto`` continues it instead. A resumed
run keeps the metrics of the steps its checkpoint covers and drops records a killed run
logged past it. ``RUN/.lock`` (``flock``) keeps a second process out while one writes;
the kernel drops the lock when its holder exits, however it exits, so it never goes stale.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import IO, Any

from modist.atomic import write_text
from modist.config import PretrainConfig, to_dict, to_yaml
from modist.errors import DataError
from modist.methods import Method
from modist.models.encoder_io import META, WEIGHTS, save_encoder
from modist.models.run_files import CONFIG, LATEST, TrainedOn, numbered_checkpoints
from modist.training.checkpoint import remove_checkpoints, save_step_checkpoint
from modist.training.loggers import TENSORBOARD_DIR, ScalarLogger, open_logger, scalars_of
from modist.training.resume import read_history, rewrite_history
from modist.viz.curves import plot_training_curves

log = logging.getLogger(__name__)

LOCK = ".lock"
METRICS = "metrics.jsonl"
CURVES = "curves.png"
# curves.png is redrawn every this many log intervals (and at every checkpoint): often enough to
# watch a run, rarely enough that a drawing (~0.2 s of CPU, in a thread) costs next to nothing.
CURVES_EVERY_LOGS = 10


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


class CurvesPainter:
    """Redraws ``curves.png`` in a background thread, one drawing at a time, so no step waits for it.

    A request made while a drawing is still running is dropped: the next one draws newer records.
    """

    def __init__(self, path: Path, title: str):
        self.path = path
        self.title = title
        self._thread: threading.Thread | None = None
        self._warned = False

    def request(self, history: list[dict]) -> bool:
        """Start a redraw of ``history`` as it is now; False when one is still running."""
        if self._thread is not None and self._thread.is_alive():
            return False
        self._thread = threading.Thread(target=self._draw, args=(list(history),), name="modist-curves", daemon=True)
        self._thread.start()
        return True

    def _draw(self, history: list[dict]) -> None:
        try:
            plot_training_curves(history, self.path, title=self.title)
        except Exception as exc:  # a picture is not worth stopping a run for; the last drawing reports errors
            if not self._warned:
                self._warned = True
                log.warning("%s: could not redraw the curves (%s)", self.path, exc)

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def draw_now(self, history: list[dict]) -> None:
        """Draw ``history`` in this thread, after any drawing under way."""
        self.wait()
        plot_training_curves(history, self.path, title=self.title)


class RunDir:
    """Metrics, curves, scalar logger, checkpoints and export of one run in ``cfg.train.out_dir``.

    On ranks other than 0 (``writer=False``) every method is a no-op, so the loop calls
    them unconditionally. Construction takes the folder's lock; :meth:`close` gives it back.
    ``with run_dir:`` spans the training loop: it opens ``metrics.jsonl`` and the
    ``train.logger``, and on the way out (an exception or Ctrl-C included) flushes and closes
    them and draws ``curves.png`` of every step logged.
    """

    def __init__(self, cfg: PretrainConfig, *, writer: bool):
        self.cfg = cfg
        self.path = Path(cfg.train.out_dir)
        self.writer = writer
        self.metrics_path = self.path / METRICS
        self.history: list[dict] = []
        self.curves = CurvesPainter(self.path / CURVES, f"{cfg.method.name} pretraining")
        self._metrics: IO[str] | None = None
        self._logger: ScalarLogger | None = None
        self._open = False
        self._start_step = 0
        self._logs_since_curves = 0
        self._lock = RunLock(self.path) if writer else None

    def complete(self, step: int) -> bool:
        """Whether a checkpoint at ``step`` ends this run and its encoder is exported: nothing left to do."""
        return step == self.cfg.train.steps and (self.path / WEIGHTS).is_file() and (self.path / META).is_file()

    def read_history(self) -> list[dict]:
        """The records of ``metrics.jsonl`` up to ``train.steps``, read without changing the file."""
        return read_history(self.metrics_path, self.cfg.train.steps)

    def start(self, *, resumed_at: int | None) -> list[str]:
        """Clear an earlier run (fresh start, when allowed) or trim its metrics (resume); write config.yaml.

        Returns the names of an earlier run's outputs that a fresh start replaced.
        """
        found: list[str] = []
        if not self.writer:
            return found
        for stale in self.path.glob(".*.tmp*"):  # half-written files of a killed run; the lock says none is live
            stale.unlink(missing_ok=True)
        self._start_step = resumed_at or 0
        if resumed_at is None:
            found = run_outputs(self.path)
            t = self.cfg.train
            if found and not t.overwrite and t.resume == "never":
                raise DataError(f"{self.path}: holds another run ({', '.join(found[:3])}); continue it with "
                                "train.resume=auto or replace it with train.overwrite=true")
            remove_checkpoints(self.path)
            for name in (METRICS, WEIGHTS, META, CURVES):
                (self.path / name).unlink(missing_ok=True)
            shutil.rmtree(self.path / TENSORBOARD_DIR, ignore_errors=True)
        else:
            self.history = read_history(self.metrics_path, resumed_at)
            rewrite_history(self.metrics_path, self.history)
        write_text(self.path / CONFIG, to_yaml(self.cfg))
        return found

    def close(self) -> None:
        self.__exit__(None, None, None)
        self.curves.wait()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> RunDir:
        if self.writer:
            self._metrics = self.metrics_path.open("a")
            self._logger = open_logger(self.cfg.train.logger, self.path, config=to_dict(self.cfg),
                                       start_step=self._start_step)
            self._open = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if not self._open:
            return
        self._open = False
        try:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
            if self._logger is not None:
                logger, self._logger = self._logger, None
                logger.close()
            self.curves.draw_now(self.history)
        except Exception:
            if exc_type is None:
                raise
            log.debug("closing %s after %s", self.path, exc_type.__name__, exc_info=True)

    def log(self, record: dict, *, flush: bool) -> None:
        """Append one step's record (kept in :attr:`history` on every rank) and pass it to the logger."""
        self.history.append(record)
        if self._metrics is not None:
            self._metrics.write(json.dumps(record) + "\n")
            if flush:
                self._metrics.flush()
        if self._logger is not None:
            self._logger.log(record["step"], scalars_of(record))
            if flush:
                self._logger.flush()
        if flush and self._open:
            self._logs_since_curves += 1
            if self._logs_since_curves >= CURVES_EVERY_LOGS and self.curves.request(self.history):
                self._logs_since_curves = 0

    def save_checkpoint(self, step: int, state: dict[str, Any]) -> None:
        if self.writer:
            save_step_checkpoint(self.path, step, state, to_yaml(self.cfg), keep=self.cfg.train.keep_checkpoints)
            if self._open and self.curves.request(self.history):
                self._logs_since_curves = 0

    def export(self, method: Method) -> None:
        """The kept encoder, with what it was trained on (``curves.png`` is drawn when the loop ends)."""
        if not self.writer:
            return
        save_encoder(self.path, method.eval_encoder(), method.export_spec(), TrainedOn.of_run(self.cfg).record())
