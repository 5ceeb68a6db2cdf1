"""The supervised reference method: cross-entropy on both clips, and its checkpoints across versions."""

import torch

from modist.methods.base import Batch
from modist.methods.supervised import Supervised
from modist.models.resnet3d import r3d_tiny


def _method(seed: int) -> Supervised:
    torch.manual_seed(seed)
    return Supervised(r3d_tiny(base_width=4), num_classes=3)


def test_training_step_is_cross_entropy_over_both_clips():
    method = _method(0).eval()
    rgb = torch.randn(2, 4, 3, 4, 16, 16)  # views x batch x C x T x H x W
    label = torch.tensor([0, 1, 2, 1])
    loss, logs = method.training_step(Batch(rgb=rgb, motion=None, label=label))
    logits = method.model(rgb.flatten(0, 1))
    expected = torch.nn.functional.cross_entropy(logits, label.repeat(2))
    torch.testing.assert_close(loss, expected)
    assert 0.0 <= logs["train_acc"] <= 1.0


def test_a_checkpoint_in_the_earlier_layout_loads_under_todays_names():
    source, target = _method(0), _method(1)
    earlier = {}
    for key, value in source.state_dict().items():
        key = key.removeprefix("model.")
        earlier[key.replace("fc.", "classifier.1.", 1) if key.startswith("fc.") else key] = value
    assert "classifier.1.weight" in earlier and "backbone.stem.0.weight" in earlier
    target.load_state_dict(earlier, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key
