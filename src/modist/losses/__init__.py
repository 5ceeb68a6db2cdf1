"""Loss functions, each a pure function of tensors."""

from modist.losses.infonce import info_nce, info_nce_logits

__all__ = ["info_nce", "info_nce_logits"]
