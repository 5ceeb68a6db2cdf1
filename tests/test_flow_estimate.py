"""OpenCV estimators behind modist.flow.estimate / estimate_batch recover known shifts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from modist.errors import FlowError
from modist.flow import estimate, estimate_batch


def _texture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture: noise blurred so gradients exist at every scale."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``out[y + dy, x + dx] = image[y, x]``, i.e. the flow image -> out is (dx, dy)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("shift", [(3.0, -2.0), (1.5, 0.75)])
def test_dis_recovers_integer_and_subpixel_shift(shift):
    frame0 = _texture()
    frame1 = _shift(frame0, *shift)
    flow = estimate(frame0, frame1, estimator="dis", preset="medium")
    assert flow.dtype == np.float32 and flow.shape == (96, 128, 2)
    inner = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), shift, atol=0.2)


@pytest.mark.parametrize("estimator", ["farneback", "tvl1"])
def test_other_opencv_methods_recover_shift(estimator):
    frame0 = _texture(64, 80, seed=1)
    frame1 = _shift(frame0, 2.0, -1.0)
    flow = estimate(frame0, frame1, estimator=estimator)
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), (2.0, -1.0), atol=0.25)


def test_batch_matches_single_pair_calls():
    frames0 = np.stack([_texture(48, 64, seed=s) for s in range(3)])
    frames1 = np.stack([_shift(f, 1.0, 2.0) for f in frames0])
    batch = estimate_batch(frames0, frames1, estimator="dis", preset="ultrafast")
    assert batch.shape == (3, 48, 64, 2) and batch.dtype == np.float32
    for i in range(3):
        np.testing.assert_array_equal(batch[i], estimate(frames0[i], frames1[i], estimator="dis", preset="ultrafast"))


def test_bad_inputs_raise_one_line_flow_errors():
    img = _texture(16, 16)
    with pytest.raises(FlowError, match="unknown flow estimator 'nope'"):
        estimate(img, img, estimator="nope")
    with pytest.raises(FlowError, match="frame0.*uint8 RGB"):
        estimate(img.astype(np.float32), img)
    with pytest.raises(FlowError, match="frame1.*uint8 RGB"):
        estimate(img, img[..., 0])
    with pytest.raises(FlowError, match="shapes differ"):
        estimate(img, img[:8])
    with pytest.raises(FlowError, match="unknown preset"):
        estimate(img, img, estimator="dis", preset="slow")
    with pytest.raises(FlowError, match="unknown option"):
        estimate(img, img, estimator="tvl1", bogus=1)
    with pytest.raises(FlowError, match=r"frames0.*\[N, H, W, 3\]"):
        estimate_batch(img, img)
    for call in (lambda: estimate(img, img, estimator="nope"),):
        with pytest.raises(FlowError) as info:
            call()
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("estimator", ["dis", "farneback", "tvl1"])
def test_cached_objects_do_not_remember_small_images(estimator):
    # OpenCV lowers DIS's finest scale / TV-L1's scale count after a tiny image and
    # keeps them; a cached object must still give the fresh object's result.
    from modist.flow import opencv

    frame0 = _texture(120, 160, seed=3)
    frame1 = _shift(frame0, 2.5, 1.0)
    opencv._local.objects = {}
    fresh = estimate(frame0, frame1, estimator=estimator)
    estimate(frame0[:16, :16].copy(), frame1[:16, :16].copy(), estimator=estimator)
    np.testing.assert_array_equal(estimate(frame0, frame1, estimator=estimator), fresh)


@pytest.mark.parametrize("estimator", ["dis", "torch_tvl1"])
def test_non_contiguous_views_are_accepted(estimator):
    frame0 = _texture(48, 64, seed=4)
    frame1 = _shift(frame0, 1.0, 0.0)
    options = {"scales": 2} if estimator == "torch_tvl1" else {}
    flipped = estimate(frame0[..., ::-1], frame1[..., ::-1], estimator=estimator, **options)
    assert flipped.shape == (48, 64, 2)
    strided = estimate_batch(frame0[None, :, ::2], frame1[None, :, ::2], estimator=estimator, **options)
    assert strided.shape == (1, 48, 32, 2)
