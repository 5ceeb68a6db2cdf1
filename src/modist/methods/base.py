"""The interface every pretraining method implements."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Batch:
    """An augmented batch on the training device.

    ``rgb`` is [2, B, 3, T, S, S] (two clips of each video), ``motion`` the matching
    motion input [2, B, C, T, S, S] or None, ``label`` [B] (-1 where unknown).
    """

    rgb: torch.Tensor
    motion: torch.Tensor | None
    label: torch.Tensor


class Method(nn.Module):
    """A self-supervised (or supervised) objective over one or two pathways."""

    #: whether batches must carry motion input (flow is computed only if so)
    needs_motion: bool = False
    #: whether batches must carry labels
    needs_labels: bool = False
    #: input modality of the encoder kept for downstream use: "rgb" or "motion"
    eval_modality: str = "rgb"

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the loss to minimise and scalar logs."""
        raise NotImplementedError

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Hook for momentum updates and queue maintenance."""

    def eval_encoder(self) -> nn.Module:
        """The backbone kept after pretraining: clip -> pooled features."""
        raise NotImplementedError
