"""A resumable, rank-sharded, endless sampler and per-item seeding.

:class:`GlobalBatchSampler` draws one permutation of the dataset per epoch from
``(seed, epoch)``; global batch ``s`` of an epoch is ``perm[s*G:(s+1)*G]`` with ``G`` the
global batch, and rank ``r`` reads the ``r``-th contiguous share of it. The sequence
of global batches (and the order of keys gathered from the ranks) therefore does
not depend on the number of ranks, and a run resumes at any batch by starting the
sampler there.

The sampler yields ``(epoch, index)`` keys; :class:`SeededItems` seeds torch from
``(seed, epoch, index)`` around each item, so random clip positions depend on the
item alone, not on which DataLoader worker or rank loads it or when.

Example:
    >>> s = GlobalBatchSampler(10, batch_size=2, world_size=2, rank=1, seed=0)
    >>> it = iter(s)
    >>> [next(it) for _ in range(4)][:2] == [(0, i) for i in s.epoch_order(0)[2:4]]
    True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class GlobalBatchSampler(Sampler):
    def __init__(self, num_items: int, batch_size: int, *, world_size: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True, start_batch: int = 0):
        self.num_items = num_items
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.shuffle = shuffle
        self.start_batch = start_batch
        self.global_batch = batch_size * world_size
        if num_items < self.global_batch:
            raise ValueError(f"{num_items} items cannot fill one global batch of {self.global_batch}")
        self.batches_per_epoch = num_items // self.global_batch  # the incomplete last batch is dropped

    def epoch_order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.num_items))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_items, generator=g).tolist()

    def position(self, batch: int) -> tuple[int, int]:
        """(epoch, batch within the epoch) of the ``batch``-th batch since the start of training."""
        return divmod(batch, self.batches_per_epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, first = self.position(self.start_batch)
        while True:
            order = self.epoch_order(epoch)
            for s in range(first, self.batches_per_epoch):
                lo = s * self.global_batch + self.rank * self.batch_size
                for index in order[lo : lo + self.batch_size]:
                    yield epoch, index
            epoch, first = epoch + 1, 0


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one item of one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class SeededItems(Dataset):
    """Wraps a dataset: item ``(epoch, index)`` is ``dataset[index]`` drawn under its own torch seed."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        # The caller's generator state is restored, so augmentation in the main process is
        # unaffected. The CPU generator is seeded directly: torch.manual_seed and fork_rng also
        # touch every accelerator and cost about 2 ms a call, as much as reading a cached clip.
        generator = torch.default_generator
        state = generator.get_state()
        generator.manual_seed(item_seed(self.seed, epoch, index))
        try:
            return self.dataset[index]
        finally:
            generator.set_state(state)
