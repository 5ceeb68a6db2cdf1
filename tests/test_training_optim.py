import math

import pytest
import torch

from modist.config import OptimConfig
from modist.training.optim import LARS, build_optimizer, scaled_lr


def test_lars_update_matches_a_hand_computation():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    b = torch.nn.Parameter(torch.tensor([1.0]))
    opt = LARS([w, b], lr=0.1, momentum=0.9, weight_decay=0.1, eta=0.01)
    w.grad, b.grad = torch.tensor([[0.0, 2.0]]), torch.tensor([0.5])
    opt.step()
    # weight: g = grad + 0.1 w = (0.3, 2.4); trust = 0.01 * 5 / sqrt(0.09 + 5.76); w -= 0.1 * trust * g
    trust = 0.01 * 5 / math.sqrt(0.3**2 + 2.4**2)
    expected = [3.0 - 0.1 * trust * 0.3, 4.0 - 0.1 * trust * 2.4]
    assert w.detach().flatten().tolist() == pytest.approx(expected, rel=1e-6)
    # bias (1-D): plain SGD with momentum, no decay, no trust ratio
    assert b.item() == pytest.approx(1.0 - 0.1 * 0.5)
    b.grad = torch.tensor([0.5])
    w.grad = None  # a parameter without gradient is left alone
    before = w.detach().clone()
    opt.step()
    assert b.item() == pytest.approx(0.95 - 0.1 * (0.9 * 0.5 + 0.5))
    assert torch.equal(w.detach(), before)


def test_lars_trust_ratio_is_one_for_zero_weights():
    w = torch.nn.Parameter(torch.zeros(2, 2))
    w.grad = torch.ones(2, 2)
    LARS([w], lr=0.5, momentum=0.0, weight_decay=0.0, eta=0.001).step()
    assert torch.allclose(w.detach(), torch.full((2, 2), -0.5))


def test_linear_lr_scaling_and_optimizer_choice():
    assert scaled_lr(OptimConfig(lr=0.03, lr_reference_batch=256), 8 * 64) == pytest.approx(0.06)
    assert scaled_lr(OptimConfig(lr=0.03), 8 * 64) == 0.03
    p = [torch.nn.Parameter(torch.zeros(2, 2))]
    assert isinstance(build_optimizer(OptimConfig(name="lars"), p, 0.1), LARS)
    sgd = build_optimizer(OptimConfig(name="sgd", momentum=0.8), p, 0.2)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["lr"] == 0.2
    assert isinstance(build_optimizer(OptimConfig(), p, 0.1), torch.optim.AdamW)
