"""Key encoding across processes: all-gather for the queues and MoCo's shuffle-BN.

Under ``torchrun`` every rank holds a share of the global batch. Keys are
all-gathered before they enter the queues, so every rank enqueues the same global
batch in the same order and the queues stay identical. Batch-norm statistics of the
key encoders come from one of three sources (``method.key_bn``):

* ``shuffle``: the key inputs of all ranks are gathered, shuffled by a permutation
  broadcast from rank 0, each rank encodes its share and the keys are gathered and
  unshuffled (MoCo's shuffle-BN). In one process the existing within-process
  grouped shuffle (:func:`modist.methods.motion_distill.forward_shuffled`) stands in.
* ``sync``: the key encoders' batch norm spans the global batch (the trainer converts
  them to synchronised batch norm); each rank encodes its own share.
* ``local``: each rank encodes its own share with its own statistics.

Without an initialised process group of two or more ranks every function here is
the single-process identity, so the methods stay usable and testable alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from modist.choices import KEY_BN_MODES
from modist.runtime import distributed_world


@torch.no_grad()
def all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank's ``x`` (equal shapes) concatenated in rank order; no gradient."""
    _, world = distributed_world()
    if world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def shuffled_forward_across_ranks(encoder: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MoCo's shuffle-BN over ranks; returns (this rank's keys, the global keys in rank order)."""
    rank, world = distributed_world()
    n = x.shape[0]
    x_all = all_gather_cat(x)
    perm = torch.randperm(world * n, device=x.device) if rank == 0 else torch.empty(world * n, dtype=torch.long,
                                                                                    device=x.device)
    if world > 1:
        dist.broadcast(perm, src=0)
    keys_shuffled = all_gather_cat(encoder(x_all[perm[rank * n : (rank + 1) * n]]))
    keys = torch.empty_like(keys_shuffled)
    keys[perm] = keys_shuffled  # row perm[i] of the global batch was encoded at position i
    return keys[rank * n : (rank + 1) * n], keys


@torch.no_grad()
def encode_keys(
    encoder: nn.Module,
    x: torch.Tensor,
    mode: str = "shuffle",
    groups: int = 2,
    local_shuffle: Callable[[nn.Module, torch.Tensor, int], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys of this rank's batch and of the global batch (the rows to enqueue).

    Example:
        >>> enc = nn.Linear(3, 2)
        >>> local, everyone = encode_keys(enc, torch.randn(4, 3), mode="local")
        >>> local is everyone  # one process: the global batch is the local one
        True
    """
    if mode not in KEY_BN_MODES:
        raise ValueError(f"unknown key batch-norm mode {mode!r}; choose from {', '.join(KEY_BN_MODES)}")
    _, world = distributed_world()
    if world > 1 and mode == "shuffle":
        return shuffled_forward_across_ranks(encoder, x)
    if world == 1 and mode == "shuffle" and local_shuffle is not None:
        keys = local_shuffle(encoder, x, groups)
    else:
        keys = encoder(x)
    return keys, all_gather_cat(keys)
