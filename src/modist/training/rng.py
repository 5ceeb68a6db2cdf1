"""Seeding and the random-number-generator states a checkpoint must carry to resume exactly.

States are stored as tensors, ints and tuples only, so checkpoints still load weights-only
(:func:`modist.serialization.load_torch_file`).

Example:
    >>> import random
    >>> seed_everything(3); state = rng_state(); a = random.random(), torch.rand(1)
    >>> restore_rng_state(state); b = random.random(), torch.rand(1)
    >>> a[0] == b[0] and torch.equal(a[1], b[1])
    True
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rank_seed(seed: int, rank: int) -> int:
    """Seed of one rank's data augmentation; rank 0 keeps the configured seed."""
    return seed + 100_003 * rank


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's current device only
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _as_tuples(x):
    # A round trip through some serialisers turns tuples into lists; random.setstate needs tuples.
    return tuple(_as_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x
