"""Skip-and-count unreadable videos instead of crashing a run on one bad file.

:meth:`DecodeStats.call` runs a read; a :class:`VideoReadError` is counted under its
:attr:`~modist.errors.VideoReadError.kind` and ``None`` comes back so the caller can draw
another video.
Each DataLoader worker has its own copy: merge them (or their ``as_dict()``) to report.

Example:
    >>> stats = DecodeStats()
    >>> stats.call(lambda: 1 / 1)
    1.0
    >>> def unreadable():
    ...     raise VideoReadError("/x.mp4", "file is empty")
    >>> stats.call(unreadable) is None
    True
    >>> stats.summary()
    'decoded 1, skipped 1 (file is empty: 1)'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modist.errors import VideoReadError

T = TypeVar("T")
MAX_EXAMPLES = 20


@dataclass
class DecodeStats:
    """Counts of decoded and skipped videos, skipped ones by reason, a few example messages."""

    ok: int = 0
    skipped: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def record_ok(self) -> None:
        self.ok += 1

    def record_skip(self, exc: VideoReadError) -> None:
        self.skipped += 1
        self.reasons[exc.kind] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(str(exc))

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fn(*args, **kwargs)``, or None (counted) if it raises VideoReadError."""
        try:
            result = fn(*args, **kwargs)
        except VideoReadError as exc:
            self.record_skip(exc)
            return None
        self.record_ok()
        return result

    def merge(self, other: DecodeStats | dict) -> None:
        """Add another worker's counts (a DecodeStats or its ``as_dict()``)."""
        if isinstance(other, dict):
            other = DecodeStats(other["ok"], other["skipped"], Counter(other["reasons"]), list(other["examples"]))
        self.ok += other.ok
        self.skipped += other.skipped
        self.reasons.update(other.reasons)
        self.examples.extend(other.examples[: max(MAX_EXAMPLES - len(self.examples), 0)])

    def as_dict(self) -> dict:
        return {"ok": self.ok, "skipped": self.skipped, "reasons": dict(self.reasons), "examples": list(self.examples)}

    def summary(self) -> str:
        text = f"decoded {self.ok}, skipped {self.skipped}"
        if self.reasons:
            text += " (" + ", ".join(f"{r}: {n}" for r, n in self.reasons.most_common()) + ")"
        return text

