"""Motion encodings checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modist.errors import FlowError
from modist.flow import (
    dequantize_flow,
    encode_motion,
    flow_edges_uint8,
    motion_channels,
    quantize_flow,
)
from modist.flow.encodings import sobel_magnitude


def test_dxdy_and_magnitude_clip_and_scale():
    flow = torch.tensor([[[[10.0, -30.0]], [[0.0, 5.0]]]])  # [1, 2, 1, 2]
    dxdy = encode_motion(flow, "dxdy", max_flow=20.0)
    assert dxdy.shape == (1, 2, 1, 2)
    assert dxdy[0, :, 0, 0].tolist() == [0.5, 0.0]
    assert dxdy[0, :, 0, 1].tolist() == [-1.0, 0.25]
    mag = encode_motion(flow, "magnitude", max_flow=20.0)
    assert mag.shape == (1, 1, 1, 2)
    assert mag[0, 0, 0].tolist() == pytest.approx([0.5, 1.0])  # |(-30, 5)| > 20 -> clipped


def test_sobel_of_3x3_ramp_matches_hand_computation():
    # Magnitude ramp 0,1,2 along x. With replicate padding the padded rows are
    # [0,0,1,2,2]; the unnormalised gx at column c = sum_w (row[c+1] - row[c-1]) * (1, 2, 1)
    # = 4 * diff = 4, 8, 4; the normalised kernel divides by 8: 0.5, 1, 0.5 (the slope, 1,
    # inside; half of it at the replicated border). gy = 0; eps 1e-6 inside the square root.
    ramp = torch.tensor([[0.0, 1.0, 2.0]] * 3)[None]
    g = sobel_magnitude(ramp)[0]
    expected = torch.sqrt(torch.tensor([[0.5, 1.0, 0.5]] * 3) ** 2 + 1e-6)
    torch.testing.assert_close(g, expected)
    # Through encode_motion: flow (dx = ramp, dy = 0) has magnitude = ramp.
    flow = torch.stack([ramp[0], torch.zeros(3, 3)])[None]
    edges = encode_motion(flow, "flow_edges", edge_max=10.0)
    torch.testing.assert_close(edges[0, 0], expected / 10.0)
    edges_clamped = encode_motion(flow, "flow_edges", edge_max=0.75)
    torch.testing.assert_close(edges_clamped[0, 0], expected.clamp(max=0.75) / 0.75)


def test_normalised_sobel_of_a_ramp_is_its_slope():
    # Magnitude 3 * x + 2 * y px on 6x7: inside, gx = 3 and gy = 2 exactly, so G = sqrt(13 + 1e-6).
    y, x = torch.meshgrid(torch.arange(6.0), torch.arange(7.0), indexing="ij")
    g = sobel_magnitude((3 * x + 2 * y)[None])[0]
    torch.testing.assert_close(g[1:-1, 1:-1], torch.full((4, 5), (13 + 1e-6) ** 0.5))
    # Top-left corner: replicated border halves both derivatives (1.5, 1).
    assert float(g[0, 0]) == pytest.approx((1.5**2 + 1.0**2 + 1e-6) ** 0.5)


def test_flow_edges_of_uniform_translation_are_kornias_floor():
    flow = torch.zeros(2, 3, 2, 16, 20)  # two leading dims
    flow[:, :, 0] = 7.0
    flow[:, :, 1] = -3.0
    edges = encode_motion(flow, "flow_edges")
    assert edges.shape == (2, 3, 1, 16, 20)
    # Gx = Gy = 0 exactly; what remains is kornia's sqrt(eps) = 1e-3, / edge_max.
    torch.testing.assert_close(edges, torch.full_like(edges, 1e-4))
    assert flow_edges_uint8(flow[0].permute(0, 2, 3, 1).numpy()).max() == 0


def test_flow_edges_light_up_on_moving_square_boundary_only():
    flow = torch.zeros(1, 2, 32, 32)
    flow[0, 0, 10:22, 10:22] = 4.0  # square moving right on a static background
    edges = encode_motion(flow, "flow_edges")[0, 0]
    boundary = torch.zeros(32, 32, dtype=torch.bool)
    boundary[8:24, 8:24] = True
    boundary[12:20, 12:20] = False  # the interior of the square is uniform motion
    assert float(edges[~boundary].max()) == pytest.approx(1e-4)
    # Row 10 (top edge, inside): the 4 px step lies between rows 9 and 10; the smoothing
    # across is 1 + 2 + 1 = 4, so gy = 4 * 4 / 8 = 2 -> 0.2 (the unnormalised kernel gave
    # 16, clamped to 1).
    assert float(edges[10, 15]) == pytest.approx(0.2, abs=1e-6)
    assert float(edges[9, 15]) == pytest.approx(0.2, abs=1e-6)
    # At the corner both derivatives are non-zero: gx = gy = 4 * (1 + 2) / 8 = 1.5 at (10, 10).
    assert float(edges[10, 10]) == pytest.approx((2 * 1.5**2 + 1e-6) ** 0.5 / 10, abs=1e-6)


def _smooth_flow_with_moving_square(seed: int = 0) -> torch.Tensor:
    """32x32 flow: Gaussian-smoothed noise (sigma 1 px, std 5 px) and a 12 px square moving 5 px right."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(2, 1, 32, 32, generator=gen)
    taps = torch.exp(-torch.arange(-3.0, 4.0) ** 2 / 2)
    kernel = (taps[:, None] * taps[None]) / taps.sum() ** 2
    smooth = torch.nn.functional.conv2d(torch.nn.functional.pad(noise, (3, 3, 3, 3), mode="reflect"),
                                        kernel[None, None])[:, 0]
    flow = smooth / smooth.std() * 5.0
    flow[0, 10:22, 10:22] = 5.0
    flow[1, 10:22, 10:22] = 0.0
    return flow[None]


def test_flow_edges_mean_is_the_authors_scale_not_eight_times_it():
    # On this field the authors' normalised Sobel gives a mean of about 0.19; the unnormalised
    # kernel (8x steeper) saturated most pixels, mean about 0.81.
    flow = _smooth_flow_with_moving_square()
    mean = float(encode_motion(flow, "flow_edges").mean())
    assert 0.15 < mean < 0.25, mean
    steep = (8 * sobel_magnitude(torch.linalg.vector_norm(flow, dim=-3, keepdim=True))).clamp(max=10) / 10
    assert float(steep.mean()) > 0.7


def test_flow_edges_match_kornia_sobel():
    kornia = pytest.importorskip("kornia")
    flow = torch.cat([_smooth_flow_with_moving_square(seed) for seed in range(3)])
    magnitude = torch.norm(flow, dim=1, keepdim=True)  # as the authors' misc.py (mode flow_edge)
    expected = torch.clamp(kornia.filters.Sobel()(magnitude), min=0.0, max=10.0) / 10.0
    torch.testing.assert_close(encode_motion(flow, "flow_edges"), expected, rtol=0, atol=1e-6)
    # The uint8 store truncates, as the authors' astype(np.uint8) does.
    authors_u8 = (torch.clamp(kornia.filters.Sobel()(magnitude), 0.0, 10.0) / (10.0 + 1e-8) * 255).squeeze(1)
    np.testing.assert_array_equal(flow_edges_uint8(flow.permute(0, 2, 3, 1).numpy()),
                                  authors_u8.numpy().astype(np.uint8))


def test_flow_edges_uint8_truncates_the_torch_encoding():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 3, (2, 12, 14, 2)).astype(np.float32)
    u8 = flow_edges_uint8(flow)
    assert u8.dtype == np.uint8 and u8.shape == (2, 12, 14)
    ref = encode_motion(torch.from_numpy(flow).permute(0, 3, 1, 2), "flow_edges")[:, 0]
    np.testing.assert_array_equal(u8, np.floor(ref.numpy() * 255).astype(np.uint8))
    assert (np.rint(ref.numpy() * 255) != u8).any()  # rounding would differ somewhere
    # Hand-computed: a ramp of slope 0.3 px/px gives G = 0.3 inside -> 0.03 * 255 = 7.65 -> 7.
    ramp = np.zeros((5, 5, 2), np.float32)
    ramp[..., 0] = 0.3 * np.arange(5)
    assert flow_edges_uint8(ramp)[2, 2] == 7


def test_quantize_round_trip_within_half_step():
    flow = np.linspace(-20, 20, 1000, dtype=np.float32).reshape(-1, 1, 2)
    q = quantize_flow(flow)
    assert q.dtype == np.uint8
    assert quantize_flow(np.array([-20.0, 0.0, 20.0, 50.0, -50.0])).tolist() == [0, 128, 255, 255, 0]
    back = dequantize_flow(q)
    assert back.dtype == np.float32
    assert np.abs(back - flow).max() <= 40 / 255 / 2 + 1e-5
    assert dequantize_flow(np.array([0, 255], np.uint8)).tolist() == pytest.approx([-20.0, 20.0])


def test_unknown_kind_and_bad_shapes():
    assert [motion_channels(k) for k in ("dxdy", "magnitude", "flow_edges")] == [2, 1, 1]
    with pytest.raises(FlowError, match="unknown motion encoding 'rgb'"):
        encode_motion(torch.zeros(1, 2, 4, 4), "rgb")
    with pytest.raises(FlowError, match=r"\[..., 2, H, W\]"):
        encode_motion(torch.zeros(1, 3, 4, 4), "dxdy")
