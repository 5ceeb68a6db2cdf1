import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modist.methods import motion_distill
from modist.methods.base import Batch
from modist.methods.motion_distill import LossWeights, MoDist, forward_shuffled


class RowEncoder(nn.Module):
    """Pathway stand-in without batch statistics: each row is encoded independently."""

    def __init__(self, in_features: int, dim: int = 4):
        super().__init__()
        self.proj = nn.Linear(in_features, dim, bias=False)
        self.backbone = self.proj

    def forward(self, x):
        return F.normalize(self.proj(x.flatten(1)), dim=1)


def test_forward_shuffled_returns_rows_in_input_order():
    torch.manual_seed(0)
    enc = RowEncoder(6)
    x = torch.randn(8, 6)
    assert torch.allclose(forward_shuffled(enc, x, groups=2), enc(x), atol=1e-6)


@pytest.mark.parametrize("cross_view", ["same", "other"])
def test_cross_modal_terms_pair_each_query_with_its_own_videos_key(monkeypatch, cross_view):
    torch.manual_seed(0)
    b, c, t, s = 6, 1, 2, 2
    visual, motion = RowEncoder(3 * t * s * s), RowEncoder(c * t * s * s)
    method = MoDist(visual, motion, LossWeights(vv=1, mm=1, vm=1, mv=1), embed_dim=4, queue_size=16,
                    shuffle_bn_groups=2, cross_view=cross_view)
    calls = {}
    real = motion_distill.info_nce

    def spy(query, key, queue, temperature):
        name = {0: "vv", 1: "mm", 2: "vm", 3: "mv"}[len(calls)]
        calls[name] = (query.detach(), key.detach(), queue)
        return real(query, key, queue, temperature)

    monkeypatch.setattr(motion_distill, "info_nce", spy)
    rgb = torch.randn(2, b, 3, t, s, s)
    flow = torch.randn(2, b, c, t, s, s)
    method.training_step(Batch(rgb, flow, torch.full((b,), -1)))
    view = 0 if cross_view == "same" else 1
    with torch.no_grad():
        k_m = method.motion_key(flow[view])
        k_v = method.visual_key(rgb[view])
        q_v = method.visual(rgb[0])
    q, k, queue = calls["vm"]
    assert torch.allclose(q, q_v, atol=1e-6)
    assert torch.allclose(k, k_m, atol=1e-6)  # row i of the keys is video i's motion clip
    assert queue is method.motion_queue.keys
    q, k, queue = calls["mv"]
    assert torch.allclose(k, k_v, atol=1e-6)
    assert queue is method.visual_queue.keys


def test_keys_enter_queues_after_the_step_and_momentum_moves_keys():
    torch.manual_seed(0)
    visual, motion = RowEncoder(3 * 2 * 2 * 2), RowEncoder(2 * 2 * 2)
    method = MoDist(visual, motion, LossWeights(), embed_dim=4, queue_size=8, momentum=0.5)
    rgb, flow = torch.randn(2, 4, 3, 2, 2, 2), torch.randn(2, 4, 1, 2, 2, 2)
    before = method.visual_queue.keys.clone()
    loss, logs = method.training_step(Batch(rgb, flow, torch.zeros(4, dtype=torch.long)))
    assert torch.equal(method.visual_queue.keys, before)  # untouched until the optimiser step
    assert set(logs) == {"loss_vv", "loss_vm", "loss_mv"}  # motion<->motion is off by default
    loss.backward()
    with torch.no_grad():
        visual.proj.weight.add_(1.0)
    method.after_optimizer_step(1, 10)
    assert int(method.visual_queue.ptr) == 4 and int(method.motion_queue.ptr) == 4
    expected = 0.5 * (visual.proj.weight - 1.0) + 0.5 * visual.proj.weight
    assert torch.allclose(method.visual_key.proj.weight, expected)


def test_missing_pathway_for_a_weighted_term_is_rejected():
    with pytest.raises(ValueError):
        MoDist(RowEncoder(4), None, LossWeights(vv=1, vm=1, mv=0, mm=0))
