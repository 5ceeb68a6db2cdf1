"""Temporal x spatial test views: crop positions, view order, flow handled alongside."""

import numpy as np
import pytest
import torch

from modist.data.augment import MEAN, STD
from modist.data.clips import ClipBatch
from modist.evaluation.multiview import SpatialCrop, ViewPipeline, average_view_probs


def _ramp_batch(b: int = 2, t_views: int = 2, frames: int = 3, h: int = 16, w: int = 48) -> ClipBatch:
    """Red channel = column index, green = temporal view index: crops and order are readable."""
    rgb = np.zeros((b, t_views, frames, h, w, 3), np.uint8)
    rgb[..., 0] = np.arange(w, dtype=np.uint8)[None, None, None, None, :]
    for t in range(t_views):
        rgb[:, t, ..., 1] = 10 * t
    flow = np.zeros((b, t_views, frames, h, w, 2), np.float32)
    flow[..., 0] = np.arange(w, dtype=np.float32)  # dx = column index
    return ClipBatch(rgb=torch.from_numpy(rgb), flow=torch.from_numpy(flow))


def _unnormalise(x: torch.Tensor, channel: int) -> torch.Tensor:
    return (x[:, :, channel] * STD[channel] + MEAN[channel]) * 255


def test_three_spatial_views_are_left_centre_right_in_view_order():
    batch = _ramp_batch()
    views = ViewPipeline(crop_size=16, spatial_views=3, encoding="dxdy", max_flow=100.0)
    rgb, motion = views(batch, torch.device("cpu"), with_motion=True)
    assert rgb.shape == (6, 2, 3, 3, 16, 16) and motion.shape == (6, 2, 2, 3, 16, 16)
    red = _unnormalise(rgb, 0)  # [V, B, T, S, S]
    green = _unnormalise(rgb, 1)
    for v in range(6):
        t, s = divmod(v, 3)
        first_col = 16 * s  # crops of side 16 at x = 0, 16, 32 of a 48-wide frame
        np.testing.assert_allclose(red[v, 0, 0, 0].numpy(), np.arange(first_col, first_col + 16), atol=1e-3)
        assert torch.allclose(green[v], torch.full_like(green[v], 10.0 * t), atol=1e-3)
        # Flow goes through the same crop (scale 1, no flip), then dxdy = dx / max_flow.
        np.testing.assert_allclose(motion[v, 0, 0, 0, 0].numpy() * 100, np.arange(first_col, first_col + 16),
                                   atol=1e-3)


def test_single_spatial_view_is_the_centre_crop_and_portrait_frames_crop_vertically():
    crop = SpatialCrop(8, 0, 1)
    boxes, flips = crop._sample_boxes(1, 20, 40, "cpu")
    assert boxes[0].tolist() == [10.0, 0.0, 20.0, 20.0] and not flips.any()
    top = SpatialCrop(8, 0, 2)._sample_boxes(1, 40, 20, "cpu")[0]
    bottom = SpatialCrop(8, 1, 2)._sample_boxes(1, 40, 20, "cpu")[0]
    assert top[0].tolist() == [0.0, 0.0, 20.0, 20.0] and bottom[0].tolist() == [0.0, 20.0, 20.0, 20.0]
    with pytest.raises(ValueError):
        SpatialCrop(8, 3, 3)


def test_probability_average_is_not_logit_average():
    logits = torch.tensor([[[4.0, 0.0, 0.0], [0.0, 1.0, 1.2]]])
    p = average_view_probs(logits)[0]
    e1, e2 = np.exp([4.0, 0, 0]), np.exp([0.0, 1.0, 1.2])
    np.testing.assert_allclose(p.numpy(), (e1 / e1.sum() + e2 / e2.sum()) / 2, rtol=1e-6)
    assert torch.isclose(p.sum(), torch.tensor(1.0))
