"""Build a method from the config: MoDist and its baselines share one code path."""

from __future__ import annotations

from modist.config import PretrainConfig
from modist.errors import ConfigError
from modist.methods.base import Method
from modist.methods.motion_distill import LossWeights, MoDist
from modist.methods.supervised import Supervised
from modist.models import build_pathway
from modist.models.resnet3d import build_backbone

# The released MoDist default: visual contrastive + visual<->motion, motion<->motion off.
PRESET_WEIGHTS: dict[str, LossWeights] = {
    "modist": LossWeights(vv=1.0, mm=0.0, vm=1.0, mv=1.0),
    "rgb_only": LossWeights(vv=1.0, mm=0.0, vm=0.0, mv=0.0),
    "motion_only": LossWeights(vv=0.0, mm=1.0, vm=0.0, mv=0.0),
}
METHODS = (*PRESET_WEIGHTS, "supervised")


def resolve_weights(cfg: PretrainConfig) -> LossWeights:
    preset = PRESET_WEIGHTS[cfg.method.name]
    m = cfg.method
    return LossWeights(
        vv=preset.vv if m.weight_vv is None else m.weight_vv,
        mm=preset.mm if m.weight_mm is None else m.weight_mm,
        vm=preset.vm if m.weight_vm is None else m.weight_vm,
        mv=preset.mv if m.weight_mv is None else m.weight_mv,
    )


def build_method(cfg: PretrainConfig, motion_channels: int, num_classes: int = 0) -> Method:
    """The method named by ``cfg.method.name`` with pathways from ``cfg.model``."""
    mc = cfg.model
    if cfg.method.name == "supervised":
        if num_classes < 2:
            raise ConfigError("method.name=supervised needs a labelled dataset with at least 2 classes")
        return Supervised(build_backbone(mc.arch, 3, base_width=mc.base_width), num_classes)
    weights = resolve_weights(cfg)
    uses_visual = bool(weights.vv or weights.vm or weights.mv)
    uses_motion = bool(weights.mm or weights.vm or weights.mv)
    if not (uses_visual or uses_motion):
        raise ConfigError("all method.weight_* are zero: nothing to train")
    visual = (build_pathway(mc.arch, 3, 1.0, mc.proj_hidden, mc.embed_dim, mc.head_bn, base_width=mc.base_width)
              if uses_visual else None)
    motion = (
        build_pathway(mc.motion_arch or mc.arch, motion_channels, mc.motion_width_divisor, mc.proj_hidden,
                      mc.embed_dim, mc.head_bn, base_width=mc.base_width)
        if uses_motion
        else None
    )
    m = cfg.method
    return MoDist(visual, motion, weights, mc.embed_dim, m.temperature, m.queue_size, m.momentum,
                  m.momentum_schedule, m.shuffle_bn_groups, key_bn=m.key_bn, cross_view=m.cross_view)
