"""Writing the synthetic benchmark: layout, manifest, determinism, caching, atomicity, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import modist.data.video as video_module
from modist.cli import main as cli_main
from modist.data.adapters import resolve_dataset
from modist.data.video import read_video
from modist.errors import ConfigError, DataError, ModistError
from modist.synth import CLASS_NAMES, MANIFEST_COLUMNS, SPLITS, SynthConfig, generate, read_manifest, read_masks
from modist.synth.preview import save_class_grid
from modist.synth.scene import render_video
from modist.synth.videos import choose_background, video_rng

TINY = SynthConfig(size=48, num_frames=16, train_per_class=2, test_per_class=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return generate(out, TINY, seed=3, progress=False, workers=1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def test_layout_and_manifest_columns(tiny):
    root = tiny.parent
    with open(tiny, newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == MANIFEST_COLUMNS == ("path", "label", "label_name", "split", "background", "mask_path")
    rows = read_manifest(tiny)
    counts = {split: sum(r.split == split for r in rows) for split in SPLITS}
    assert counts == {"train": 20, "test_biased": 10, "test_unbiased": 10, "train_unbiased": 0}
    for row in rows:
        assert row.path.is_file() and row.mask_path.is_file()
        assert row.label_name == CLASS_NAMES[row.label]
        assert 0 <= row.background < len(CLASS_NAMES)
    first = rows[0]
    assert first.path == root / "videos" / "train" / "train_00000.mp4"
    assert first.mask_path == root / "masks" / "train" / "train_00000.npz"
    text = tiny.read_text()
    assert "videos/train/train_00000.mp4" in text and str(root) not in text  # relative paths
    info = json.loads((root / "synth.json").read_text())
    assert info["seed"] == 3 and info["config"]["size"] == 48 and info["class_names"] == list(CLASS_NAMES)
    assert info["counts"] == counts
    for split in ("train", "test_biased", "test_unbiased"):  # every class in every split
        per_class = 2 if split == "train" else 1
        assert sorted(r.label for r in rows if r.split == split) == sorted(list(range(10)) * per_class)


def test_decoded_video_matches_rendering_and_masks_are_saved(tiny):
    rows = read_manifest(tiny)
    for row in (rows[0], rows[13], rows[-1]):
        index = int(row.path.stem.split("_")[-1])
        rng = video_rng(3, row.split, index)
        assert choose_background(TINY, row.split, row.label, rng) == row.background
        frames, masks = render_video(TINY, row.label, row.background, rng)
        decoded = read_video(row.path)
        assert decoded.frames.shape == frames.shape and decoded.fps == pytest.approx(16)
        assert psnr(decoded.frames, frames) > 30
        saved = read_masks(row.mask_path)
        assert saved.dtype == bool
        np.testing.assert_array_equal(saved, masks)


def test_same_seed_same_dataset_and_parallel_equals_serial(tiny, tmp_path):
    again = generate(tmp_path / "again", TINY, seed=3, progress=False, workers=2)
    assert again.read_text() == tiny.read_text()
    for a, b in zip(read_manifest(tiny), read_manifest(again)):
        np.testing.assert_array_equal(read_masks(a.mask_path), read_masks(b.mask_path))
    for a, b in zip(read_manifest(tiny), read_manifest(again)):
        assert a.path.read_bytes() == b.path.read_bytes(), a.path.name


def test_repeated_encodes_of_one_video_are_byte_identical(tmp_path):
    # With x264's macroblock-tree rate control on, 3 of 4 encodes in a row of this very
    # video gave different files (and 97 of 640 videos of two generations differed).
    cfg = SynthConfig()
    rng = video_rng(0, "test_biased", 0)
    frames, _ = render_video(cfg, 0, choose_background(cfg, "test_biased", 0, rng), rng)
    files = []
    for i in range(4):
        video_module.write_video(tmp_path / f"{i}.mp4", frames, fps=cfg.fps, crf=cfg.crf)
        files.append((tmp_path / f"{i}.mp4").read_bytes())
    assert all(f == files[0] for f in files)


def test_different_seed_different_dataset(tiny, tmp_path):
    other = generate(tmp_path / "other", TINY, seed=4, progress=False, workers=1)
    a, b = read_manifest(tiny), read_manifest(other)
    assert [r.label for r in a] == [r.label for r in b]  # the class layout is fixed
    assert not all(np.array_equal(read_masks(x.mask_path), read_masks(y.mask_path)) for x, y in zip(a, b))


def test_complete_dataset_is_reused(tiny, capsys):
    video = read_manifest(tiny)[0].path
    stamp = video.stat().st_mtime_ns
    assert generate(tiny.parent, TINY, seed=3, progress=True) == tiny
    assert "already generated" in capsys.readouterr().out
    assert video.stat().st_mtime_ns == stamp


def test_changed_config_regenerates_and_removes_stale_files(tmp_path):
    cfg = SynthConfig(size=32, num_frames=4, train_per_class=2, test_per_class=1, num_distractors=0)
    generate(tmp_path, cfg, seed=0, progress=False, workers=1)
    assert (tmp_path / "videos" / "train" / "train_00019.mp4").exists()
    smaller = SynthConfig(size=32, num_frames=4, train_per_class=1, test_per_class=1, num_distractors=0)
    rows = read_manifest(generate(tmp_path, smaller, seed=0, progress=False, workers=1))
    assert len(rows) == 30
    names = sorted(p.name for p in (tmp_path / "videos" / "train").iterdir())
    assert names == [f"train_{i:05d}.mp4" for i in range(10)]
    assert len(list((tmp_path / "masks" / "train").iterdir())) == 10
    assert json.loads((tmp_path / "synth.json").read_text())["config"]["train_per_class"] == 1


def test_failure_midway_leaves_no_manifest(tmp_path, monkeypatch):
    cfg = SynthConfig(size=32, num_frames=4, train_per_class=1, test_per_class=1, num_distractors=0)
    generate(tmp_path, cfg, seed=0, progress=False, workers=1)  # a complete older dataset
    real_write = video_module.write_video
    calls = []

    def failing_write(path, frames, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_write(path, frames, **kwargs)

    monkeypatch.setattr(video_module, "write_video", failing_write)
    with pytest.raises(ModistError, match=r"train_00002\.mp4: cannot write \(disk full\)"):
        generate(tmp_path, cfg, seed=1, progress=False, workers=1)
    assert not (tmp_path / "manifest.csv").exists()
    assert not (tmp_path / "synth.json").exists()
    leftovers = [p.name for p in (tmp_path / "videos" / "train").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no half-written temporary video


def test_worker_failure_is_one_line_and_leaves_no_manifest(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "test_unbiased").write_text("a file where a folder belongs")
    cfg = SynthConfig(size=32, num_frames=4, train_per_class=2, test_per_class=1, num_distractors=0)
    with pytest.raises(ModistError, match=r"synth worker failed: .*test_unbiased_\d+\.mp4: cannot write") as info:
        generate(tmp_path, cfg, seed=0, progress=False, workers=2)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "manifest.csv").exists()


def test_scene_bias_one_ties_background_to_class(tmp_path):
    cfg = SynthConfig(size=32, num_frames=2, train_per_class=3, test_per_class=3, scene_bias=1.0, num_distractors=0)
    rows = read_manifest(generate(tmp_path, cfg, seed=0, progress=False, workers=1))
    for row in rows:
        if row.split in ("train", "test_biased"):
            assert row.background == row.label
    unbiased = [r for r in rows if r.split == "test_unbiased"]
    assert sum(r.background == r.label for r in unbiased) < len(unbiased) / 2


@pytest.mark.parametrize("bias", [0.0, 0.5, 0.9])
def test_background_agreement_rates(bias):
    cfg = SynthConfig(scene_bias=bias)
    n, classes = 4000, len(CLASS_NAMES)
    for split, expected in [("train", bias + (1 - bias) / classes), ("test_unbiased", 1 / classes)]:
        agree = sum(
            choose_background(cfg, split, i % classes, video_rng(0, split, i)) == i % classes for i in range(n)
        )
        assert agree / n == pytest.approx(expected, abs=0.025)


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.csv"):
        read_manifest(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,split\nv.mp4,0,train\n")
    with pytest.raises(DataError, match=r"bad\.csv.*label_name"):
        read_manifest(bad)
    worse = tmp_path / "worse.csv"
    worse.write_text(",".join(MANIFEST_COLUMNS) + "\nv.mp4,zero,x,train,0,m.npz\n")
    with pytest.raises(DataError, match=r"worse\.csv: line 2"):
        read_manifest(worse)
    with pytest.raises(DataError, match="nomask.npz"):
        read_masks(tmp_path / "nomask.npz")


def test_bad_seed_or_out_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        generate(tmp_path, TINY, seed=-1, progress=False)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="afile"):
        generate(tmp_path / "afile", TINY, progress=False)


def test_cli_generates_and_rejects_bad_counts(tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main.main(["synth", "--out", str(out), "--size", "32", "--num-frames", "4",
                          "--train-per-class", "1", "--test-per-class", "0", "--no-pan", "--distractors", "0",
                          "--camouflage"])
    assert code == 0
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == 10 and {r.split for r in rows} == {"train"}
    recorded = json.loads((out / "synth.json").read_text())["config"]
    assert recorded["camera_pan_prob"] == 0.0 and recorded["camouflage"] is True
    assert "10 videos" in capsys.readouterr().out

    code = cli_main.main(["synth", "--out", str(tmp_path / "neg"), "--train-per-class", "-2"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and err.startswith("modist: error:") and "train_per_class" in err
    assert not (tmp_path / "neg").exists()


def test_like_draws_new_videos_of_the_same_design(tmp_path, capsys):
    first = tmp_path / "a"
    assert cli_main.main(["synth", "--out", str(first), "--size", "32", "--num-frames", "4", "--train-per-class", "1",
                          "--test-per-class", "0", "--distractors", "0", "--actor-scale", "1.5",
                          "--scene-bias", "0.5"]) == 0
    second = tmp_path / "b"
    assert cli_main.main(["synth", "--like", str(first), "--seed", "7", "--out", str(second)]) == 0
    a, b = (json.loads((d / "synth.json").read_text()) for d in (first, second))
    assert b["config"] == a["config"] and b["config"]["actor_scale"] == 1.5 and b["seed"] == 7
    video = "videos/train/train_00000.mp4"
    assert (first / video).read_bytes() != (second / video).read_bytes()
    # Options given beside --like still apply.
    third = tmp_path / "c"
    assert cli_main.main(["synth", "--like", str(first), "--train-per-class", "2", "--out", str(third)]) == 0
    assert json.loads((third / "synth.json").read_text())["config"]["train_per_class"] == 2
    capsys.readouterr()
    assert cli_main.main(["synth", "--like", str(tmp_path / "nothing"), "--out", str(tmp_path / "d")]) == 2
    assert "nothing" in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_train_unbiased_split_ignores_the_scene_bias(tmp_path):
    cfg = SynthConfig(size=32, num_frames=4, train_per_class=3, test_per_class=0, train_unbiased_per_class=3,
                      scene_bias=1.0, num_distractors=0)
    rows = read_manifest(generate(tmp_path, cfg, seed=0, progress=False))
    train = [r for r in rows if r.split == "train"]
    unbiased = [r for r in rows if r.split == "train_unbiased"]
    assert len(unbiased) == 30 and all(r.background == r.label for r in train)
    # Uniform backgrounds: 30 videos would all match their class by chance with probability 0.1**30.
    assert sum(r.background == r.label for r in unbiased) < 10
    first = resolve_dataset(f"synth:{tmp_path}", split="train_unbiased").records[0]
    assert first.path.endswith("train_unbiased_00000.mp4")


def test_actor_scale_draws_a_larger_actor_of_the_same_video():
    from modist.synth import render_video, video_rng

    small = render_video(SynthConfig(num_frames=2, num_distractors=0), 0, 0, video_rng(0, "train", 0))[1]
    large = render_video(SynthConfig(num_frames=2, num_distractors=0, actor_scale=1.5), 0, 0,
                         video_rng(0, "train", 0))[1]
    ratio = large[0].sum() / small[0].sum()
    assert 1.5**2 * 0.85 < ratio < 1.5**2 * 1.15  # area grows with the square of the size


def test_class_grid_has_one_row_per_class(tiny, tmp_path):
    import cv2

    png = save_class_grid(tiny, tmp_path / "grid.png", frames_per_class=4)
    image = cv2.imread(str(png))
    assert image.shape[0] == len(CLASS_NAMES) * (48 + 4)
    assert image.shape[1] == 100 + 4 * (48 + 4)
    with pytest.raises(DataError, match="no videos"):
        save_class_grid(tiny, tmp_path / "none.png", split="validation")
