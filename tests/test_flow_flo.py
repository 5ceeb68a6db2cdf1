"""Middlebury .flo I/O and end-point error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modist.errors import FlowError
from modist.flow import endpoint_error, read_flo, write_flo

FLOW_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flow"


def test_round_trip_preserves_values_and_layout(tmp_path):
    flow = np.arange(3 * 5 * 2, dtype=np.float32).reshape(3, 5, 2) - 7.25
    path = tmp_path / "a.flo"
    write_flo(path, flow)
    assert path.stat().st_size == 12 + 3 * 5 * 2 * 4
    raw = path.read_bytes()
    assert np.frombuffer(raw[:4], "<f4")[0] == np.float32(202021.25)
    assert np.frombuffer(raw[4:12], "<i4").tolist() == [5, 3]  # width first
    np.testing.assert_array_equal(read_flo(path), flow)
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_magic_and_truncation_name_the_file(tmp_path):
    bad = tmp_path / "bad.flo"
    bad.write_bytes(np.array([1.0], "<f4").tobytes() + np.array([2, 2], "<i4").tobytes() + bytes(32))
    with pytest.raises(FlowError, match="bad.flo.*magic"):
        read_flo(bad)
    good = tmp_path / "t.flo"
    write_flo(good, np.zeros((4, 4, 2), np.float32))
    cut = tmp_path / "cut.flo"
    cut.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(FlowError, match="cut.flo.*truncated"):
        read_flo(cut)
    with pytest.raises(FlowError, match="missing.flo"):
        read_flo(tmp_path / "missing.flo")


def test_write_rejects_wrong_shape(tmp_path):
    with pytest.raises(FlowError, match=r"x.flo.*\[H, W, 2\]"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 4, 3), np.float32))
    assert not (tmp_path / "x.flo").exists()


def test_shared_middlebury_files_have_expected_shapes_and_unknowns():
    if not FLOW_DATA.exists():
        pytest.skip("shared flow data not available")
    rubber = read_flo(FLOW_DATA / "middlebury" / "RubberWhale" / "flow10.flo")
    assert rubber.shape == (388, 584, 2) and rubber.dtype == np.float32
    unknown = (np.abs(rubber) > 1e9).any(axis=-1)
    assert 0 < unknown.sum() < unknown.size // 10  # RubberWhale has occluded/unknown regions
    assert np.abs(rubber[~unknown]).max() < 10
    grove = read_flo(FLOW_DATA / "middlebury" / "Grove3" / "flow10.flo")
    assert grove.shape == (480, 640, 2)
    # EPE ignores unknowns: perfect prediction with garbage at unknown pixels is still 0.
    pred = np.where(unknown[..., None], 1e3, rubber)
    assert endpoint_error(pred, rubber) == 0.0


def test_endpoint_error_hand_computed_with_valid_mask():
    gt = np.zeros((2, 2, 2), np.float32)
    gt[1, 1] = [1e10, 0]  # unknown
    pred = np.zeros_like(gt)
    pred[0, 0] = [3, 4]  # error 5
    pred[0, 1] = [0, 1]  # error 1
    pred[1, 1] = [100, 100]  # ignored (unknown GT)
    assert endpoint_error(pred, gt) == pytest.approx((5 + 1 + 0) / 3)
    valid = np.array([[True, False], [True, True]])
    assert endpoint_error(pred, gt, valid) == pytest.approx(5 / 2)
    gt_nan = gt.copy()
    gt_nan[0, 0] = np.nan
    assert endpoint_error(pred, gt_nan) == pytest.approx(1 / 2)
    with pytest.raises(FlowError):
        endpoint_error(pred[:1], gt)
