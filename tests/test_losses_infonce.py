import math

import torch
import torch.nn.functional as F

from modist.losses import info_nce, info_nce_logits


def test_info_nce_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    queue = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]])
    t = 0.5
    # Row 0: positive 0.6, negatives 1, -1, 0. Row 1: positive 1, negatives 0, 0, -1.
    row0 = -math.log(math.exp(0.6 / t) / (math.exp(0.6 / t) + math.exp(1 / t) + math.exp(-1 / t) + math.exp(0)))
    row1 = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * math.exp(0) + math.exp(-1 / t)))
    assert abs(info_nce(q, k, queue, t).item() - (row0 + row1) / 2) < 1e-6


def test_logits_put_each_rows_own_key_in_column_zero():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(4, 8), dim=1)
    k = F.normalize(torch.randn(4, 8), dim=1)
    queue = F.normalize(torch.randn(5, 8), dim=1)
    logits = info_nce_logits(q, k, queue, temperature=1.0)
    assert logits.shape == (4, 6)
    for i in range(4):
        assert torch.isclose(logits[i, 0], q[i] @ k[i])
        assert torch.allclose(logits[i, 1:], queue @ q[i])


def test_loss_is_low_when_keys_match_and_decreases_under_optimisation():
    torch.manual_seed(0)
    queue = F.normalize(torch.randn(64, 16), dim=1)
    keys = F.normalize(torch.randn(8, 16), dim=1)
    raw = torch.randn(8, 16, requires_grad=True)
    opt = torch.optim.SGD([raw], lr=0.5)
    losses = []
    for _ in range(50):
        loss = info_nce(F.normalize(raw, dim=1), keys, queue, 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    assert info_nce(keys, keys, queue, 0.1) < info_nce(-keys, keys, queue, 0.1)
