"""Batched PyTorch TV-L1: operators, known shifts, agreement with OpenCV TV-L1."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from modist.errors import FlowError
from modist.flow import endpoint_error, estimate, estimate_batch
from modist.flow.torch_tvl1 import (
    TVL1Params,
    _divergence,
    _forward_gradient,
    _median,
    _median_unfold,
    _pyramid_sizes,
    tvl1_flow_rgb,
)

FLOW_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flow"


@pytest.fixture(autouse=True)
def _one_thread():
    # On a shared 2-core machine OpenMP spin-waiting with 2 threads is up to 20x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def _multiscale_texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Noise at several scales (like natural images): it keeps contrast on coarse pyramid levels."""
    rng = np.random.default_rng(seed)
    img = sum(
        cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), s) * s for s in (1.5, 3, 6, 12)
    )
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def test_divergence_is_negative_adjoint_of_forward_gradient():
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 1, 7, 9, generator=gen, dtype=torch.float64)
    px, py = torch.randn(2, 2, 1, 7, 9, generator=gen, dtype=torch.float64)
    ux, uy = _forward_gradient(u)
    lhs = (ux * px + uy * py).sum()
    rhs = -(u * _divergence(px, py)).sum()
    torch.testing.assert_close(lhs, rhs)


def test_cpu_median_equals_device_agnostic_median():
    u = torch.randn(2, 2, 13, 17, generator=torch.Generator().manual_seed(1))
    for k in (3, 5):
        torch.testing.assert_close(_median(u, k), _median_unfold(u, k))
    spike = torch.zeros(1, 1, 5, 5)
    spike[0, 0, 2, 2] = 100.0
    assert float(_median(spike, 3).abs().max()) == 0.0  # an outlier vanishes


@pytest.mark.parametrize("shift", [(3.0, -2.0), (1.5, 0.75)])
def test_recovers_integer_and_subpixel_shift(shift):
    frame0 = _texture(64, 80)
    frame1 = _shift(frame0, *shift)
    flow = estimate(frame0, frame1, estimator="torch_tvl1", scales=3)
    assert flow.dtype == np.float32 and flow.shape == (64, 80, 2)
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), shift, atol=0.15)


OLD_DEFAULTS = dict(scales=5, scale_step=0.8, warps=5, outer_iterations=4, inner_iterations=10)  # before 2026-11


@pytest.mark.parametrize("shift", [(20, 0), (0, 20), (-14, 12)])
def test_default_params_recover_large_shift(shift):
    # two 128x128 windows of one larger texture: content enters at one side, as in a video
    size, margin = 128, 32
    big = _multiscale_texture(size + 2 * margin, size + 2 * margin, seed=2)
    dx, dy = shift
    frame0 = np.ascontiguousarray(big[margin : margin + size, margin : margin + size])
    frame1 = np.ascontiguousarray(big[margin - dy : margin - dy + size, margin - dx : margin - dx + size])
    inner = (slice(16, -16), slice(16, -16))

    def errors(**options):
        flow = estimate(frame0, frame1, estimator="torch_tvl1", **options)[inner].reshape(-1, 2)
        return np.linalg.norm(flow - np.float32(shift), axis=1)

    err = errors()
    assert np.median(err) < 0.5 and np.mean(err < 1.0) > 0.85
    # the old defaults (5 scales: coarsest level 0.41x) cannot catch it
    assert np.median(errors(**OLD_DEFAULTS)) > 5.0


def test_automatic_scales_reach_min_size_and_explicit_scales_still_apply():
    p = TVL1Params()
    for h, w in [(224, 224), (112, 160), (164, 384)]:
        sizes = _pyramid_sizes(h, w, p)
        assert sizes[0] == (h, w) and p.min_size <= min(sizes[-1]) < p.min_size / p.scale_step + 1
    assert len(_pyramid_sizes(224, 224, TVL1Params(scales=5))) == 5
    assert len(_pyramid_sizes(224, 224, TVL1Params(scales=0, scale_step=0.5))) == 4  # 224, 112, 56, 28
    assert _pyramid_sizes(12, 40, p) == [(12, 40)]  # smaller than min_size: one level
    with pytest.raises(FlowError, match="scale_step"):
        _pyramid_sizes(64, 64, TVL1Params(scale_step=1.0))


def test_batch_equals_pairwise_and_tensor_entry_point():
    frames0 = np.stack([_texture(40, 48, seed=s) for s in range(3)])
    frames1 = np.stack([_shift(f, 1.0, -1.0) for f in frames0])
    opts = dict(scales=2, warps=2, outer_iterations=2)
    batch = estimate_batch(frames0, frames1, estimator="torch_tvl1", batch_size=2, **opts)
    single = estimate(frames0[2], frames1[2], estimator="torch_tvl1", **opts)
    np.testing.assert_allclose(batch[2], single, atol=1e-4)
    t0 = torch.from_numpy(frames0).permute(0, 3, 1, 2).float()
    t1 = torch.from_numpy(frames1).permute(0, 3, 1, 2).float()
    flow = tvl1_flow_rgb(t0, t1, TVL1Params(**opts))
    assert flow.shape == (3, 2, 40, 48) and flow.dtype == torch.float32 and not flow.requires_grad
    np.testing.assert_allclose(flow.permute(0, 2, 3, 1).numpy(), batch, atol=1e-4)


def test_options_and_device_errors():
    img = _texture(16, 16)
    with pytest.raises(FlowError, match="torch_tvl1.*unknown option.*bogus"):
        estimate(img, img, estimator="torch_tvl1", bogus=1)
    if not torch.cuda.is_available():
        with pytest.raises(FlowError, match="CUDA is not available"):
            estimate(img, img, estimator="torch_tvl1", device="cuda")
    # aliases are accepted
    estimate(img, img, estimator="torch_tvl1", iterations=5, scales=1, warps=1, **{"lambda": 0.1})


def test_close_to_opencv_tvl1_on_downscaled_middlebury_pair():
    if not FLOW_DATA.exists():
        pytest.skip("shared flow data not available")
    from modist.flow.pairs import load_csv_pairs

    pair = next(p for p in load_csv_pairs(FLOW_DATA / "pairs.csv") if p.name == "middlebury/Grove3").resized(160)
    ours = endpoint_error(estimate(pair.frame0, pair.frame1, estimator="torch_tvl1"), pair.gt, pair.valid)
    ref = endpoint_error(estimate(pair.frame0, pair.frame1, estimator="tvl1"), pair.gt, pair.valid)
    zero = endpoint_error(np.zeros_like(pair.gt), pair.gt, pair.valid)
    assert ours < 0.5 * zero
    assert ours < 1.15 * ref
