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
weights at zero (:data:`PRESET_WEIGHTS`; ``method.weight_*`` override a preset's weights).

Under ``torchrun`` each rank computes the terms for its share of the batch; keys are
all-gathered before they enter the queues and ``key_bn`` chooses where the key
encoders' batch statistics come from (:mod:`modist.methods.collective`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from modist.choices import CROSS_VIEWS
from modist.config import PretrainConfig
from modist.errors import ConfigError
from modist.losses import info_nce
from modist.methods.base import Batch, Method
from modist.methods.collective import encode_keys
from modist.methods.momentum import cosine_momentum, make_momentum_copy, momentum_update
from modist.methods.queue import FeatureQueue
from modist.models import Pathway, build_pathway
from modist.models.encoder_io import EncoderSpec


@dataclass(frozen=True)
class LossWeights:
    """Weights of the four InfoNCE terms; a zero weight skips the term."""

    vv: float = 1.0
    mm: float = 0.0
    vm: float = 1.0
    mv: float = 1.0

    @property
    def uses_visual(self) -> bool:
        return bool(self.vv or self.vm or self.mv)

    @property
    def uses_motion(self) -> bool:
        return bool(self.mm or self.vm or self.mv)


# The released MoDist default: visual contrastive + visual<->motion, motion<->motion off.
PRESET_WEIGHTS: dict[str, LossWeights] = {
    "modist": LossWeights(vv=1.0, mm=0.0, vm=1.0, mv=1.0),
    "rgb_only": LossWeights(vv=1.0, mm=0.0, vm=0.0, mv=0.0),
    "motion_only": LossWeights(vv=0.0, mm=1.0, vm=0.0, mv=0.0),
}


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
    """Visual and motion pathways with EMA key encoders, negative queues and four InfoNCE terms.

    Args:
        visual: the RGB pathway (None when no visual term is weighted).
        motion: the motion pathway (None when no motion term is weighted).
        weights: weights of the ``vv``, ``mm``, ``vm`` and ``mv`` terms.
        embed_dim: width of the embeddings the queues hold.
        temperature: InfoNCE temperature.
        queue_size: negatives kept per pathway.
        momentum: EMA coefficient of the key encoders (its start value under a cosine schedule).
        momentum_schedule: ``constant``, or ``cosine`` (BYOL: rises to 1 over training).
        shuffle_bn_groups: groups of MoCo's shuffle-BN within one process.
        key_bn: where key encoders' batch statistics come from (``shuffle``, ``sync``, ``local``).
        cross_view: cross-modal key from the ``same`` clip or the video's ``other`` clip.
    """

    def __init__(
        self,
        visual: Pathway | None,
        motion: Pathway | None,
        weights: LossWeights,
        *,
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
        if cross_view not in CROSS_VIEWS:
            raise ValueError(f"cross_view must be {' or '.join(map(repr, CROSS_VIEWS))}, got {cross_view!r}")
        if visual is None and weights.uses_visual:
            raise ValueError("visual terms need a visual pathway")
        if motion is None and weights.uses_motion:
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
        self._pending: list[tuple[FeatureQueue, torch.Tensor]] = []

    # -- declared parts ---------------------------------------------------------------
    def query_networks(self) -> dict[str, nn.Module]:
        nets = {"visual": self.visual, "motion": self.motion}
        return {name: net for name, net in nets.items() if net is not None}

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        pairs = [(self.visual, self.visual_key), (self.motion, self.motion_key)]
        return [(online, key) for online, key in pairs if online is not None]

    @property
    def all_parameters_used(self) -> bool:
        # A pathway's query network reaches the loss only through the terms where it is the query.
        w = self.weights
        visual_used = self.visual is None or bool(w.vv or w.vm)
        motion_used = self.motion is None or bool(w.mm or w.mv)
        return visual_used and motion_used

    def _kept(self) -> Pathway:
        return self.visual if self.visual is not None else self.motion

    def eval_encoder(self) -> nn.Module:
        return self._kept().backbone

    def export_spec(self) -> EncoderSpec:
        return self._kept().spec

    # -- one step --------------------------------------------------------------------
    def _keys(self, encoder: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_keys(encoder, x, self.key_bn, self.shuffle_bn_groups, forward_shuffled)

    def training_step(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        w = self.weights
        q_v = k_v = q_m = k_m = None
        if self.visual is not None:
            q_v = self.visual(batch.rgb[0])
            k_v, all_k_v = self._keys(self.visual_key, batch.rgb[1])
        if self.motion is not None:
            if batch.motion is None:
                raise ValueError("MoDist with a motion pathway needs batches with motion input")
            q_m = self.motion(batch.motion[0])
            k_m, all_k_m = self._keys(self.motion_key, batch.motion[1])

        # Cross-modal positives: the other pathway's key of the same clip ("same") or of the
        # video's other clip ("other"); the queues always receive the other clip's keys.
        x_k_m, x_k_v = k_m, k_v
        if self.cross_view == "same":
            if w.vm:
                x_k_m, _ = self._keys(self.motion_key, batch.motion[0])
            if w.mv:
                x_k_v, _ = self._keys(self.visual_key, batch.rgb[0])

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

    def on_step_start(self) -> None:
        self._pending = []

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        for queue, keys in self._pending:
            queue.enqueue(keys)
        self._pending = []
        m = self.base_momentum
        if self.momentum_schedule == "cosine":
            m = cosine_momentum(m, step, total_steps)
        for online, key in self.momentum_pairs():
            momentum_update(online, key, m)


def resolve_weights(cfg: PretrainConfig) -> LossWeights:
    """The preset of ``method.name`` with any ``method.weight_*`` that is set replacing its value."""
    preset = PRESET_WEIGHTS[cfg.method.name]
    m = cfg.method
    return LossWeights(
        vv=preset.vv if m.weight_vv is None else m.weight_vv,
        mm=preset.mm if m.weight_mm is None else m.weight_mm,
        vm=preset.vm if m.weight_vm is None else m.weight_vm,
        mv=preset.mv if m.weight_mv is None else m.weight_mv,
    )


def build_motion_distill(cfg: PretrainConfig, *, motion_channels: int, num_classes: int = 0) -> MoDist:
    """MoDist or one of its single-pathway baselines, as ``cfg.method`` and ``cfg.model`` say."""
    weights = resolve_weights(cfg)
    if not (weights.uses_visual or weights.uses_motion):
        raise ConfigError("all method.weight_* are zero: nothing to train")
    mc, m = cfg.model, cfg.method
    head = {"proj_hidden": mc.proj_hidden, "embed_dim": mc.embed_dim, "head_bn": mc.head_bn,
            "base_width": mc.base_width, "conv1_temporal_stride": mc.conv1_temporal_stride}
    visual = build_pathway(mc.arch, 3, modality="rgb", **head) if weights.uses_visual else None
    motion = (build_pathway(mc.motion_arch or mc.arch, motion_channels, width_divisor=mc.motion_width_divisor,
                            modality="motion", **head)
              if weights.uses_motion else None)
    return MoDist(visual, motion, weights, embed_dim=mc.embed_dim, temperature=m.temperature,
                  queue_size=m.queue_size, momentum=m.momentum, momentum_schedule=m.momentum_schedule,
                  shuffle_bn_groups=m.shuffle_bn_groups, key_bn=m.key_bn, cross_view=m.cross_view)
