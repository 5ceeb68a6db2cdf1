"""Saliency maps and the foreground metrics: hand-made encoders and maps whose answer is known."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modist.data.records import VideoRecord
from modist.errors import ConfigError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.intervals import bootstrap_interval
from modist.evaluation.saliency import (
    activation_map,
    class_score,
    dilate,
    embedding_score,
    explain_video,
    finetuned_classifier,
    foreground_lift,
    gradcam_map,
    pointing_hit,
    saliency_eval,
    upsample,
)

torch.set_num_threads(1)


class SquareEncoder(nn.Module):
    """Sees only the pixels of one square (rows/cols ``box`` of the input), 2x2-pooled."""

    def __init__(self, box):
        super().__init__()
        self.box = box
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, so it moves to a device like a backbone

    def forward_features(self, x):
        r0, r1, c0, c1 = self.box
        keep = torch.zeros_like(x)
        keep[..., r0:r1, c0:c1] = 1.0
        return F.avg_pool3d((x * keep).abs() * self.scale, (1, 2, 2))

    def forward(self, x):
        return self.forward_features(x).mean(dim=(2, 3, 4))


def _square_mask(t, side, box):
    m = np.zeros((t, side, side), bool)
    m[:, box[0]:box[1], box[2]:box[3]] = True
    return m


@pytest.mark.parametrize("kind", ["activation", "gradient"])
def test_encoder_that_sees_one_square_puts_its_saliency_there(kind):
    box = (4, 8, 10, 14)
    enc = SquareEncoder(box)
    x = torch.rand(2, 3, 4, 16, 16) + 0.1
    maps = activation_map(enc, x) if kind == "activation" else gradcam_map(enc, x, embedding_score())
    assert maps.shape == (2, 4, 8, 8)
    heat = upsample(maps, (4, 16, 16))[0].numpy()
    mask = dilate(_square_mask(4, 16, box))
    assert foreground_lift(heat, mask) > 3.0  # the dilated square covers 16% of the frame
    assert pointing_hit(heat, mask) == 1.0
    # The same map measured against a square elsewhere: no lift, no hit.
    elsewhere = dilate(_square_mask(4, 16, (10, 14, 0, 4)))
    assert foreground_lift(heat, elsewhere) < 0.2 and pointing_hit(heat, elsewhere) == 0.0


def test_gradient_map_towards_a_positive_clip_is_nonnegative_and_shaped():
    enc = SquareEncoder((0, 8, 0, 8))
    x = torch.rand(3, 3, 4, 16, 16)
    target = torch.rand(3, 3)
    maps = gradcam_map(enc, x, embedding_score(target))
    assert maps.shape == (3, 4, 8, 8) and (maps >= 0).all()
    assert maps[..., 4:, :].abs().sum() == 0 and maps[..., :, 4:].abs().sum() == 0


def test_uniform_map_has_lift_one_and_pointing_equal_to_mask_share():
    rng = np.random.default_rng(0)
    mask = dilate(rng.random((5, 20, 30)) > 0.97)
    heat = np.full(mask.shape, 0.37)
    assert foreground_lift(heat, mask) == pytest.approx(1.0, abs=1e-12)
    assert pointing_hit(heat, mask) == pytest.approx(mask.mean())


def test_pointing_game_on_hand_made_maps():
    mask = np.zeros((2, 6, 6), bool)
    mask[1, 2:4, 2:4] = True
    heat = np.zeros((2, 6, 6))
    heat[1, 3, 3] = 5.0
    heat[0, 3, 3] = 4.0  # same place in a frame where the actor is elsewhere: not the maximum
    assert pointing_hit(heat, mask) == 1.0
    heat[0, 0, 0] = 6.0
    assert pointing_hit(heat, mask) == 0.0
    # lift by hand: mass inside 5 of 15; mask share 4 / 72
    assert foreground_lift(heat, mask) == pytest.approx((5 / 15) / (4 / 72))
    assert math.isnan(foreground_lift(np.zeros_like(heat), mask))


def test_dilation_grows_a_pixel_by_two_in_each_direction():
    m = np.zeros((1, 9, 9), bool)
    m[0, 4, 4] = True
    d = dilate(m)
    assert d.sum() == 25 and d[0, 2:7, 2:7].all()


def test_bootstrap_interval_hand_checkable():
    # Resampled means of [0, 1] are 0 / 0.5 / 1 with probability 1/4, 1/2, 1/4.
    b = bootstrap_interval([0.0, 1.0], resamples=4000, seed=3)
    assert (b.mean, b.low, b.high) == (0.5, 0.0, 1.0)
    b = bootstrap_interval([0.0, 1.0], resamples=4000, seed=3, level=0.4)
    assert (b.low, b.high) == (0.5, 0.5)
    c = bootstrap_interval(np.r_[np.zeros(50), np.ones(50)], seed=1)
    # Normal approximation: 0.5 +- 1.96 * 0.05
    assert c.low == pytest.approx(0.402, abs=0.025) and c.high == pytest.approx(0.598, abs=0.025)
    assert bootstrap_interval([1, 2, 3], seed=7) == bootstrap_interval([1, 2, 3], seed=7)


def test_explain_video_and_saliency_eval_on_synthetic_data(tiny_synth):
    from modist.synth import read_manifest

    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32, clip_frames=4, stride=2)
    row = next(r for r in read_manifest(tiny_synth / "manifest.csv") if r.split == "test_unbiased")
    clips = explain_video(enc, VideoRecord(str(row.path), row.label), num_clips=2)
    assert len(clips) == 2 and clips[0].frames.shape == (4, 48, 48, 3)
    assert set(clips[0].maps) == {"activation", "gradient"} and clips[1].maps["gradient"].shape == (4, 48, 48)
    assert clips[1].indices.tolist() != clips[0].indices.tolist()
    res = saliency_eval(enc, tiny_synth, map_kind="activation", max_videos=6, progress=False)
    s = res.summary()
    assert s["videos"] + s["skipped"] == 6
    lift = s["foreground_lift"]
    assert lift["low"] <= lift["mean"] <= lift["high"] and 0 <= s["pointing_hit_rate"]["mean"] <= 1


def test_class_gradcam_follows_the_predicted_class():
    enc = SquareEncoder((0, 8, 0, 8))
    x = torch.rand(2, 3, 4, 16, 16)
    # Class 1 weighs channel 0 up: its Grad-CAM is channel 0's (non-negative) activation.
    weight = torch.tensor([[0.0, 5.0], [0.0, 0.0], [0.0, 0.0]])
    maps = gradcam_map(enc, x, class_score(weight, torch.zeros(2)))
    expected = enc.forward_features(x)[:, 0] * 5.0 / (4 * 8 * 8)
    torch.testing.assert_close(maps, expected)


def test_finetuned_classifier_is_read_back_and_checked(tmp_path):
    from modist.errors import DataError
    from modist.models.classifier import VideoClassifier
    from modist.models.encoder_io import save_weights

    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32, clip_frames=4)
    model = VideoClassifier(enc.backbone, 5)
    torch.nn.init.constant_(model.backbone.stem[0].weight, 0.01)
    save_weights(tmp_path / "finetuned.safetensors", model)
    tuned, score = finetuned_classifier(EvalEncoder.from_scratch("r3d_tiny", base_width=4), tmp_path)
    assert (tuned.backbone.stem[0].weight == 0.01).all()
    pooled = torch.rand(3, model.fc.in_features)
    torch.testing.assert_close(score(pooled), model.fc(pooled).max(1).values)
    with pytest.raises(DataError, match="does not match"):
        finetuned_classifier(EvalEncoder.from_scratch("r3d_tiny", base_width=8), tmp_path)
    with pytest.raises(DataError, match="classifier not found"):
        finetuned_classifier(enc, tmp_path / "nothing")


def test_map_equal_to_the_mask_has_lift_one_over_its_area_share_and_always_points_in_it():
    mask = np.zeros((2, 10, 10), bool)
    mask[:, 2:6, 3:8] = True  # 20 of 100 pixels a frame: share 0.2
    assert foreground_lift(mask.astype(float), mask) == pytest.approx(1 / 0.2)
    assert pointing_hit(mask.astype(float), mask) == 1.0
    assert foreground_lift(np.ones((2, 10, 10)), mask) == pytest.approx(1.0)


def test_an_earlier_stage_gives_a_finer_map_and_the_last_stage_is_the_default_grid():
    from modist.models.resnet3d import r3d_tiny

    torch.manual_seed(0)
    net = r3d_tiny(base_width=4).eval()
    x = torch.rand(2, 3, 4, 32, 32)
    # 32 px: the stem halves it, stages 2-4 halve it again each.
    assert gradcam_map(net, x, embedding_score(), stage=None).shape == (2, 4, 2, 2)
    assert gradcam_map(net, x, embedding_score(), stage=4).shape == (2, 4, 2, 2)
    assert gradcam_map(net, x, embedding_score(), stage=2).shape == (2, 4, 8, 8)
    assert activation_map(net, x, stage=1).shape == (2, 4, 16, 16)
    # Stage k's activation is the network's own intermediate output.
    ref = net.stages[:2](net.stem(x)).norm(dim=1)
    assert torch.allclose(activation_map(net, x, stage=2), ref)
    with pytest.raises(ConfigError, match="stage must be 1..4"):
        gradcam_map(net, x, embedding_score(), stage=5)


def test_gradcam_at_a_stage_follows_the_pooled_score_through_the_later_stages():
    """An identity 'later stage' makes stage-wise Grad-CAM the plain Grad-CAM of that stage."""

    class TwoStage(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Identity()
            self.stages = nn.Sequential(nn.Identity(), nn.Identity())

        def forward_features(self, x):
            return self.stages(self.stem(x))

    net = TwoStage()
    x = torch.rand(2, 3, 2, 4, 4)
    assert torch.allclose(gradcam_map(net, x, embedding_score(), stage=1), gradcam_map(net, x, embedding_score()))
