"""Where a run starts: fresh, or from a checkpoint that restores every piece of state.

``train.resume``: ``never`` starts fresh (a folder holding an earlier run is refused unless
``train.overwrite`` is set, see :mod:`modist.training.run_dir`), ``auto`` continues from the
latest checkpoint in ``out_dir`` if there is one, a path continues from that checkpoint (or
from the latest one in that directory).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modist.atomic import write_text
from modist.config import PretrainConfig
from modist.errors import DataError
from modist.models.run_files import find_latest_checkpoint, load_checkpoint

log = logging.getLogger(__name__)


def resume_checkpoint(cfg: PretrainConfig) -> Path | None:
    """The checkpoint ``train.resume`` points at, or None for a fresh start."""
    choice = cfg.train.resume
    if choice == "never":
        return None
    if choice == "auto":
        return find_latest_checkpoint(cfg.train.out_dir)
    path = Path(choice)
    if path.is_dir():
        found = find_latest_checkpoint(path)
        if found is None:
            raise DataError(f"train.resume={choice}: no checkpoint in that directory")
        return found
    if not path.is_file():
        raise DataError(f"train.resume={choice}: checkpoint not found")
    return path


@dataclass
class ResumePoint:
    """A checkpoint to continue from: where it is, its step, its loader position and its state."""

    path: Path
    step: int
    batches: int
    state: dict[str, Any]

    @property
    def rng(self) -> list | None:
        """Every rank's RNG states as the checkpoint holds them (None in old checkpoints)."""
        return self.state.get("rng")


def find_resume_point(cfg: PretrainConfig) -> ResumePoint | None:
    """The checkpoint ``train.resume`` names, loaded and checked; None for a fresh start."""
    path = resume_checkpoint(cfg)
    if path is None:
        return None
    state = load_resume_state(path, cfg)
    step = int(state["step"])
    if step > cfg.train.steps:
        raise DataError(f"{path}: is at step {step}, past train.steps={cfg.train.steps}; raise train.steps "
                        "or start again with train.overwrite=true")
    return ResumePoint(path, step, int(state.get("batches", step * cfg.train.accumulate)), state)


def load_resume_state(path: Path, cfg: PretrainConfig) -> dict[str, Any]:
    """Load a checkpoint and check that it was written for the same networks."""
    state = load_checkpoint(path)
    for key in ("method", "optimizer", "step"):
        if key not in state:
            raise DataError(f"{path}: not a modist training checkpoint (no {key!r})")
    saved = state.get("config", {})
    # The networks and queues must match; loss weights, schedules and the like may change on resume.
    checked = [("model", key) for key in saved.get("model", {})] + [("method", "name"), ("method", "queue_size")]
    for section, key in checked:
        value = saved.get(section, {}).get(key)
        current = getattr(getattr(cfg, section), key, value)
        if value is not None and current != value:
            raise DataError(f"{path}: was written with {section}.{key}={value!r}, not {current!r}")
    return state


def load_state_strict(module, state: dict, path: Path, what: str) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: {what} state does not fit ({str(exc).splitlines()[0]})") from None


def read_history(metrics_path: Path, upto_step: int) -> list[dict]:
    """Metrics records of steps ``<= upto_step`` (a killed run may have logged past its checkpoint)."""
    if not metrics_path.is_file():
        return []
    history = []
    for line in metrics_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
        if record.get("step", upto_step + 1) <= upto_step:
            history.append(record)
    return history


def rewrite_history(metrics_path: Path, history: list[dict]) -> None:
    write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in history))
