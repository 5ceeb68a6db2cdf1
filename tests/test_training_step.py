import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modist.methods.base import Batch
from modist.methods.motion_distill import LossWeights, MoDist
from modist.training.step import TrainStep, channels_last_views


class RowEncoder(nn.Module):
    """Encodes each row independently (no batch statistics), so batches can be split exactly."""

    def __init__(self, in_features: int, dim: int = 4):
        super().__init__()
        self.proj = nn.Linear(in_features, dim)
        self.backbone = self.proj

    def forward(self, x):
        return F.normalize(self.proj(x.flatten(1)), dim=1)


def _method():
    torch.manual_seed(0)
    return MoDist(RowEncoder(3 * 8), RowEncoder(8), LossWeights(vv=1, mm=1, vm=1, mv=1), embed_dim=4,
                  queue_size=16, momentum=0.9, key_bn="local")


def test_two_accumulated_half_batches_equal_one_full_batch():
    torch.manual_seed(1)
    rgb, motion = torch.randn(2, 8, 3, 2, 2, 2), torch.randn(2, 8, 1, 2, 2, 2)
    label = torch.full((8,), -1)
    whole, halves = _method(), _method()
    logs_whole = TrainStep(whole, torch.optim.SGD(whole.parameters(), lr=0.5), total_steps=4)(
        [Batch(rgb, motion, label)], 0)
    parts = [Batch(rgb[:, i : i + 4], motion[:, i : i + 4], label[i : i + 4]) for i in (0, 4)]
    logs_halves = TrainStep(halves, torch.optim.SGD(halves.parameters(), lr=0.5), total_steps=4)(parts, 0)
    assert abs(logs_whole["loss"] - logs_halves["loss"]) < 1e-5
    for (name, a), b in zip(whole.state_dict().items(), halves.state_dict().values()):
        # weights, momentum encoders and queues (all 8 keys, in batch order) end equal
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    assert int(halves.visual_queue.ptr) == 8


def test_bf16_autocast_step_and_lazily_drawn_micro_batches():
    method = _method()
    rgb, motion = torch.randn(2, 4, 3, 2, 2, 2), torch.randn(2, 4, 1, 2, 2, 2)
    step = TrainStep(method, torch.optim.SGD(method.parameters(), lr=0.1), precision="bf16")
    calls = []

    def batches():
        calls.append(1)
        return Batch(rgb, motion, torch.full((4,), -1))

    logs = step((batches() for _ in range(3)), 0, count=3)
    assert len(calls) == 3 and set(logs) == {"loss", "loss_vv", "loss_mm", "loss_vm", "loss_mv"}
    assert torch.isfinite(torch.tensor(logs["loss"]))
    assert method.visual_queue.keys.dtype == torch.float32 and int(method.visual_queue.ptr) == 12


def test_channels_last_views_keep_values_and_give_each_view_the_3d_layout():
    x = torch.randn(2, 3, 4, 5, 6, 7)
    y = channels_last_views(x)
    assert torch.equal(x, y)
    assert all(y[v].is_contiguous(memory_format=torch.channels_last_3d) for v in range(2))


def test_keys_of_a_training_step_without_optimiser_step_never_reach_the_queue():
    torch.manual_seed(2)
    method = _method()
    rgb, motion = torch.randn(2, 4, 3, 2, 2, 2), torch.randn(2, 4, 1, 2, 2, 2)
    batch = Batch(rgb, motion, torch.full((4,), -1))
    method.training_step(batch)  # e.g. a validation loss: no optimiser step follows
    TrainStep(method, torch.optim.SGD(method.parameters(), lr=0.1))([batch], 0)
    assert int(method.visual_queue.ptr) == 4 and int(method.motion_queue.ptr) == 4


def test_a_step_with_fewer_micro_batches_than_announced_fails():
    method = _method()
    batch = Batch(torch.randn(2, 4, 3, 2, 2, 2), torch.randn(2, 4, 1, 2, 2, 2), torch.full((4,), -1))
    with pytest.raises(ValueError, match="got 1 micro-batch"):
        TrainStep(method, torch.optim.SGD(method.parameters(), lr=0.1))(iter([batch]), 0, count=2)


def test_every_precision_choice_has_an_autocast_dtype():
    from modist.choices import PRECISIONS
    from modist.training.step import AUTOCAST_DTYPES

    assert tuple(AUTOCAST_DTYPES) == PRECISIONS  # train.precision accepts exactly what TrainStep can run
