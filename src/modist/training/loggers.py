"""``train.logger``: every step's scalars to TensorBoard or Weights & Biases, besides ``metrics.jsonl``.

Only rank 0 logs. Each logger needs an optional package; a missing one is a
:class:`~modist.errors.ConfigError` naming what to install, raised before the run
writes anything. Weights & Biases runs offline (files under ``RUN/wandb``, nothing
sent) unless ``WANDB_MODE`` says otherwise, so a machine without network trains the
same; ``wandb sync RUN/wandb/offline-run-*`` uploads such a run later.

Example:
    >>> require_logger("none")
    >>> open_logger("none", ".", config={}, start_step=0) is None
    True
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from modist.errors import ConfigError

TENSORBOARD_DIR = "tensorboard"

# train.logger -> (the module it imports, the extra that installs it)
_PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}


class ScalarLogger(Protocol):
    def log(self, step: int, scalars: dict[str, float]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def require_logger(name: str) -> None:
    """Raise one line naming the package to install when ``train.logger=name`` cannot run here."""
    if name not in _PACKAGES:
        return
    module, extra = _PACKAGES[name]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"train.logger={name} needs the {module} package, which is not installed: "
                          f"pip install 'modist[{extra}]'") from None


def scalars_of(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of one ``metrics.jsonl`` record, less its step.

    Example:
        >>> scalars_of({"step": 3, "loss": 1.5, "lr": 0.1, "note": "x", "done": True})
        {'loss': 1.5, 'lr': 0.1}
    """
    return {k: float(v) for k, v in record.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}


def open_logger(name: str, run: str | os.PathLike, *, config: dict, start_step: int) -> ScalarLogger | None:
    """The logger ``train.logger`` names, writing under ``run``; None for ``none``.

    ``start_step`` > 0 is a resumed run: TensorBoard drops what an interrupted run logged
    past it; a fresh run (0) clears the TensorBoard folder of a run it replaces.
    """
    if name == "tensorboard":
        return _TensorBoard(Path(run) / TENSORBOARD_DIR, start_step)
    if name == "wandb":
        return _WandB(Path(run), config)
    return None


class _TensorBoard:
    def __init__(self, folder: Path, start_step: int):
        from torch.utils.tensorboard import SummaryWriter

        if start_step == 0:
            shutil.rmtree(folder, ignore_errors=True)
        # purge_step: events of steps > start_step from an interrupted earlier process are hidden.
        self.writer = SummaryWriter(str(folder), purge_step=start_step + 1 if start_step else None)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _WandB:
    def __init__(self, run: Path, config: dict):
        import wandb

        # Offline unless the user chose a mode: training must not need (or wait for) the network.
        mode = {} if os.environ.get("WANDB_MODE") else {"mode": "offline"}
        self.wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "modist"), name=run.resolve().name,
                              dir=str(run), config=config, **mode)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self.run.log(scalars, step=step)

    def flush(self) -> None:
        pass  # wandb writes in its own process

    def close(self) -> None:
        self.run.finish()
