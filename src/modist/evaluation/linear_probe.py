"""Linear probe: a softmax classifier trained on frozen, standardised features."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int | None = None,
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Fit full-batch Adam on cross-entropy; return (test top-1 in [0, 1], test predictions).

    Features are standardised with the training statistics, so the result does not
    depend on the feature scale of the encoder.

    Example:
        >>> x = np.array([[0.0], [1.0], [10.0], [11.0]]); y = np.array([0, 0, 1, 1])
        >>> linear_probe(x, y, x, y)[0]
        1.0
    """
    g = torch.Generator().manual_seed(seed)
    num_classes = num_classes or int(max(train_y.max(), test_y.max())) + 1
    mean = train_x.mean(0, keepdims=True)
    std = train_x.std(0, keepdims=True) + 1e-6
    xtr = torch.from_numpy((train_x - mean) / std).float()
    xte = torch.from_numpy((test_x - mean) / std).float()
    ytr = torch.from_numpy(train_y).long()
    weight = (torch.randn(xtr.shape[1], num_classes, generator=g) * 0.01).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(xtr @ weight + bias, ytr).backward()
        opt.step()
    with torch.no_grad():
        pred = (xte @ weight + bias).argmax(1).numpy()
    return float((pred == test_y).mean()), pred
