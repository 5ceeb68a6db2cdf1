"""RoIAlign (aligned=True) against hand-computed values on a ramp, and the detection head."""

import pytest
import torch

from modist.models.detection import ActionDetector, RoIActionHead, dilate_last_stage
from modist.models.resnet3d import r3d_tiny, slow_r50
from modist.models.roi_align import roi_align


def ramp(h=6, w=6):
    """f(y, x) = x + 10 y: bilinear sampling of it is exact, so every sample is its coordinates."""
    return (torch.arange(float(w))[None, :] + 10 * torch.arange(float(h))[:, None])[None, None]


def box(*coords, batch=0):
    return torch.tensor([[batch, *map(float, coords)]])


def test_one_bin_averages_its_sample_grid():
    # aligned: the box [1, 3] starts at 0.5; 2 samples at bin centres 1.0 and 2.0 -> mean 1.5 per axis
    assert roi_align(ramp(), box(1, 1, 3, 3), 1, sampling_ratio=2).item() == pytest.approx(16.5)
    # adaptive grid: ceil(2 / 1) = 2 samples per axis, the same value
    assert roi_align(ramp(), box(1, 1, 3, 3), 1, sampling_ratio=0).item() == pytest.approx(16.5)


def test_bins_and_spatial_scale():
    out = roi_align(ramp(), box(1, 1, 3, 3), (2, 2), sampling_ratio=2)
    assert out.squeeze().tolist() == [[11.0, 12.0], [21.0, 22.0]]  # samples .75/1.25 and 1.75/2.25
    # the same box given in 2x input pixels
    half = roi_align(ramp(), box(2, 2, 6, 6), (2, 2), spatial_scale=0.5, sampling_ratio=2)
    assert torch.allclose(half, out)


def test_borders_clamp_within_one_pixel_and_zero_beyond():
    # x samples at -0.5 (clamped to 0) and y at 2.5 -> 0 + 25
    assert roi_align(ramp(), box(-1, 2, 1, 4), 1, sampling_ratio=1).item() == pytest.approx(25.0)
    # x samples at -3 and -2: outside by more than a pixel -> 0
    assert roi_align(ramp(), box(-3, 0, -1, 2), 1, sampling_ratio=2).item() == 0.0
    # x at 5.5 (past the last centre 5, inside the map edge 6) reads column 5
    assert roi_align(ramp(), box(5.5, 0, 6.5, 1), 1, sampling_ratio=1).item() == pytest.approx(5.0)


def test_not_aligned_has_no_half_pixel_shift():
    assert roi_align(ramp(), box(1, 1, 3, 3), 1, sampling_ratio=2, aligned=False).item() == pytest.approx(22.0)


def test_batch_index_channels_and_gradient():
    feats = torch.cat([ramp(), 2 * ramp()]).repeat(1, 3, 1, 1).requires_grad_()
    out = roi_align(feats, torch.tensor([[1, 1.0, 1, 3, 3], [0, 1, 1, 3, 3]]), 1, sampling_ratio=2)
    assert out.shape == (2, 3, 1, 1)
    assert out[:, :, 0, 0].tolist() == [[33.0] * 3, [16.5] * 3]
    out.sum().backward()
    assert feats.grad[0, 0].sum().item() == pytest.approx(1.0)  # the weights of one bin sum to 1
    with pytest.raises(ValueError, match="batch indices"):
        roi_align(feats, box(1, 1, 3, 3, batch=2), 1)


def test_head_pools_max_over_space_of_the_time_mean():
    head = RoIActionHead(1, 1, resolution=2, sampling_ratio=2, dropout=0.0)
    with torch.no_grad():
        head.fc.weight.fill_(1.0)
        head.fc.bias.zero_()
    feats = torch.stack([ramp(), 3 * ramp()], dim=2)  # time mean = 2 * ramp
    # normalised box (1/6, 1/6, 3/6, 3/6) on the 6x6 map = pixels (1, 1, 3, 3): bins 11..22, max 22
    logits = head(feats, torch.tensor([[0, 1 / 6, 1 / 6, 0.5, 0.5]]))
    assert logits.item() == pytest.approx(44.0)


def test_detector_trains_and_dilation_keeps_keys():
    det = ActionDetector(r3d_tiny(base_width=4), num_classes=3, resolution=2)
    boxes = torch.tensor([[0, 0.1, 0.1, 0.6, 0.9], [1, 0.5, 0.2, 0.9, 0.8]])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(det(torch.randn(2, 3, 4, 32, 32), boxes),
                                                                torch.tensor([[1.0, 0, 1], [0, 1, 0]]))
    loss.backward()
    assert det.backbone.stem[0].weight.grad is not None
    net = slow_r50(base_width=4)
    keys = {k: v.shape for k, v in net.state_dict().items()}
    assert net.forward_features(torch.zeros(1, 3, 2, 64, 64)).shape[-1] == 2
    assert dilate_last_stage(net).forward_features(torch.zeros(1, 3, 2, 64, 64)).shape[-1] == 4
    assert keys == {k: v.shape for k, v in net.state_dict().items()}
