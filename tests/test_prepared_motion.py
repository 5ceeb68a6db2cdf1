"""``modist prepare --config``: the recipe's encoded motion input, computed once, read by the loader."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from modist.cli.main import main
from modist.config import load_config
from modist.data.clips import ClipBatch, ClipSource, MultiClipDataset, PairClipDataset, collate_clips
from modist.data.prepare import prepare_records
from modist.data.prepared import GrayVideoWriter, PreparedMotion, motion_path
from modist.data.records import VideoRecord
from modist.data.sampling import clip_indices, flow_partners
from modist.data.video import VideoReader, read_video, write_video
from modist.errors import ConfigError
from modist.flow.encodings import encode_motion, flow_edges_uint8
from modist.flow.estimate import estimate_batch
from modist.flow.motion_input import MotionInputWriter, for_recipe
from modist.flow.sources import EstimatedFlow
from modist.training.batches import build_clip_source, build_input_pipeline, resolve_motion_source

FRAMES, HEIGHT, WIDTH = 24, 48, 64
RECIPE = ["motion.source=auto", "motion.estimator=dis", "motion.preset=ultrafast", "motion.flow_gap=2",
          "motion.flow_direction=backward", "motion.clip_frames=6", "motion.stride=2", "data.clip_frames=4",
          "data.stride=2", "data.short_side=48", "data.crop_size=32"]


def _moving_video(path: Path, seed: int = 0) -> None:
    """A textured background panning 1 px a frame and a textured square moving 3 px a frame."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 255, (HEIGHT + 20, WIDTH + FRAMES + 20, 3), dtype=np.uint8)
    square = np.kron(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8), np.ones((4, 4, 1), np.uint8))
    frames = []
    for t in range(FRAMES):
        frame = background[10:10 + HEIGHT, t:t + WIDTH].copy()
        y, x = 10 + t % 5, 2 + 3 * t % (WIDTH - 22)
        frame[y:y + 20, x:x + 20] = square
        frames.append(frame)
    write_video(path, np.stack(frames), fps=10)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("raw")
    paths = [folder / f"v{i}.mp4" for i in range(3)]
    for i, path in enumerate(paths):
        _moving_video(path, seed=i)
    return paths


def _prepare(raw: list[Path], out: Path, *overrides: str, motion_crf: int = 0):
    cfg = load_config(None, [*RECIPE, *overrides])
    rgb, motion = for_recipe(cfg, motion_crf=motion_crf)
    return prepare_records([VideoRecord(str(p)) for p in raw], out, rgb, class_names=[], motion=motion)


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    assert _prepare(raw, out).done == 3
    return out


def _stored(out: Path, index: int) -> np.ndarray:
    """uint8 [N, H, W] motion input of the copy's video ``index``, every frame."""
    name = sorted((out / "videos").iterdir())[index].name
    with VideoReader(out / "motion" / name, luma=True) as reader:
        return reader.frames(np.arange(FRAMES)).frames[..., 0]


def test_lossless_motion_input_is_the_flow_edges_of_each_frame_and_its_partner(raw, prepared):
    frames = read_video(raw[0]).frames
    partners = flow_partners(np.arange(FRAMES), 2, "backward", FRAMES)
    assert partners[:4].tolist() == [0, 0, 0, 1]  # t - 2, clamped to frame 0
    flow = estimate_batch(frames, frames[partners], "dis", preset="ultrafast")
    np.testing.assert_array_equal(_stored(prepared, 0), flow_edges_uint8(flow))  # crf 0: bit-exact
    edges = encode_motion(torch.from_numpy(flow).permute(0, 3, 1, 2), "flow_edges")[:, 0].numpy()
    stored = _stored(prepared, 0) / 255.0
    assert 0 <= (edges - stored).min() and (edges - stored).max() < 1 / 255  # truncated as the authors stored it
    assert stored.max() > 0.05 and (stored > 0).mean() > 0.01  # the square's moving border: not a blank input


def test_the_loader_reads_what_on_the_fly_flow_gives(raw, prepared):
    """The loader's motion clips of the copy against the on-the-fly path's on the raw video, same starts."""
    cfg = load_config(None, [*RECIPE, f"data.dataset={prepared}"])
    source = build_clip_source(cfg, with_motion=True)
    assert isinstance(source.flow, PreparedMotion)
    copy = MultiClipDataset([VideoRecord(str(sorted((prepared / "videos").iterdir())[0]))], source, 4, 2, num_clips=3)
    fly = MultiClipDataset([VideoRecord(str(raw[0]))], ClipSource(EstimatedFlow("dis", "ultrafast", 2, "backward"),
                           short_side=48, motion_frames=6, motion_stride=2), 4, 2, num_clips=3)
    item, reference = copy[0], fly[0]
    assert "flow" not in item and item["motion"].dtype == torch.uint8
    assert tuple(item["motion"].shape) == (3, 6, HEIGHT, WIDTH, 1)  # 3 clips of the motion clip's 6 frames
    expected = flow_edges_uint8(reference["flow"].numpy().astype(np.float32))
    # The loader's on-the-fly flow is float16: its edges may differ from the stored float32 ones by one level.
    assert np.abs(item["motion"][..., 0].numpy().astype(int) - expected.astype(int)).max() <= 1
    starts = [int(s) for s in np.linspace(0, FRAMES - 11, 3).round()]  # uniform starts leave room for 11 frames
    picked = np.stack([_stored(prepared, 0)[clip_indices(s, 6, 2, FRAMES)] for s in starts])
    np.testing.assert_array_equal(item["motion"][..., 0].numpy(), picked)


def test_batches_carry_motion_that_the_device_pipeline_crops_without_encoding(prepared):
    cfg = load_config(None, [*RECIPE, f"data.dataset={prepared}"])
    records = [VideoRecord(str(p)) for p in sorted((prepared / "videos").iterdir())]
    dataset = PairClipDataset(records, build_clip_source(cfg, with_motion=True), clip_frames=4, stride=2,
                              min_clip_gap_sec=0.1, max_clip_gap_sec=1.0)
    batch = collate_clips([dataset[i] for i in range(3)])
    assert tuple(batch.motion.shape) == (3, 2, 6, HEIGHT, WIDTH, 1) and batch.flow is None
    torch.manual_seed(0)
    rgb, motion = build_input_pipeline(cfg)(batch, torch.device("cpu"), with_motion=True)
    assert tuple(rgb.shape) == (2, 3, 3, 4, 32, 32) and tuple(motion.shape) == (2, 3, 1, 6, 32, 32)
    assert 0.0 <= float(motion.min()) and float(motion.max()) <= 1.0


def test_cropping_stored_edges_matches_cropping_the_flow_then_encoding(raw, prepared):
    """The same boxes on the stored edges and on the flow: the edges are not rescaled with the crop's resize.

    Flow edges are a slope of the flow magnitude, unchanged by a resize to first order; the two
    orders differ by resampling (most at motion boundaries, which are steps, not slopes).
    """
    cfg = load_config(None, RECIPE)
    frames = read_video(raw[1]).frames
    flow = estimate_batch(frames, frames[flow_partners(np.arange(FRAMES), 2, "backward", FRAMES)], "dis",
                          preset="ultrafast")
    rgb = torch.from_numpy(frames)[None, None]
    pipeline = build_input_pipeline(cfg)
    torch.manual_seed(3)
    _, on_the_fly = pipeline(ClipBatch(rgb=rgb, flow=torch.from_numpy(flow)[None, None]), torch.device("cpu"), True)
    torch.manual_seed(3)
    motion = torch.from_numpy(_stored(prepared, 1))[None, None, ..., None]
    _, from_copy = pipeline(ClipBatch(rgb=rgb, motion=motion), torch.device("cpu"), True)
    on_the_fly, from_copy = torch.floor(on_the_fly * 255), from_copy * 255  # in levels, both truncated
    signal = float(on_the_fly.mean())
    assert signal > 1.0  # levels of 255: there is motion to compare
    assert abs(float(from_copy.mean()) - signal) < 0.15 * signal  # no scale between the two (a crop resizes ~1.5x)
    assert float((on_the_fly - from_copy).abs().mean()) < 0.4 * signal


def test_lossy_storage_stays_within_its_stated_error(raw, prepared, tmp_path):
    lossy = _prepare(raw[:1], tmp_path / "crf18", motion_crf=18)
    assert lossy.motion_bytes < (prepared / "motion" / sorted((prepared / "motion").iterdir())[0].name).stat().st_size
    diff = np.abs(_stored(tmp_path / "crf18", 0).astype(int) - _stored(prepared, 0).astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 5  # docs/data.md: about 0.6 and 5 on Kinetics


def test_a_rerun_keeps_finished_videos_and_redoes_a_half_done_one(raw, tmp_path, monkeypatch):
    out = tmp_path / "p"
    assert _prepare(raw, out).done == 3
    again = _prepare(raw, out)
    assert (again.done, again.kept) == (0, 3)
    name = sorted((out / "motion").iterdir())[1].name
    (out / "motion" / name).unlink()  # killed between the two renames: the motion input is missing
    stale = out / "motion" / f".{Path(name).stem}.x1y2z3.tmp.mp4"  # and its temporary file left by a kill -9
    stale.write_bytes(b"half a video")
    third = _prepare(raw, out)
    assert (third.done, third.kept) == (1, 2) and (out / "motion" / name).is_file() and not stale.exists()

    calls = []
    add = MotionInputWriter.add

    def interrupted(self, image):
        calls.append(1)
        if len(calls) == 30:  # a few frames into the second video
            raise KeyboardInterrupt
        add(self, image)

    monkeypatch.setattr(MotionInputWriter, "add", interrupted)
    fresh = tmp_path / "q"
    with pytest.raises(KeyboardInterrupt):
        _prepare(raw, fresh)
    videos, motion = sorted(p.name for p in (fresh / "videos").iterdir()), list((fresh / "motion").iterdir())
    assert len(videos) == 1 and [p.name for p in motion] == videos  # only the first video, both of its files
    monkeypatch.setattr(MotionInputWriter, "add", add)
    resumed = _prepare(raw, fresh)
    assert (resumed.done, resumed.kept) == (2, 1)


def test_a_killed_writer_leaves_no_file_under_the_final_name(tmp_path):
    from fractions import Fraction

    target = tmp_path / "m.mp4"
    writer = GrayVideoWriter(target, Fraction(10), 16, 16, crf=0)
    writer.add(np.zeros((3, 16, 16), np.uint8))
    assert not target.exists()  # until close, only a hidden temporary file
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override, key", [
    ("motion.flow_gap=3", "motion.flow_gap"), ("motion.flow_direction=forward", "motion.flow_direction"),
    ("motion.estimator=farneback", "motion.estimator"), ("motion.preset=fast", "motion.preset"),
    ("motion.encoding=magnitude", "motion.encoding"), ("motion.edge_max=20", "motion.edge_max"),
    ("data.short_side=64", "data.short_side"),
])
def test_a_copy_prepared_for_other_settings_is_refused_in_one_line(prepared, override, key):
    cfg = load_config(None, [*RECIPE, f"data.dataset={prepared}", override])
    with pytest.raises(ConfigError) as error:
        resolve_motion_source(cfg)
    message = str(error.value)
    assert "\n" not in message and key in message and str(prepared) in message
    assert message.count("recipe") == 2  # this key alone, both values named: "(recorded, recipe wanted)"


def test_the_source_is_chosen_by_the_dataset(raw, prepared, caplog):
    cfg = load_config(None, [*RECIPE, f"data.dataset={prepared}"])
    assert resolve_motion_source(cfg) == ("prepared", prepared)
    assert resolve_motion_source(load_config(None, [*RECIPE, f"data.dataset={prepared}", "data.short_side=0"]))[0] \
        == "prepared"  # short side 0 takes the copy's frames as they are
    raw_cfg = load_config(None, [*RECIPE, f"data.dataset={raw[0].parent}"])
    with caplog.at_level(logging.WARNING, logger="modist"):
        source = build_clip_source(raw_cfg, with_motion=True)
    assert isinstance(source.flow, EstimatedFlow)
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "12 dis:ultrafast flow pairs per sample" in notes[0] and "modist prepare" in notes[0]
    with pytest.raises(ConfigError, match="not a copy with prepared motion input"):
        resolve_motion_source(load_config(None, [*RECIPE, f"data.dataset={raw[0].parent}", "motion.source=prepared"]))


def test_encodings_that_a_crop_would_change_cannot_be_prepared(raw, tmp_path):
    with pytest.raises(ConfigError, match="motion.encoding=dxdy cannot be prepared"):
        _prepare(raw[:1], tmp_path / "p", "motion.encoding=dxdy")


def test_prepare_command_then_two_training_steps(tiny_synth, tmp_path, capsys):
    from tests.conftest import tiny_overrides

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("data:\n  clip_frames: 4\n  stride: 2\n  short_side: 48\nmotion:\n  source: auto\n"
                      "  preset: ultrafast\n  flow_gap: 2\n  flow_direction: backward\n  clip_frames: 6\n  stride: 2\n")
    out = tmp_path / "copy"
    assert main(["prepare", f"synth:{tiny_synth}", "--out", str(out), "--config", str(recipe), "--num-shards", "4",
                 "--shard", "0"]) == 0
    printed = capsys.readouterr().out
    assert "prepared 10 videos" in printed and "GB" in printed and "CPU s per video-second" in printed
    assert json.loads((out / "prepared.json").read_text())["motion"]["flow_gap"] == 2
    assert len(list((out / "motion").iterdir())) == 10
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(tiny_synth, run, steps=2) if not o.startswith("data.dataset")]
    assert main(["pretrain", "--config", str(recipe), f"data.dataset={out}", *overrides]) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m][-1] == 2
    assert main(["prepare", f"synth:{tiny_synth}", "--out", str(tmp_path / "bad"), "--config", str(recipe),
                 "--short-side", "32"]) == 2  # the motion input must be at the size the recipe trains at


def test_motion_files_sit_beside_their_videos(prepared):
    video = sorted((prepared / "videos").iterdir())[2]
    assert motion_path(prepared, video) == prepared / "motion" / video.name and motion_path(prepared, video).is_file()
