"""Pretraining methods: MoDist and its baselines over a shared base class.

Example:
    >>> from modist.config import load_config
    >>> cfg = load_config(None, ["method.name=rgb_only", "model.base_width=4", "method.queue_size=8"])
    >>> method = build_method(cfg, motion_channels=1)
    >>> sorted(method.query_networks()), method.export_spec().modality
    (['visual'], 'rgb')
"""

from modist.methods.base import Batch, Method
from modist.methods.factory import METHODS, build_method, method_builder
from modist.methods.motion_distill import PRESET_WEIGHTS, LossWeights, MoDist
from modist.methods.supervised import Supervised

__all__ = ["Batch", "LossWeights", "METHODS", "Method", "MoDist", "PRESET_WEIGHTS", "Supervised", "build_method",
           "method_builder"]
