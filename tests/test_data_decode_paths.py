"""The data path's decode and sampling options against plain decoding and against each other.

Keyframe-aware decode runs (one seek per keyframe, non-reference frames skipped between the
frames asked for) must return exactly the frames of a decode from the start and of the former
fixed-gap runs; ``data.clips_per_video`` must draw the ``clips_per_video=1`` pair first and the
same pairs on every draw of an item; ``motion.flow_device=device`` must give the flow the loader
would have estimated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from modist.config import load_config
from modist.data.adapters import resolve_dataset
from modist.data.clips import ClipSource, PairClipDataset, PartnerFrames, collate_clips
from modist.data.sampling import clip_indices, sample_pair_starts
from modist.data.timing import StageTimer
from modist.data.video import VideoReader, read_video
from modist.errors import ConfigError
from modist.flow.sources import DeviceFlow, EstimatedFlow
from modist.runtime import TorchrunEnv
from modist.training.batches import FlowOnDevice, build_input_pipeline, build_loader
from modist.training.sampler import SeededItems

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
real = pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared real videos not present")
FILES = [
    "unlabeled/R6llTwEh07w.mp4",  # Kinetics: keyframes 8.3 s apart
    "unlabeled/SOX5yA1l24A.mp4",
    "unlabeled/WUzgd7C1pWA.mp4",
    "unlabeled/box.mp4",  # B-frames with decode-order times
    "unlabeled/tree.avi",  # variable frame rate
    "unlabeled/asl_gestures/book.mkv",  # Matroska with a start offset
    "labeled/v_SoccerJuggling_g23_c01.avi",  # packed B-frames in AVI
]


def _training_times(reader: VideoReader, rng: np.random.Generator, pairs: int) -> np.ndarray:
    """Frame times of ``pairs`` k400-style samples: 2 views x 8 frames at stride 8, partners at +5."""
    num_frames, fps = reader.frame_grid()
    fps = fps or 30.0
    idx = []
    for _ in range(pairs):
        for start in sample_pair_starts(num_frames, fps, 8, 8, 0.5, 10.0, rng):
            clip = clip_indices(start, 8, 8, num_frames)
            idx += [clip, np.minimum(clip + 5, num_frames - 1)]
    return np.concatenate(idx) / fps


@real
@pytest.mark.parametrize("relative", FILES)
def test_keyframe_runs_match_gap_runs_and_decoding_from_the_start(relative, monkeypatch):
    path = VIDEOS / relative
    full = read_video(path, short_side=32)
    rng = np.random.default_rng(1)
    with VideoReader(path, short_side=32) as reader:
        eps = 0.1 / reader.fps
        samples = [_training_times(reader, rng, pairs) for pairs in (1, 1, 2, 4)]
        new = [reader.frames_at(times) for times in samples]
    # The former path: a new seek whenever the next time is MAX_FORWARD_SEC past the last one.
    monkeypatch.setattr(VideoReader, "keyframe_timestamps", lambda self: np.zeros(0, np.int64))
    with VideoReader(path, short_side=32) as reader:
        old = [reader.frames_at(times) for times in samples]
    for times, got, before in zip(samples, new, old):
        expected = np.maximum(np.searchsorted(full.times, times + eps, side="right") - 1, 0)
        np.testing.assert_array_equal(got.frames, full.frames[expected], err_msg=relative)
        np.testing.assert_array_equal(got.frames, before.frames, err_msg=relative)
        np.testing.assert_allclose(got.times, before.times)


@real
def test_one_decode_run_per_keyframe_and_the_timer_sees_it():
    path = str(VIDEOS / FILES[0])
    with VideoReader(path) as reader:
        keyframes = reader.keyframe_timestamps()
        assert len(keyframes) == 2  # this clip: keyframes at 0 s and 8.3 s
        assert len(reader._groups(np.array([0.5, 3.0, 7.9]))) == 1  # one GOP: one seek, however far apart
        assert len(reader._groups(np.array([0.5, 1.0, 9.0]))) == 2
        reader.timer = StageTimer()
        reader.frames_at([1.0, 2.0])
        assert set(reader.timer.seconds) == {"decode", "convert"}
        assert reader.timer.requests == [(path, [1.0, 2.0])]


def test_clips_per_video_draws_the_single_pair_first_and_repeats_exactly(tiny_synth):
    records = resolve_dataset(f"synth:{tiny_synth}").records[:4]
    source = ClipSource(EstimatedFlow("dis", "ultrafast", 1))
    pairs = dict(clip_frames=4, stride=2, min_clip_gap_sec=0.1, max_clip_gap_sec=1.0)
    one = SeededItems(PairClipDataset(records, source, **pairs), seed=3)
    three = SeededItems(PairClipDataset(records, source, **pairs, clips_per_video=3), seed=3)
    a, b, again = one[(0, 2)], three[(0, 2)], three[(0, 2)]
    assert b["rgb"].shape == (3, *a["rgb"].shape) and b["samples"] == 3
    assert torch.equal(b["rgb"][0], a["rgb"]) and torch.equal(b["flow"][0], a["flow"])
    assert torch.equal(b["rgb"], again["rgb"])  # same item, same seed: same pairs (exact resume)
    batch = collate_clips([b, one[(0, 1)], None])
    assert batch.size == 4 and batch.skipped == 1
    assert batch.rgb.shape[0] == 4 and batch.indices.tolist() == [2, 2, 2, 1]


def test_loader_counts_samples_not_videos_with_clips_per_video(tiny_synth):
    cfg = load_config(None, [f"data.dataset=synth:{tiny_synth}", "train.batch_size=4", "data.clips_per_video=2",
                             "motion.preset=ultrafast"])
    dataset = resolve_dataset(cfg.data.dataset)
    loader = build_loader(cfg, dataset, with_motion=True, env=TorchrunEnv(), device=torch.device("cpu"))
    assert loader.batch_size == 2
    batch = next(iter(loader))
    assert batch.size == 4 and batch.rgb.shape[:2] == (4, 2) and batch.flow.shape[:2] == (4, 2)
    with pytest.raises(ConfigError, match="clips_per_video"):
        load_config(None, ["train.batch_size=4", "data.clips_per_video=3"])


@pytest.mark.parametrize("direction, motion_clip", [("forward", (0, 0)), ("backward", (3, 1))])
def test_flow_on_the_device_equals_flow_in_the_loader(tiny_synth, direction, motion_clip):
    record = resolve_dataset(f"synth:{tiny_synth}").records[0]
    read = ClipSource(PartnerFrames(2, direction), motion_frames=motion_clip[0],
                      motion_stride=motion_clip[1]).read(record, [0, 3], 2, 2)
    rgb, pairs = read.rgb, read.motion
    flow = ClipSource(EstimatedFlow("torch_tvl1", flow_gap=2, flow_direction=direction),
                      motion_frames=motion_clip[0], motion_stride=motion_clip[1]).read(record, [0, 3], 2, 2).motion
    frames = motion_clip[0] or 2
    assert pairs[0].dtype == np.uint8 and pairs[0].shape == (frames, *rgb[0].shape[1:3], 6)
    if motion_clip == (0, 0):  # the motion clip is the RGB clip
        np.testing.assert_array_equal(pairs[0][..., :3], rgb[0])
    pairs = torch.from_numpy(np.stack(pairs))
    on_device = DeviceFlow("torch_tvl1")(pairs[..., :3], pairs[..., 3:], torch.device("cpu"))
    assert on_device.shape == (2, frames, *rgb[0].shape[1:3], 2)
    np.testing.assert_allclose(on_device.numpy(), np.stack(flow).astype(np.float32), atol=2e-2)


def test_flow_device_switch_is_validated_and_wired(tiny_synth):
    with pytest.raises(ConfigError, match="batched estimator"):
        load_config(None, ["motion.flow_device=device"])  # DIS runs per pair on a CPU core
    cfg = load_config(None, [f"data.dataset=synth:{tiny_synth}", "motion.flow_device=device",
                             "motion.estimator=torch_tvl1", "train.batch_size=2"])
    assert isinstance(build_input_pipeline(cfg), FlowOnDevice)
    loader = build_loader(cfg, resolve_dataset(cfg.data.dataset), with_motion=True, env=TorchrunEnv(),
                          device=torch.device("cpu"))
    batch = next(iter(loader))
    assert batch.flow is None  # (frame, partner) pairs, flow comes later
    assert batch.partner_frames.dtype == torch.uint8 and batch.partner_frames.shape[-1] == 6


def test_estimated_flow_defaults_to_dis_medium():
    from modist.config import MotionConfig
    from modist.flow.estimate import estimate

    assert EstimatedFlow().preset == MotionConfig().preset == "medium"
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    np.testing.assert_array_equal(estimate(a, b), estimate(a, b, preset="medium"))
    assert load_config("src/modist/configs/k400_slow_r50_8x8.yaml").motion.preset == "medium"


def test_bench_data_times_the_pretraining_path(tiny_synth):
    from modist.bench.data import DataBenchSettings, run_data_bench

    settings = DataBenchSettings(config="cpu_small", dataset=f"synth:{tiny_synth}", samples=4, batch_size=2)
    result = run_data_bench(settings)
    assert result.samples >= 4 and result.reads >= 2
    assert {"decode", "convert", "flow", "collate", "other", "augment"} <= set(result.ms)
    assert result.floor_ms > 0
    assert result.last_line().startswith("per sample: ") and result.last_line().endswith(" ms CPU)")


def test_bench_data_uses_the_recipes_dataset_or_asks_for_one(tiny_synth, capsys):
    from modist.cli.main import main

    # The shipped recipes name placeholder datasets: one line asking for --dataset.
    assert main(["bench", "data", "--config", "cpu_small"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cpu_small: its data.dataset ucf101:data/UCF101 is not on this machine" in err
    assert "--dataset" in err
    # A recipe whose data.dataset exists (here through an override) is timed without --dataset.
    assert main(["bench", "data", "--config", "cpu_small", f"data.dataset=synth:{tiny_synth}", "--samples", "2",
                 "--batch-size", "2", "--no-floor", "--no-motion"]) == 0
    assert f"videos from synth:{tiny_synth};" in capsys.readouterr().out


def test_nvdec_is_selected_only_where_it_runs_and_says_why_not(monkeypatch):
    from modist.data import backends

    backends.nvdec_error.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        assert backends.resolve_backend("nvdec") == "pyav"
        assert backends.describe_backend("nvdec") == "video decoding: pyav (nvdec unavailable: no CUDA device)"
        cfg = load_config(None, ["data.video_backend=nvdec"])
        assert build_clip_source_backend(cfg) == "nvdec"
        with pytest.raises(ConfigError, match="video_backend"):
            load_config(None, ["data.video_backend=gpu"])
    finally:
        backends.nvdec_error.cache_clear()


def build_clip_source_backend(cfg) -> str:
    from modist.training.batches import build_clip_source

    return build_clip_source(cfg, with_motion=False).backend


@real
def test_a_clip_source_with_an_unavailable_nvdec_reads_with_pyav(monkeypatch):
    from modist.data import backends
    from modist.data.records import VideoRecord

    backends.nvdec_error.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        record = VideoRecord(str(VIDEOS / FILES[0]))
        got = ClipSource(None, short_side=32, backend="nvdec").read(record, [10, 200], 4, 8).rgb
        want = ClipSource(None, short_side=32).read(record, [10, 200], 4, 8).rgb
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    finally:
        backends.nvdec_error.cache_clear()
