"""Reading ``torch.save`` files: the one place that decides how far modist trusts a pickle.

Every ``.pt`` / ``.pth`` / ``.pyth`` file modist reads goes through :func:`load_torch_file`:
``torch.load`` with ``weights_only=True``, which rebuilds tensors, numbers, strings and containers
and refuses any other object, so reading a file cannot run code from it. ``trust_pickle=True``
unpickles in full (a foreign tool's checkpoint that stores other objects beside its tensors);
only a caller a person asked for it passes it. A file that does not load is a
:class:`~modist.errors.DataError` of one line naming it; when weights-only loading refused it,
the error is the subclass :class:`PickleRefused`, so that a caller can say how to get past it.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"step": 3, "w": torch.zeros(2)}, path)
    >>> load_torch_file(path)["step"]
    3
    >>> _ = path.write_bytes(path.read_bytes()[:100])  # cut short
    >>> try:
    ...     load_torch_file(path, what="modist checkpoint")
    ... except DataError as exc:
    ...     print(str(exc).replace(str(path), "w.pt"))
    w.pt: not a readable modist checkpoint (PytorchStreamReader failed reading zip archive: ...)
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from modist.errors import DataError


class PickleRefused(DataError):
    """Weights-only loading refused a file: not a pickle, or one storing objects other than tensors and containers."""

    def __init__(self, path: str | os.PathLike, what: str, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: not a readable {what} ({reason})")


def load_torch_file(path: str | os.PathLike, *, map_location: str | torch.device = "cpu", what: str = "checkpoint",
                    trust_pickle: bool = False) -> Any:
    """What ``torch.save`` wrote to ``path``, read with ``weights_only=True`` unless ``trust_pickle``.

    Raises DataError ``"<path>: not a readable <what> (<reason>)"`` for a missing, truncated or
    foreign file; :class:`PickleRefused` (a DataError) when it was weights-only loading that refused it.
    """
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before failing on them
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        if not trust_pickle:
            raise PickleRefused(path, what, _reason(exc)) from None
        raise DataError(f"{path}: not a readable {what} ({_reason(exc)})") from None
    except Exception as exc:  # zip/pickle errors of truncated or foreign files; anything a trusted pickle raises
        raise DataError(f"{path}: not a readable {what} ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """The line of torch's message that says what failed (the global a weights-only load refused), cut short."""
    for line in str(exc).splitlines():
        line = line.strip()
        if "Unsupported global" in line or line.startswith("WeightsUnpickler error"):
            return line.replace("WeightsUnpickler error: ", "").split(". Please")[0].rstrip(".")[:200]
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
