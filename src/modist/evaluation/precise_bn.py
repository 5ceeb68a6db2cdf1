"""Precise BatchNorm statistics: recompute every BN layer's running mean and variance over data.

During training the running statistics trail the weights (an exponential average over
steps whose weights kept changing). PySlowFast, and the MaCLR release after it
(``BN.USE_PRECISE_STATS``, ``tools/train_net.py``), recompute them with the final weights
over a number of training batches before testing, with fvcore's ``update_bn_stats``:
the network in train mode for BN only, no gradient, and each layer's statistics the
population mean and (biased) variance of everything it saw, every element of every batch
weighted alike. On one BN layer fed the batches ``X_1 .. X_n`` directly:
``running_mean = mean(X)`` and ``running_var = var(X)`` (population variance) per channel,
``X`` being all batches together.

Example:
    >>> import torch
    >>> bn = torch.nn.BatchNorm1d(1)
    >>> used = update_bn_stats(bn, [torch.tensor([[0.0], [2.0]]), torch.tensor([[4.0], [6.0]])], 2)
    >>> used, bn.running_mean.item(), bn.running_var.item()  # mean and variance of 0, 2, 4, 6
    (2, 3.0, 5.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _Population:
    """Running population mean and mean square of a layer's inputs, weighted by element count."""

    def __init__(self, like: torch.Tensor):
        self.mean = torch.zeros_like(like)
        self.square = torch.zeros_like(like)
        self.count = 0

    def update(self, mean: torch.Tensor, unbiased_var: torch.Tensor, count: int) -> None:
        self.count += count
        # PyTorch stores the Bessel-corrected batch variance: undo it for E[x^2].
        square = mean.square() + unbiased_var * ((count - 1) / count)
        self.mean += (mean - self.mean) * (count / self.count)
        self.square += (square - self.square) * (count / self.count)

    @property
    def var(self) -> torch.Tensor:
        return self.square - self.mean.square()


@torch.no_grad()
def update_bn_stats(model: nn.Module, batches: Iterable, num_batches: int) -> int:
    """Set the running statistics of every BatchNorm in ``model`` from ``model(x)`` for the first ``num_batches``.

    Only BN layers run in train mode (dropout and the rest stay in eval mode); the train/eval
    mode of every module and each BN's momentum are restored afterwards. Returns the number
    of batches used (fewer when ``batches`` runs out; 0 leaves the statistics unchanged).
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not layers or num_batches <= 0:
        return 0
    modes = [(m, m.training) for m in model.modules()]
    momenta = [bn.momentum for bn in layers]
    counts: dict[nn.Module, int] = {}

    def count(module: nn.Module, inputs: tuple) -> None:
        x = inputs[0]
        counts[module] = x.numel() // x.shape[1]  # every position of every sample is a BN sample

    hooks = [bn.register_forward_pre_hook(count) for bn in layers]
    populations = [_Population(bn.running_mean) for bn in layers]
    before = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in layers]
    used = 0
    try:
        model.eval()
        for bn in layers:
            bn.train()
            bn.momentum = 1.0  # the running statistics become this batch's alone
        for x in itertools.islice(batches, num_batches):
            counts.clear()
            model(x)
            used += 1
            for bn, population in zip(layers, populations):
                if bn in counts:  # a layer this forward did not reach keeps its count
                    population.update(bn.running_mean, bn.running_var, counts[bn])
    except BaseException:  # a failed pass (or Ctrl-C) leaves the statistics as they were
        for bn, (mean, var) in zip(layers, before):
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
        raise
    finally:
        for hook in hooks:
            hook.remove()
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
        for module, training in modes:
            module.train(training)
    for bn, population, (mean, var) in zip(layers, populations, before):
        if population.count:
            bn.running_mean.copy_(population.mean)
            bn.running_var.copy_(population.var)
        else:  # never reached: its statistics are not this data's
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
    return used
