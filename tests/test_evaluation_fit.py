"""evaluation.fit: the one optimisation loop of the linear probe, finetuning and the detection head."""

import pytest
import torch

from modist.errors import DataError
from modist.evaluation.fit import StepResult, fit


def _quadratic():
    """loss (w - t)^2 with w = 0: SGD at rate r moves w by 2 r (t - w), exact in binary for these numbers."""
    w = torch.zeros(1, requires_grad=True)
    return w, torch.optim.SGD([w], lr=99.0), lambda t: ((w - t) ** 2).sum()


def test_each_step_uses_its_scheduled_rate_and_records_loss_and_rate():
    w, opt, loss = _quadratic()
    history = fit(loss, [torch.ones(1)] * 3, optimizer=opt, lr=lambda step: [0.25, 0.5, 0.125][step])
    # w: 0 -> 0 + 2 * 0.25 * 1 = 0.5 -> 0.5 + 2 * 0.5 * 0.5 = 1.0 -> 1.0 (loss 0 there)
    assert history == [{"step": 1, "loss": 1.0, "lr": 0.25}, {"step": 2, "loss": 0.25, "lr": 0.5},
                       {"step": 3, "loss": 0.0, "lr": 0.125}]
    assert w.item() == 1.0 and opt.param_groups[0]["lr"] == 0.125


def test_without_a_schedule_the_optimisers_rate_stays_and_no_rate_is_recorded():
    w, opt, loss = _quadratic()
    opt.param_groups[0]["lr"] = 0.25
    history = fit(loss, [torch.ones(1)] * 2, optimizer=opt)
    assert history == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.25}] and w.item() == 0.75


def test_no_batch_is_drawn_past_the_last_step():
    drawn = []

    def batches():
        for i in range(100):
            drawn.append(i)
            yield torch.ones(1)

    w, opt, loss = _quadratic()
    assert len(fit(loss, batches(), optimizer=opt, steps=3, lr=lambda s: 0.25)) == 3 and drawn == [0, 1, 2]
    stream = batches()
    assert fit(loss, stream, optimizer=opt, steps=0) == [] and drawn == [0, 1, 2]  # none at all for 0 steps


def test_loss_fn_logs_and_record_shape_the_history():
    w, opt, loss = _quadratic()
    seen: list[StepResult] = []

    def record(step: StepResult):
        seen.append(step)
        return {"i": step.index} if step.index % 2 == 0 else None  # None keeps nothing

    history = fit(lambda t: (loss(t), {"t": float(t)}), [torch.ones(1), torch.full((1,), 2.0), torch.ones(1)],
                  optimizer=opt, lr=lambda s: 0.25, record=record)
    assert history == [{"i": 0}, {"i": 2}]
    assert [(s.index, s.lr, s.logs) for s in seen] == [(0, 0.25, {"t": 1.0}), (1, 0.25, {"t": 2.0}),
                                                        (2, 0.25, {"t": 1.0})]
    assert not seen[0].loss.requires_grad and seen[1].loss.item() == 2.25  # w = 0.5 after step 0: (0.5 - 2)^2


def test_a_non_finite_loss_stops_the_run_before_the_weights_change():
    w, opt, loss = _quadratic()
    batches = [torch.ones(1), torch.full((1,), float("inf")), torch.ones(1)]
    with pytest.raises(DataError, match=r"^finetune: the loss became inf at step 2; lower the learning rate$"):
        fit(loss, batches, optimizer=opt, lr=lambda s: 0.25, finite_loss=True, desc="finetune")
    assert w.item() == 0.5  # step 1 only
    w, opt, loss = _quadratic()
    assert len(fit(loss, batches, optimizer=opt, lr=lambda s: 0.25)) == 3  # unchecked by default
    assert torch.isnan(w).all()
