"""A held-out test set for a dataset without splits: seeded, stratified by class, disjoint by video file.

Evaluation fits a classifier (or finds neighbours) on one set of videos and measures it on
another; a plain folder of class sub-folders, or a manifest without a ``split`` column, gives
the same videos for every split. :func:`hold_out` divides such records: in every class, a
seeded shuffle of its video files puts ``round(n * fraction)`` of them in the test set, at
least one and at most ``n - 1`` (so each side sees the class); a class with one video stays
in the training set. Records of one file (segments of a long video) stay together, so no
video file is on both sides.

Example:
    >>> recs = [VideoRecord(f"{c}{i}.mp4", label) for label, c in enumerate("ab") for i in range(5)]
    >>> recs.append(VideoRecord("c0.mp4", 2))
    >>> h = hold_out(recs, fraction=0.3, seed=0)
    >>> len(h.train), len(h.test), h.train_only
    (7, 4, [2])
    >>> sorted({r.label for r in h.test}), set(r.path for r in h.train) & set(r.path for r in h.test)
    ([0, 1], set())
    >>> [r.path for r in h.test] == [r.path for r in hold_out(recs, fraction=0.3, seed=0).test]
    True
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from modist.data.records import VideoRecord
from modist.errors import ConfigError, DataError


@dataclass
class Holdout:
    """Training and test records (each in the input's order) and how they were drawn."""

    train: list[VideoRecord]
    test: list[VideoRecord]
    fraction: float
    seed: int
    train_only: list[int] = field(default_factory=list)  # labels of classes with one video: training only
    per_class: dict[int, tuple[int, int]] = field(default_factory=dict)  # label -> (train, test) videos


def held_out_count(videos: int, fraction: float) -> int:
    """Videos of a class of ``videos`` that go to the test set (half rounds up).

    >>> [held_out_count(n, 0.3) for n in (1, 2, 3, 4, 5, 10)]
    [0, 1, 1, 1, 2, 3]
    """
    if videos < 2:
        return 0
    return min(max(int(videos * fraction + 0.5), 1), videos - 1)


def hold_out(records: Sequence[VideoRecord], fraction: float = 0.3, seed: int = 0) -> Holdout:
    """Split labelled ``records`` into disjoint training and test sets; see the module docstring."""
    if not 0 < fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1 (exclusive), got {fraction}")
    first_label: dict[str, int] = {}
    for r in records:
        if r.label is None:
            raise DataError(f"{r.path}: no label (a held-out split is drawn per class)")
        first_label.setdefault(r.path, r.label)
    by_class: dict[int, list[str]] = {}
    for path, label in first_label.items():
        by_class.setdefault(label, []).append(path)
    held: set[str] = set()
    result = Holdout([], [], fraction, seed)
    for label in sorted(by_class):
        paths = sorted(by_class[label])
        # One generator per class: adding a class or a video elsewhere leaves this class's draw alone.
        random.Random(f"{seed}:{label}").shuffle(paths)
        k = held_out_count(len(paths), fraction)
        held.update(paths[:k])
        result.per_class[label] = (len(paths) - k, k)
        if len(paths) == 1:
            result.train_only.append(label)
    result.train = [r for r in records if r.path not in held]
    result.test = [r for r in records if r.path in held]
    return result
