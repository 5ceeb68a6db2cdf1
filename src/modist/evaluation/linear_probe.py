"""Linear probe: a softmax classifier trained on frozen, standardised features.

The classifier is ``z = ((x - mu) / sigma) W + b`` with ``mu, sigma`` the per-dimension
mean and standard deviation of the training features, so results do not depend on the
feature scale of the encoder. :func:`fit_linear` is the ``modist`` linear protocol
(:mod:`modist.evaluation.presets`): it follows the release's linear evaluation in spirit
(cross-entropy, mini-batches of 256, full batch when the set is smaller, a cosine
learning-rate schedule (:func:`modist.schedules.cosine_factor`), no weight decay) on cached
features of the test views. Adam replaces SGD so that one learning rate works across
encoders without a sweep. The release's own protocol (``maclr``: SGD at lr 32 on raw
features of augmented clips through the frozen backbone, every step) is
:func:`modist.evaluation.finetune.finetune` with ``frozen_backbone=True``.

Example:
    >>> x = np.array([[0.0], [1.0], [10.0], [11.0]]); y = np.array([0, 0, 1, 1])
    >>> clf = fit_linear(x, y, LinearRecipe(epochs=100))
    >>> clf.predict(x).tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from modist.evaluation.fit import fit
from modist.schedules import cosine_factor


@dataclass(frozen=True)
class LinearRecipe:
    epochs: int = 100
    lr: float = 0.01
    batch_size: int | None = 256  # None: full batch
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | constant
    seed: int = 0


@dataclass
class LinearClassifier:
    mean: np.ndarray  # [1, D]
    std: np.ndarray  # [1, D]
    weight: torch.Tensor  # [D, C]
    bias: torch.Tensor  # [C]

    def logits(self, x: np.ndarray) -> torch.Tensor:
        """Class scores for features ``[..., D]`` -> ``[..., C]``."""
        z = torch.from_numpy(((x - self.mean) / self.std).astype(np.float32))
        with torch.no_grad():
            return z @ self.weight + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(-1).numpy()


def fit_linear(x: np.ndarray, y: np.ndarray, recipe: LinearRecipe = LinearRecipe(),
               num_classes: int | None = None) -> LinearClassifier:
    """Fit the classifier on features ``x`` [N, D] and labels ``y`` [N]."""
    g = torch.Generator().manual_seed(recipe.seed)
    num_classes = num_classes or int(y.max()) + 1
    mean = x.mean(0, keepdims=True)
    std = x.std(0, keepdims=True) + 1e-6
    xtr = torch.from_numpy(((x - mean) / std).astype(np.float32))
    ytr = torch.from_numpy(np.asarray(y)).long()
    weight = (torch.randn(xtr.shape[1], num_classes, generator=g) * 0.01).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=recipe.lr, weight_decay=recipe.weight_decay)
    n = len(xtr)
    batch = n if recipe.batch_size is None else min(recipe.batch_size, n)
    per_epoch = math.ceil(n / batch)
    total = recipe.epochs * per_epoch
    schedule = (lambda step: recipe.lr * cosine_factor(step, total)) if recipe.schedule == "cosine" else None
    fit(lambda idx: F.cross_entropy(xtr[idx] @ weight + bias, ytr[idx]), _batches(n, batch, recipe.epochs, g),
        optimizer=opt, steps=total, lr=schedule, record=lambda step: None)
    return LinearClassifier(mean, std, weight.detach(), bias.detach())


def _batches(n: int, batch: int, epochs: int, g: torch.Generator) -> Iterator[torch.Tensor | slice]:
    """Row indices of each mini-batch: a fresh permutation every epoch, or every row when one batch holds all."""
    for _ in range(epochs):
        order = torch.randperm(n, generator=g) if batch < n else None
        for i in range(math.ceil(n / batch)):
            yield order[i * batch:(i + 1) * batch] if order is not None else slice(None)
