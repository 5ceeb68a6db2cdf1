"""Atomic file output: write to a temporary sibling, then rename.

A crash or an exception never leaves a partially written file under the final name,
so a file that exists is always complete.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "out.txt").read_text()
    'done'
    >>> mask = os.umask(0); _ = os.umask(mask)
    >>> oct((d / "out.txt").stat().st_mode & 0o777) == oct(0o666 & ~mask)
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the suffix so that writers choosing a format from the
    extension (PyAV, numpy, matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files, and some writers replace the file they are given with another
        # 0600 one (safetensors): every output gets the permissions a plain open() would give it.
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class AtomicWriter:
    """Base of writers that build one file piece by piece: it appears under its name only on :meth:`close`.

    Subclasses write to ``self._tmp`` and implement ``close`` (finish, then :meth:`_commit`) and
    ``abort`` (release handles, then :meth:`_discard`); used as a context manager, an exception
    aborts and a clean exit closes.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()

    def _commit(self) -> None:
        """Rename the finished temporary file onto ``path``."""
        self._atomic.__exit__(None, None, None)

    def _discard(self) -> None:
        """Remove the temporary file; nothing appears under ``path``."""
        self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
