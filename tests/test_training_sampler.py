import itertools

import torch
from torch.utils.data import Dataset

from modist.training.sampler import GlobalBatchSampler, SeededItems


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_ranks_share_each_global_batch_in_the_single_process_order():
    # 10 items, global batch 4: 2 batches an epoch (2 items dropped), 3 batches span 2 epochs.
    single = _take(GlobalBatchSampler(10, batch_size=4, seed=3), 12)
    r0 = _take(GlobalBatchSampler(10, batch_size=2, world_size=2, rank=0, seed=3), 6)
    r1 = _take(GlobalBatchSampler(10, batch_size=2, world_size=2, rank=1, seed=3), 6)
    rebuilt = [k for b in range(3) for k in r0[2 * b : 2 * b + 2] + r1[2 * b : 2 * b + 2]]
    assert rebuilt == single
    assert [e for e, _ in single] == [0] * 8 + [1] * 4
    first_epoch = [i for e, i in single if e == 0]
    assert len(set(first_epoch)) == 8  # no item twice within an epoch
    assert [i for _, i in single[8:]] != first_epoch[:4]  # a new permutation each epoch


def test_starting_at_a_batch_continues_the_same_stream():
    full = _take(GlobalBatchSampler(10, batch_size=2, world_size=2, rank=1, seed=0), 14)
    resumed = _take(GlobalBatchSampler(10, batch_size=2, world_size=2, rank=1, seed=0, start_batch=3), 8)
    assert resumed == full[6:]


class Draws(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, index):
        return torch.rand(2)


def test_seeded_items_depend_on_the_key_only_and_leave_the_caller_rng_alone():
    items = SeededItems(Draws(), seed=0)
    torch.manual_seed(42)
    a = items[(0, 3)]
    caller = torch.rand(1)
    torch.manual_seed(42)
    torch.rand(5)  # whatever the caller drew before
    assert torch.equal(items[(0, 3)], a)
    torch.manual_seed(42)
    items[(1, 1)]
    assert torch.equal(torch.rand(1), caller)  # the item did not consume the caller's generator
    assert not torch.equal(items[(1, 3)], a)  # another epoch, another draw
    assert not torch.equal(SeededItems(Draws(), seed=1)[(0, 3)], a)
