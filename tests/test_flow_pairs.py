"""Ground-truth pairs (pairs.csv + stereo) and every estimator beating zero flow on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from modist.errors import DataError
from modist.flow import endpoint_error, estimate
from modist.flow.pairs import load_csv_pairs, load_stereo_pairs

FLOW_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flow"
pytestmark = pytest.mark.skipif(not FLOW_DATA.exists(), reason="shared flow data not available")


@pytest.fixture(scope="module")
def pairs():
    found = {p.name: p for p in load_csv_pairs(FLOW_DATA / "pairs.csv")}
    found.update({p.name: p for p in load_stereo_pairs(FLOW_DATA / "stereo")})
    return found


def test_loads_all_pairs_with_masks(pairs):
    assert len(pairs) == 11
    rubber = pairs["middlebury/RubberWhale"]
    assert rubber.frame0.shape == (388, 584, 3) and rubber.frame0.dtype == np.uint8
    assert 0.9 < rubber.valid.mean() < 1.0  # unknown GT excluded
    alley = pairs["sintel/clean/alley_1"]
    assert alley.frame0.shape == (436, 1024, 3) and alley.valid.mean() <= 1.0


def test_stereo_pairs_are_leftward_flow_at_image_resolution(pairs):
    for name in ("stereo/motorcycle", "stereo/aloe"):
        p = pairs[name]
        assert p.gt.shape[:2] == p.frame0.shape[:2]
        assert (p.gt[..., 1] == 0).all()
        assert (p.gt[..., 0][p.valid] < 0).all()  # left -> right moves left
        assert 0.85 < p.valid.mean() < 1.0
        # the GT is photometrically right: sampling the right image at x + dx matches the left
        h, w = p.valid.shape
        ys, xs = np.nonzero(p.valid)
        xr = np.rint(xs + p.gt[ys, xs, 0]).astype(int)
        ok = (xr >= 0) & (xr < w)
        grey = lambda im: im.astype(float).mean(axis=-1)  # noqa: E731
        err_gt = np.abs(grey(p.frame0)[ys[ok], xs[ok]] - grey(p.frame1)[ys[ok], xr[ok]]).mean()
        err_zero = np.abs(grey(p.frame0)[ys, xs] - grey(p.frame1)[ys, xs]).mean()
        assert err_gt < 0.5 * err_zero


def test_resized_scales_vectors(pairs):
    p = pairs["stereo/motorcycle"]
    small = p.resized(370)  # 741 -> 370 wide
    assert small.frame0.shape[1] == 370
    ratio = 370 / 741
    np.testing.assert_allclose(np.nanmax(-small.gt[..., 0]), np.nanmax(-p.gt[..., 0]) * ratio, rtol=0.02)


def test_missing_pairs_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nope.csv"):
        load_csv_pairs(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "estimator,options,max_side",
    [
        ("dis", {"preset": "ultrafast"}, 400),
        ("dis", {"preset": "fast"}, 400),
        ("dis", {"preset": "medium"}, 400),
        ("farneback", {}, 400),
        ("tvl1", {}, 160),
        ("torch_tvl1", {}, 160),
    ],
)
def test_each_estimator_beats_zero_flow(pairs, estimator, options, max_side):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # OpenMP spin-waits badly on a busy 2-core machine
    try:
        for name in ("middlebury/Grove3", "sintel/clean/cave_2"):
            p = pairs[name].resized(max_side)
            flow = estimate(p.frame0, p.frame1, estimator=estimator, **options)
            epe = endpoint_error(flow, p.gt, p.valid)
            zero = endpoint_error(np.zeros_like(p.gt), p.gt, p.valid)
            assert epe < 0.6 * zero, f"{estimator} on {name}: EPE {epe:.3f} vs zero {zero:.3f}"
    finally:
        torch.set_num_threads(before)
