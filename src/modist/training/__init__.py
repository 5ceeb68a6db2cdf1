"""Pretraining: :func:`pretrain` runs a config and writes its run directory.

Inside: :mod:`~modist.training.batches` (dataset to device batches),
:mod:`~modist.training.step` (one optimiser step), :mod:`~modist.training.run_dir`
(metrics, checkpoints, export), :mod:`~modist.training.resume`; process groups live in :mod:`modist.distributed`.
"""

from modist.training.trainer import TrainResult, pretrain

__all__ = ["TrainResult", "pretrain"]
