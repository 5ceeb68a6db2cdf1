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
    # [0,0,1,2,2]; gx at column c = sum_w (row[c+1] - row[c-1]) * (1, 2, 1) = 4 * diff.
    ramp = torch.tensor([[0.0, 1.0, 2.0]] * 3)[None]
    g = sobel_magnitude(ramp)[0]
    expected = torch.tensor([[4.0, 8.0, 4.0]] * 3)
    torch.testing.assert_close(g, expected)
    # Through encode_motion: flow (dx = ramp, dy = 0) has magnitude = ramp.
    flow = torch.stack([ramp[0], torch.zeros(3, 3)])[None]
    edges = encode_motion(flow, "flow_edges", edge_max=10.0)
    torch.testing.assert_close(edges[0, 0], expected / 10.0)
    edges_clamped = encode_motion(flow, "flow_edges", edge_max=5.0)
    torch.testing.assert_close(edges_clamped[0, 0], expected.clamp(max=5.0) / 5.0)


def test_flow_edges_of_uniform_translation_are_zero():
    flow = torch.zeros(2, 3, 2, 16, 20)  # two leading dims
    flow[:, :, 0] = 7.0
    flow[:, :, 1] = -3.0
    edges = encode_motion(flow, "flow_edges")
    assert edges.shape == (2, 3, 1, 16, 20)
    assert float(edges.abs().max()) == 0.0


def test_flow_edges_light_up_on_moving_square_boundary_only():
    flow = torch.zeros(1, 2, 32, 32)
    flow[0, 0, 10:22, 10:22] = 4.0  # square moving right on a static background
    edges = encode_motion(flow, "flow_edges")[0, 0]
    boundary = torch.zeros(32, 32, dtype=torch.bool)
    boundary[8:24, 8:24] = True
    boundary[12:20, 12:20] = False  # the interior of the square is uniform motion
    assert float(edges[~boundary].max()) == 0.0
    assert float(edges[10, 15]) == 1.0  # |gy| = 4 * 4 = 16 > 10 -> clamped to 1
    assert float(edges[9, 15]) == 1.0


def test_flow_edges_uint8_matches_torch_encoding():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 3, (2, 12, 14, 2)).astype(np.float32)
    u8 = flow_edges_uint8(flow)
    assert u8.dtype == np.uint8 and u8.shape == (2, 12, 14)
    ref = encode_motion(torch.from_numpy(flow).permute(0, 3, 1, 2), "flow_edges")[:, 0]
    np.testing.assert_array_equal(u8, np.rint(ref.numpy() * 255).astype(np.uint8))


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
