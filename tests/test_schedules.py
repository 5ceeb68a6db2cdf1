"""Learning-rate schedules: hand-computed values."""

import math

import pytest

from modist.schedules import cosine_factor, lr_factor, pyslowfast_lr


def test_cosine_factor_is_a_half_cosine_from_one_to_zero():
    assert [cosine_factor(s, 4) for s in range(5)] == [1.0, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5,
                                                       0.5 + 0.5 * math.cos(3 * math.pi / 4), 0.0]


def test_cosine_factor_keeps_its_own_rounding():
    # (pi * 5) / 11 and pi * (5 / 11) round differently: the two forms differ in the last bit here.
    assert cosine_factor(5, 11) == 0.5 * (1 + math.cos(math.pi * 5 / 11)) == 0.5711574191366425
    assert lr_factor(5, 11) == 0.5711574191366426
    # Scaled by a rate, the linear probe's and detection head's original expressions, bit for bit.
    for lr, step, total in [(0.01, 5, 11), (0.1, 7, 30), (32.0, 123, 400), (0.3, 1, 3)]:
        assert lr * cosine_factor(step, total) == lr * 0.5 * (1 + math.cos(math.pi * step / total))


def test_lr_factor_warms_up_then_decays_or_stays():
    assert [lr_factor(s, 10, 4) for s in (0, 3, 4)] == [0.25, 1.0, 1.0]
    assert lr_factor(7, 10, 4) == pytest.approx(0.5)  # halfway through the 6 cosine steps
    assert lr_factor(12, 10, 4) == 0.0  # past the end: clamped
    assert lr_factor(7, 10, 4, "constant") == 1.0


def test_pyslowfast_lr_warms_up_along_a_line_to_the_cosine():
    kw = dict(base_lr=0.01, epochs=10, warmup_epochs=2.0, warmup_start_lr=0.001)
    end = 0.01 * (math.cos(math.pi * 2 / 10) + 1) / 2
    assert pyslowfast_lr(0, **kw) == 0.001
    assert pyslowfast_lr(1.0, **kw) == pytest.approx((0.001 + end) / 2)
    assert pyslowfast_lr(2.0, **kw) == pytest.approx(end)
    assert pyslowfast_lr(5.0, **kw) == pytest.approx(0.005) and pyslowfast_lr(10.0, **kw) == 0.0
