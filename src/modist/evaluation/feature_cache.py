"""An on-disk cache of per-view features, one ``.npz`` per (encoder, dataset, split, views).

The key hashes everything that changes the features: the encoder's weights and clip
settings (:meth:`EvalEncoder.fingerprint`), the dataset spec, split and fold, the
number of temporal and spatial views, and the list of video paths (so an edited
annotation file misses the cache). Files are written atomically; an unreadable file
counts as a miss.

Example:
    >>> import tempfile
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> key = cache_key({"split": "train"})
    >>> cache.load("train", key) is None
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from modist.atomic import atomic_path
from modist.evaluation.features import ViewFeatures

log = logging.getLogger(__name__)


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


class FeatureCache:
    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path(self, name: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        return self.directory / f"{safe}-{key}.npz"

    def load(self, name: str, key: str) -> ViewFeatures | None:
        path = self.path(name, key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                return ViewFeatures(data["features"], data["labels"], data["indices"], int(data["skipped"]))
        except Exception as exc:  # a foreign or damaged file: recompute
            log.warning("ignoring unreadable feature cache %s (%s)", path, exc)
            return None

    def save(self, name: str, key: str, feats: ViewFeatures) -> Path:
        path = self.path(name, key)
        with atomic_path(path) as tmp:
            np.savez(tmp, features=feats.features, labels=feats.labels, indices=feats.indices,
                     skipped=np.int64(feats.skipped))
        return path
