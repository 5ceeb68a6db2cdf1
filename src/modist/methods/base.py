"""The interface every pretraining method implements, and the parts it declares.

Generic training code (optimiser, DDP, ``torch.compile``, sync BN, export) never looks
a method's networks up by attribute name: it asks the method.

* :meth:`Method.query_networks` - the networks the optimiser trains;
* :meth:`Method.momentum_pairs` - ``(online, key)`` pairs whose key copy the method
  updates itself (EMA), never the optimiser;
* :attr:`Method.learnable_params` - what the optimiser gets;
* :attr:`Method.all_parameters_used` - whether every learnable parameter reaches the
  loss in every step (if not, DDP must search the graph for unused ones);
* :meth:`Method.export_spec` / :meth:`Method.eval_encoder` - the backbone kept after
  pretraining and how to rebuild it.

A step is ``on_step_start()``, one ``training_step`` per micro-batch, backward, the
optimiser, then ``after_optimizer_step``: state a method carries between its
``training_step`` and the optimiser step (MoDist's keys waiting for the queue) is dropped
at ``on_step_start``, so a ``training_step`` that no optimiser step followed leaves no trace.

Example (a method is one class; register it in :data:`modist.choices.PRETRAINING_METHODS`):
    >>> import torch
    >>> from torch import nn
    >>> class Regress(Method):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.net = nn.Linear(3, 1)
    ...     def query_networks(self):
    ...         return {"net": self.net}
    ...     def training_step(self, batch):
    ...         return self.net(batch.rgb).pow(2).mean(), {}
    >>> m = Regress()
    >>> len(m.learnable_params), m.all_parameters_used, m.momentum_pairs()
    (2, True, [])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from modist.models.encoder_io import EncoderSpec


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
    """A self-supervised (or supervised) objective over one or more networks."""

    #: whether batches must carry motion input (flow is computed only if so)
    needs_motion: bool = False
    #: whether batches must carry labels
    needs_labels: bool = False

    def query_networks(self) -> dict[str, nn.Module]:
        """The networks the optimiser trains, by name (compile and sync BN apply to them)."""
        raise NotImplementedError

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """``(online, key)`` pairs; the key network follows its online one by EMA."""
        return []

    def key_networks(self) -> list[nn.Module]:
        """The momentum copies, updated by the method and never by the optimiser."""
        return [key for _, key in self.momentum_pairs()]

    @property
    def learnable_params(self) -> list[nn.Parameter]:
        """Parameters the optimiser updates (those of :meth:`query_networks`, deduplicated)."""
        seen: set[int] = set()
        params = []
        for net in self.query_networks().values():
            for p in net.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    @property
    def all_parameters_used(self) -> bool:
        """Whether every learnable parameter reaches the loss in every step."""
        return True

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the loss to minimise and scalar logs."""
        raise NotImplementedError

    def on_step_start(self) -> None:
        """Called before the first micro-batch of an optimiser step."""

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Called after the optimiser step ``step`` (1-based): momentum updates, queues."""

    def eval_encoder(self) -> nn.Module:
        """The backbone kept after pretraining: clip -> pooled features."""
        raise NotImplementedError

    def export_spec(self) -> EncoderSpec:
        """How to rebuild :meth:`eval_encoder` (architecture, channels, width, modality)."""
        raise NotImplementedError
