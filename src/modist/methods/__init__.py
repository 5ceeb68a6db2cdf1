"""Pretraining methods: MoDist and its baselines over a shared base class."""

from modist.methods.base import Method
from modist.methods.factory import METHODS, build_method

__all__ = ["Method", "METHODS", "build_method"]
