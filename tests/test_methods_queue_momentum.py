import torch
from torch import nn

from modist.methods.momentum import cosine_momentum, make_momentum_copy, momentum_update
from modist.methods.queue import FeatureQueue


def test_queue_is_fifo_and_wraps_around():
    q = FeatureQueue(dim=1, size=4)
    q.enqueue(torch.tensor([[1.0], [2.0], [3.0]]))
    assert int(q.ptr) == 3
    q.enqueue(torch.tensor([[4.0], [5.0]]))
    # 5 overwrote the oldest entry (1); the pointer wrapped to 1.
    assert q.keys.flatten().tolist() == [5.0, 2.0, 3.0, 4.0]
    assert int(q.ptr) == 1
    q.enqueue(torch.tensor([[6.0], [7.0], [8.0], [9.0], [10.0]]))  # more than the size: keep the newest
    assert sorted(q.keys.flatten().tolist()) == [7.0, 8.0, 9.0, 10.0]


def test_momentum_update_arithmetic_and_buffers_copied():
    online = nn.BatchNorm1d(2)
    target = make_momentum_copy(online)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([3.0, 5.0]))
        target.weight.copy_(torch.tensor([1.0, 1.0]))
        online.running_mean.copy_(torch.tensor([7.0, 8.0]))
    momentum_update(online, target, 0.9)
    assert torch.allclose(target.weight, torch.tensor([0.9 * 1 + 0.1 * 3, 0.9 * 1 + 0.1 * 5]))
    assert torch.equal(target.running_mean, torch.tensor([7.0, 8.0]))
    assert not any(p.requires_grad for p in target.parameters())


def test_cosine_momentum_schedule_endpoints():
    assert cosine_momentum(0.99, 0, 100) == 0.99
    assert abs(cosine_momentum(0.99, 100, 100) - 1.0) < 1e-12
    assert abs(cosine_momentum(0.99, 50, 100) - 0.995) < 1e-9
