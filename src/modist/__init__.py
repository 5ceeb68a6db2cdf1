"""modist: self-supervised video representation learning by motion distillation."""

__version__ = "0.1.0"
