"""InfoNCE with a negative queue (MoCo; van den Oord et al. 2018).

For query ``q_i`` the positive is key ``k_i`` (same row) and the negatives are the
queue entries: ``loss_i = -log exp(q_i.k_i / t) / (exp(q_i.k_i / t) + sum_j exp(q_i.n_j / t))``.
Cross-modal terms use the same function with a query of one pathway and keys and
queue of the other.

Example:
    >>> import torch
    >>> q = torch.tensor([[1.0, 0.0]]); k = torch.tensor([[1.0, 0.0]])
    >>> queue = torch.tensor([[0.0, 1.0]])
    >>> round(info_nce(q, k, queue, temperature=1.0).item(), 4)  # -log(e / (e + 1))
    0.3133
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce_logits(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits [N, 1 + K]: column 0 is each query's own key, the rest the queue."""
    positive = (query * key).sum(dim=1, keepdim=True)
    negatives = query @ queue.t()
    return torch.cat([positive, negatives], dim=1) / temperature


def info_nce(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean InfoNCE loss; ``key`` and ``queue`` carry no gradient in MoCo but may here."""
    logits = info_nce_logits(query, key, queue, temperature)
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)
