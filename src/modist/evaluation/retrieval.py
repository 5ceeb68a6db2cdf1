"""Nearest-neighbour video retrieval, scored as in CoCLR / Xu et al. (2019).

Each test video queries the training set by cosine similarity of its feature
(``s(q, t) = q.t / (|q| |t|)``); the query is a hit at ``k`` when any of its ``k``
most similar training videos has the query's class:

    Recall@k = 1/|Q| * sum_q [ exists j in topk(q): y_j = y_q ]

Example:
    >>> tr = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]); ytr = np.array([0, 1, 2])
    >>> te = np.array([[1.0, 0.1], [0.1, 1.0]]); yte = np.array([2, 1])
    >>> retrieval_recall(tr, ytr, te, yte, ks=(1, 2))
    {1: 0.5, 2: 1.0}
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_KS = (1, 5, 10, 20)


def nearest_neighbours(train_x: np.ndarray, test_x: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
    """Indices [Q, k] of the ``k`` most cosine-similar training rows per query (most similar first)."""
    xtr = F.normalize(torch.from_numpy(np.asarray(train_x, np.float32)), dim=1)
    xte = F.normalize(torch.from_numpy(np.asarray(test_x, np.float32)), dim=1)
    k = min(k, len(xtr))
    out = [(xte[i:i + chunk] @ xtr.t()).topk(k, dim=1).indices for i in range(0, len(xte), chunk)]
    return torch.cat(out).numpy() if out else np.zeros((0, k), np.int64)


def retrieval_recall(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     ks: tuple[int, ...] = DEFAULT_KS) -> dict[int, float]:
    """Recall@k for each ``k`` in ``ks`` (fractions in [0, 1]); ``k`` beyond the set size uses all of it."""
    neighbours = nearest_neighbours(train_x, test_x, max(ks))
    hits = np.asarray(train_y)[neighbours] == np.asarray(test_y)[:, None]  # [Q, K]
    return {k: float(hits[:, :k].any(axis=1).mean()) if len(hits) else 0.0 for k in ks}
