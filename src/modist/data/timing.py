"""Optional per-stage CPU timers for the data path (``modist bench data`` switches them on).

A :class:`StageTimer` sums :func:`time.process_time` (CPU of this process, all threads) per
named stage. Code on the data path holds ``timer: StageTimer | None`` and wraps a stage in
``with stage(timer, "flow"):``; with no timer that is a shared no-op context, so training
pays nothing for the instrumentation.

Example:
    >>> timer = StageTimer()
    >>> with stage(timer, "flow"):
    ...     _ = sum(range(1000))
    >>> list(timer.seconds), timer.seconds["flow"] >= 0
    (['flow'], True)
    >>> with stage(None, "flow"):  # off: nothing is measured
    ...     pass
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator

_OFF = contextlib.nullcontext()


class StageTimer:
    """CPU seconds per stage, plus the frame times each video read asked for (the decode floor's input)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        #: (video path, sorted frame times in seconds) of every read, in order
        self.requests: list[tuple[str, list[float]]] = []

    @contextlib.contextmanager
    def _measure(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - start

    def reset(self) -> None:
        self.seconds.clear()
        self.requests.clear()


def stage(timer: StageTimer | None, name: str) -> contextlib.AbstractContextManager:
    """Time the ``with`` block under ``name`` when ``timer`` is set; a no-op otherwise."""
    return _OFF if timer is None else timer._measure(name)


__all__ = ["StageTimer", "stage"]
