"""``modist flow DATASET --out DIR``: sharded, resumable precomputation of motion input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modist.cli.main import main
from modist.data.video import write_video
from modist.flow.precompute import resolve_shard
from modist.flow.store import load_stored_flow, store_path


def _square_video(path, dx: int, frames: int = 10) -> None:
    rng = np.random.default_rng(dx)
    background = (rng.random((48, 64, 3)) * 60 + 40).astype(np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    texture = (rng.random((16, 16, 3)) * 120 + 120).astype(np.uint8)
    for t in range(frames):
        video[t, 16:32, 8 + dx * t : 24 + dx * t] = texture
    write_video(path, video, fps=10, crf=10)


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    _square_video(root / "a.mp4", 2)
    _square_video(root / "b.mp4", 3)
    (root / "broken.mp4").write_bytes(b"not a video at all")
    return root


def test_precompute_resume_and_redo(dataset, tmp_path, capsys):
    out = tmp_path / "cache"
    assert main(["flow", str(dataset), "--out", str(out)]) == 1  # broken.mp4 fails, others are done
    text = capsys.readouterr().out
    assert "broken.mp4" in text and "2 done" in text and "1 failed" in text
    flow = load_stored_flow(out, dataset / "b.mp4")
    assert flow.shape == (9, 48, 64, 2)
    # the textured square moves 3 px/frame to the right: its interior flow is ~(3, 0)
    inner = flow[4, 20:28, 8 + 3 * 4 + 4 : 8 + 3 * 4 + 12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), (3.0, 0.0), atol=0.5)
    summary = json.loads((out / "flow-summary.shard0of1.json").read_text())
    assert summary["pairs"] == 18 and summary["bytes_per_video_second"] > 0

    assert main(["flow", str(dataset), "--out", str(out)]) == 1
    assert "2 skipped" in capsys.readouterr().out

    damaged = store_path(out, dataset / "a.mp4")
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert main(["flow", str(dataset), "--out", str(out)]) == 1
    assert "1 redone, 1 skipped" in capsys.readouterr().out
    assert load_stored_flow(out, dataset / "a.mp4").shape == (9, 48, 64, 2)

    # other settings make the old file stale
    assert main(["flow", str(dataset), "--out", str(out), "--preset", "ultrafast"]) == 1
    assert "2 redone" in capsys.readouterr().out


def test_shards_partition_the_videos(dataset, tmp_path, monkeypatch, capsys):
    (dataset / "broken.mp4").unlink()
    out = tmp_path / "cache"
    assert main(["flow", str(dataset), "--out", str(out), "--shard", "1", "--num-shards", "2"]) == 0
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["flow", str(dataset), "--out", str(out), "--workers", "2"]) == 0
    capsys.readouterr()
    assert store_path(out, dataset / "a.mp4").exists() and store_path(out, dataset / "b.mp4").exists()
    assert {p.name for p in out.glob("flow-summary*")} == {"flow-summary.shard0of2.json", "flow-summary.shard1of2.json"}
    for name in ("flow-summary.shard0of2.json", "flow-summary.shard1of2.json"):
        assert json.loads((out / name).read_text())["done"] == 1


def test_shard_arguments_are_checked(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert resolve_shard(None, None) == (0, 1)
    assert main(["flow", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "2", "--num-shards", "2"]) == 2
    assert "--shard 2 --num-shards 2" in capsys.readouterr().err
    assert main(["flow", "--out", str(tmp_path / "o")]) == 2
    assert "missing DATASET" in capsys.readouterr().err


def test_the_library_returns_the_summary_it_writes_and_prints_nothing(dataset, tmp_path, capsys):
    from modist.flow.precompute import PrecomputeSettings, precompute_dataset

    out = tmp_path / "cache"
    summary = precompute_dataset(str(dataset), out, PrecomputeSettings(options={"preset": "ultrafast"}),
                                 shard=0, num_shards=1, progress=False)
    assert capsys.readouterr().out == ""
    assert (summary.done, summary.failed, summary.videos, summary.pairs) == (2, 1, 3, 18)
    assert "broken.mp4" in summary.failures[0]
    assert summary.path == out / "flow-summary.shard0of1.json"
    assert json.loads(summary.path.read_text()) == json.loads(json.dumps(summary.to_dict()))
    assert "path" not in summary.to_dict() and summary.to_dict()["settings"]["options"] == {"preset": "ultrafast"}


def test_a_bad_estimator_or_option_fails_before_any_video(dataset, tmp_path):
    from modist.errors import FlowError
    from modist.flow.precompute import PrecomputeSettings, check_estimator, precompute_dataset

    with pytest.raises(FlowError, match="unknown flow estimator 'nope'"):
        check_estimator("nope", {})
    with pytest.raises(FlowError):
        check_estimator("dis", {"preset": "glacial"})
    out = tmp_path / "cache"
    with pytest.raises(FlowError):
        precompute_dataset(str(dataset), out, PrecomputeSettings(estimator="nope"), progress=False)
    assert not out.exists()


def test_backward_store_has_a_pair_for_every_frame_and_is_read_as_the_loader_computes(dataset, tmp_path, capsys):
    from modist.data.clips import ClipSource
    from modist.data.records import VideoRecord
    from modist.flow.sources import EstimatedFlow, FlowFromStore
    from modist.flow.store import open_stored_flow

    (dataset / "broken.mp4").unlink()
    out = tmp_path / "cache"
    assert main(["flow", str(dataset), "--out", str(out), "--flow-direction", "backward", "--flow-gap", "2"]) == 0
    capsys.readouterr()
    with open_stored_flow(out, dataset / "b.mp4") as stored:
        assert stored.settings["flow_direction"] == "backward" and stored.settings["flow_gap"] == 2
        flow = stored.read()
        np.testing.assert_allclose(stored.times, np.arange(10) / 10)
    assert flow.shape == (10, 48, 64, 2)  # every frame: frames 0 and 1 pair with frame 0
    assert np.abs(flow[0]).max() <= 40 / 255  # frame 0 -> frame 0: zero, within one quantisation step
    # the square moves 3 px/frame right: its flow to the frame 2 earlier is ~(-6, 0); frame 1's (to 0) ~(-3, 0)
    inner = flow[5, 20:28, 8 + 3 * 5 + 4: 8 + 3 * 5 + 12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), (-6.0, 0.0), atol=0.5)
    inner = flow[1, 20:28, 8 + 3 + 4: 8 + 3 + 12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), (-3.0, 0.0), atol=0.5)
    # Training reads the same input from the store as it would compute (here the store's DIS-medium).
    record = VideoRecord(str(dataset / "b.mp4"))
    live = ClipSource(EstimatedFlow("dis", "medium", 2, "backward"), motion_frames=5, motion_stride=1)
    stored = ClipSource(FlowFromStore(str(out), 2, "backward"), motion_frames=5, motion_stride=1)
    for start in (0, 4):
        a = live.read(record, [start], 2, 3).motion
        b = stored.read(record, [start], 2, 3).motion
        assert a[0].shape == b[0].shape == (5, 48, 64, 2)
        np.testing.assert_allclose(np.clip(a[0].astype(np.float32), -20, 20), b[0].astype(np.float32), atol=0.1)
    # Other directions than the store's are refused, one line naming both.
    forward = ClipSource(FlowFromStore(str(out), 2, "forward"))
    from modist.errors import VideoReadError

    with pytest.raises(VideoReadError) as err:
        forward.read(record, [0], 2, 1)
    assert "flow store made with flow_direction backward but motion.flow_direction is forward" in str(err.value)
    assert "\n" not in str(err.value)
    # A forward store of the same videos is another store: redone, not reused.
    assert main(["flow", str(dataset), "--out", str(out), "--flow-gap", "2"]) == 0
    assert "2 redone" in capsys.readouterr().out


def test_stores_from_before_the_direction_was_recorded_mean_forward(tmp_path):
    from modist.data.motion_source import MotionRequest
    from modist.flow.precompute import PrecomputeSettings, _reusable
    from modist.flow.sources import FlowFromStore
    from modist.flow.store import FlowStoreWriter

    video = tmp_path / "v.mp4"
    path = store_path(tmp_path, video)
    old = {k: v for k, v in PrecomputeSettings().identity().items() if k != "flow_direction"}
    with FlowStoreWriter(path, old, fps=10.0) as writer:
        writer.add(np.full((3, 4, 4, 2), 2.0, np.float32), times=np.arange(3) / 10)
    assert _reusable(path, PrecomputeSettings()) == "ok"  # still skipped by a forward run
    assert _reusable(path, PrecomputeSettings(flow_direction="backward")) == "other settings"
    got = FlowFromStore(str(tmp_path), 1).motion(MotionRequest(str(video), np.array([0, 2]), (4, 4)))
    np.testing.assert_allclose(got.astype(np.float32), 2.0, atol=0.1)
    from modist.errors import VideoReadError

    with pytest.raises(VideoReadError, match="made with flow_direction forward but motion.flow_direction is backward"):
        FlowFromStore(str(tmp_path), 1, "backward").motion(MotionRequest(str(video), np.array([0]), (4, 4)))
