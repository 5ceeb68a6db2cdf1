"""The common currency of all dataset adapters: a list of video records.

Every adapter (folder, manifest, Kinetics, UCF101, HMDB51, SSv2, synthetic) turns
its files into a :class:`VideoDataset`; loaders, ``modist data check``, flow
precomputation and evaluation only ever see records.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VideoRecord:
    """One video (or a trimmed segment of one)."""

    path: str
    label: int | None = None
    start_sec: float | None = None
    end_sec: float | None = None


@dataclass
class VideoDataset:
    """Records plus the class names their integer labels index (empty if unlabeled)."""

    records: list[VideoRecord]
    class_names: list[str] = field(default_factory=list)
    name: str = ""
    # Videos the annotations list but the disk lacks (adapters report them, not fail).
    missing: list[str] = field(default_factory=list)
    # True when the source has no splits (a plain folder, a manifest without a split column):
    # the records are all its videos, whichever split was asked for.
    unsplit: bool = False

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int | None]:
        return [r.label for r in self.records]
