"""Flow cache files: round trip, chunked range reads, damage detection, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

from modist.errors import DataError
from modist.flow.store import FlowStoreWriter, StoredFlow, load_stored_flow, open_stored_flow, store_path


def _flow(n: int, seed: int = 0, h: int = 6, w: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-25, 25, (n, h, w, 2)).astype(np.float32)


def _write(tmp_path, video="clip.mp4", chunks=(3, 3, 2)):
    flows = [_flow(n, seed=i) for i, n in enumerate(chunks)]
    path = store_path(tmp_path, tmp_path / video)
    with FlowStoreWriter(path, {"estimator": "dis", "flow_gap": 1}, fps=25.0) as writer:
        t = 0
        for f in flows:
            writer.add(f, times=(t + np.arange(len(f))) / 25.0)
            t += len(f)
    return path, np.concatenate(flows)


def test_round_trip_within_quantisation_error(tmp_path):
    path, flow = _write(tmp_path)
    assert path.name.startswith("clip.") and path.name.endswith(".flow.npz")
    back = load_stored_flow(tmp_path, tmp_path / "clip.mp4")
    assert back.shape == (8, 6, 7, 2) and back.dtype == np.float32
    clipped = np.clip(flow, -20, 20)
    assert np.abs(back - clipped).max() <= 20 / 255 + 1e-5
    with open_stored_flow(tmp_path, tmp_path / "clip.mp4") as cached:
        assert cached.num_pairs == 8 and cached.fps == 25.0
        assert cached.settings == {"estimator": "dis", "flow_gap": 1}
        np.testing.assert_allclose(cached.times, np.arange(8) / 25.0)
        planar = cached.read(channels_first=True)
        np.testing.assert_array_equal(planar, back.transpose(0, 3, 1, 2))


def test_range_reads_cross_chunk_boundaries(tmp_path):
    path, _ = _write(tmp_path)
    with StoredFlow(path) as cached:
        full = cached.read_quantized()
        for start, stop in [(0, 8), (2, 5), (3, 6), (5, 8), (7, 8), (4, 4), (6, 100)]:
            np.testing.assert_array_equal(cached.read_quantized(start, stop), full[start:stop])
        with pytest.raises(IndexError):
            cached.read_quantized(5, 2)


def test_truncated_and_missing_files_raise_data_error(tmp_path):
    path, _ = _write(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=f"{path.name}.*damaged"):
        StoredFlow(path)
    with pytest.raises(DataError, match="no stored flow"):
        load_stored_flow(tmp_path, tmp_path / "other.mp4")


def test_failed_write_leaves_no_file(tmp_path):
    path = store_path(tmp_path, "v.mp4")
    with pytest.raises(RuntimeError):
        with FlowStoreWriter(path, {}, fps=30.0) as writer:
            writer.add(_flow(2), times=np.zeros(2))
            raise RuntimeError("decode failed")
    assert list(tmp_path.iterdir()) == []


def test_same_name_in_different_folders_does_not_collide(tmp_path):
    assert store_path(tmp_path, "/a/x.mp4") != store_path(tmp_path, "/b/x.mp4")
