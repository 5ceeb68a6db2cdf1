"""Weighted k-nearest-neighbour classification with cosine similarity (Wu et al. 2018)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def knn_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
) -> np.ndarray:
    """Each of the ``k`` most similar training videos votes ``exp(sim / temperature)``.

    Example:
        >>> tr = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]); ytr = np.array([0, 0, 1])
        >>> knn_predict(tr, ytr, np.array([[1.0, 0.05], [0.1, 1.0]]), k=1).tolist()
        [0, 1]
    """
    num_classes = num_classes or int(train_y.max()) + 1
    xtr = F.normalize(torch.from_numpy(train_x).float(), dim=1)
    xte = F.normalize(torch.from_numpy(test_x).float(), dim=1)
    sim = xte @ xtr.t()
    k = min(k, xtr.shape[0])
    top_sim, top_idx = sim.topk(k, dim=1)
    votes = torch.zeros(xte.shape[0], num_classes)
    votes.scatter_add_(1, torch.from_numpy(train_y).long()[top_idx], (top_sim / temperature).exp())
    return votes.argmax(1).numpy()
