"""MoDist: visual contrastive learning distilled from a motion pathway.

Both pathways have an EMA key encoder and a negative queue. With view ``a`` as query
and view ``b`` (another clip of the same video) as key, four InfoNCE terms are

* ``vv``: visual query vs visual key (instance discrimination on RGB),
* ``mm``: motion query vs motion key,
* ``vm``: visual query vs motion key, negatives from the motion queue,
* ``mv``: motion query vs visual key, negatives from the visual queue.

The cross-modal key is by default the other pathway's view of the *same* clip
(``cross_view="same"``), so the visual pathway must find the motion of exactly what it
sees; ``cross_view="other"`` uses the video's other clip, like the ``vv`` term.

``rgb_only`` and ``motion_only`` are the same class with one pathway and the other
weights at zero.

Under ``torchrun`` each rank computes the terms for its share of the batch; keys are
all-gathered before they enter the queues and ``key_bn`` chooses where the key
encoders' batch statistics come from (:mod:`modist.methods.collective`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from modist.losses import info_nce
from modist.methods.base import Batch, Method
from modist.methods.collective import encode_keys
from modist.methods.momentum import cosine_momentum, make_momentum_copy, momentum_update
from modist.methods.queue import FeatureQueue
from modist.models import Pathway


@dataclass(frozen=True)
class LossWeights:
    vv: float = 1.0
    mm: float = 0.0
    vm: float = 1.0
    mv: float = 1.0


def forward_shuffled(encoder: nn.Module, x: torch.Tensor, groups: int) -> torch.Tensor:
    """Run ``encoder`` on a shuffled batch in ``groups`` chunks and undo the shuffle.

    Batch-norm statistics of the key encoder then come from other samples than the
    query's, which stops the network from cheating through them (MoCo's shuffle-BN,
    emulated within one process).
    """
    n = x.shape[0]
    if groups <= 1 or n < 2 * groups:
        return encoder(x)
    perm = torch.randperm(n, device=x.device)
    out = torch.cat([encoder(chunk) for chunk in x[perm].chunk(groups)])
    return out[torch.argsort(perm)]


class MoDist(Method):
    def __init__(
        self,
        visual: Pathway | None,
        motion: Pathway | None,
        weights: LossWeights,
        embed_dim: int = 128,
        temperature: float = 0.1,
        queue_size: int = 65536,
        momentum: float = 0.999,
        momentum_schedule: str = "constant",
        shuffle_bn_groups: int = 2,
        key_bn: str = "shuffle",
        cross_view: str = "same",
    ):
        super().__init__()
        if cross_view not in ("same", "other"):
            raise ValueError(f"cross_view must be 'same' or 'other', got {cross_view!r}")
        if visual is None and (weights.vv or weights.vm or weights.mv):
            raise ValueError("visual terms need a visual pathway")
        if motion is None and (weights.mm or weights.vm or weights.mv):
            raise ValueError("motion terms need a motion pathway")
        self.weights = weights
        self.temperature = temperature
        self.base_momentum = momentum
        self.momentum_schedule = momentum_schedule
        self.shuffle_bn_groups = shuffle_bn_groups
        self.key_bn = key_bn
        self.cross_view = cross_view
        self.visual = visual
        self.motion = motion
        self.visual_key = make_momentum_copy(visual) if visual is not None else None
        self.motion_key = make_momentum_copy(motion) if motion is not None else None
        self.visual_queue = FeatureQueue(embed_dim, queue_size) if visual is not None else None
        self.motion_queue = FeatureQueue(embed_dim, queue_size) if motion is not None else None
        self.needs_motion = motion is not None
        self.eval_modality = "rgb" if visual is not None else "motion"
        self._pending: list[tuple[FeatureQueue, torch.Tensor]] = []

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        w = self.weights
        q_v = k_v = q_m = k_m = None
        if self.visual is not None:
            q_v = self.visual(batch.rgb[0])
            k_v, all_k_v = encode_keys(self.visual_key, batch.rgb[1], self.key_bn, self.shuffle_bn_groups,
                                       forward_shuffled)
        if self.motion is not None:
            assert batch.motion is not None, "MoDist with a motion pathway needs motion input"
            q_m = self.motion(batch.motion[0])
            k_m, all_k_m = encode_keys(self.motion_key, batch.motion[1], self.key_bn, self.shuffle_bn_groups,
                                       forward_shuffled)

        # Cross-modal positives: the other pathway's key of the same clip ("same") or of the
        # video's other clip ("other"); the queues always receive the other clip's keys.
        x_k_m, x_k_v = k_m, k_v
        if self.cross_view == "same":
            if w.vm:
                x_k_m, _ = encode_keys(self.motion_key, batch.motion[0], self.key_bn, self.shuffle_bn_groups,
                                       forward_shuffled)
            if w.mv:
                x_k_v, _ = encode_keys(self.visual_key, batch.rgb[0], self.key_bn, self.shuffle_bn_groups,
                                       forward_shuffled)

        terms: dict[str, torch.Tensor] = {}
        t = self.temperature
        if w.vv:
            terms["vv"] = info_nce(q_v, k_v, self.visual_queue.keys, t)
        if w.mm:
            terms["mm"] = info_nce(q_m, k_m, self.motion_queue.keys, t)
        if w.vm:
            terms["vm"] = info_nce(q_v, x_k_m, self.motion_queue.keys, t)
        if w.mv:
            terms["mv"] = info_nce(q_m, x_k_v, self.visual_queue.keys, t)
        loss = sum(getattr(w, name) * value for name, value in terms.items())

        # The queues are read by this step's graph, so they are updated after backward; with
        # gradient accumulation the keys of every micro-batch wait for the optimiser step.
        if k_v is not None:
            self._pending.append((self.visual_queue, all_k_v))
        if k_m is not None:
            self._pending.append((self.motion_queue, all_k_m))
        logs = {f"loss_{name}": value.item() for name, value in terms.items()}
        return loss, logs

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        for queue, keys in self._pending:
            queue.enqueue(keys)
        self._pending = []
        m = self.base_momentum
        if self.momentum_schedule == "cosine":
            m = cosine_momentum(m, step, total_steps)
        if self.visual is not None:
            momentum_update(self.visual, self.visual_key, m)
        if self.motion is not None:
            momentum_update(self.motion, self.motion_key, m)

    def eval_encoder(self) -> nn.Module:
        return (self.visual if self.visual is not None else self.motion).backbone
