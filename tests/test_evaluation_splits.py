"""Evaluation never tests on what it trained on: held-out splits of datasets without splits, refusals."""

import json

import numpy as np
import pytest
import torch

from modist.cli.main import main
from modist.data.adapters import hold_out, load_folder, load_manifest
from modist.data.records import VideoRecord
from modist.data.video import write_video
from modist.errors import ConfigError, DataError
from modist.evaluation.runner import EvalSpec, resolve_splits

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)
FAST = ["--temporal-views", "1", "--batch-size", "8", "--device", "cpu", "--no-progress", "--no-cache"]
# Videos per class: 5 -> 2 held out (1.5 rounds up), 4 -> 1, 2 -> 1 (one on each side), 1 -> training only.
COUNTS = {"clap": 5, "jump": 4, "run": 2, "wave": 1}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    write_video(path, frames, fps=10)
    return path.read_bytes()


def make_folder(root, clip_bytes, counts=COUNTS):
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            (root / name / f"{name}{i}.mp4").write_bytes(clip_bytes)
    return root


@pytest.fixture(scope="module")
def videos(tmp_path_factory, clip_bytes):
    return make_folder(tmp_path_factory.mktemp("my_videos"), clip_bytes)


def test_a_folder_without_splits_is_held_out_per_class_and_disjoint(videos):
    assert load_folder(videos, "test").unsplit and load_folder(videos, "train").unsplit
    splits = resolve_splits(EvalSpec(f"folder:{videos}"))
    train = {r.path for r in splits.train.records}
    test = {r.path for r in splits.tests["test"].records}
    assert not train & test and len(train) + len(test) == sum(COUNTS.values())
    names = splits.train.class_names
    per_class = {names[lab]: (sum(r.label == lab for r in splits.train.records),
                              sum(r.label == lab for r in splits.tests["test"].records)) for lab in range(len(names))}
    assert per_class == {"clap": (3, 2), "jump": (3, 1), "run": (1, 1), "wave": (1, 0)}
    assert splits.held_out["per_class"] == {k: list(v) for k, v in per_class.items()}
    assert splits.held_out["train_only_classes"] == ["wave"]
    assert splits.note == (f"no test split in folder:{videos}: held out 30 % of the videos per class, seed 0 "
                           "(8 train, 4 test videos); 1 class(es) with one video, training only: wave")
    # Another seed draws other videos in the same numbers; the same seed draws the same ones.
    again = resolve_splits(EvalSpec(f"folder:{videos}"))
    assert [r.path for r in again.tests["test"].records] == [r.path for r in splits.tests["test"].records]
    other = resolve_splits(EvalSpec(f"folder:{videos}", split_seed=3, test_fraction=0.5))
    assert [other.held_out["per_class"][c] for c in COUNTS] == [[2, 3], [2, 2], [1, 1], [1, 0]]


def test_eval_all_and_finetune_report_the_held_out_split(videos, ckpt, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["--checkpoint", str(ckpt), "--dataset", f"folder:{videos}", "--out", str(out), *FAST]
    assert main(["eval", "all", *args, "--epochs", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"splits: no test split in folder:{videos}: held out 30 % of the videos per class, seed 0" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["held_out"]["num_test_videos"] == 4 and "held out 30 %" in results["meta"]["split_note"]
    rows = results["results"]
    assert {r["protocol"] for r in rows} == {"linear", "knn", "retrieval"}
    for r in rows:
        assert (r["num_train_videos"], r["num_test_videos"], r["num_videos"]) == (8, 4, 4)
        assert r["num_train_videos"] + r["num_test_videos"] <= sum(COUNTS.values())
    assert "Splits: no test split in folder:" in (out / "results.md").read_text()

    ft = tmp_path / "ft"
    assert main(["eval", "finetune", "--checkpoint", str(ckpt), "--dataset", f"folder:{videos}", "--out", str(ft),
                 "--max-steps", "1", "--train-batch", "4", "--temporal-views", "1", "--device", "cpu",
                 "--no-progress"]) == 0
    assert "splits: no test split" in capsys.readouterr().out
    (row,) = json.loads((ft / "results.json").read_text())["results"]
    assert (row["protocol"], row["num_train_videos"], row["num_test_videos"]) == ("finetune", 8, 4)


def test_datasets_with_splits_are_used_as_they_are(tmp_path, clip_bytes, ckpt, capsys):
    make_folder(tmp_path / "data" / "train", clip_bytes, {"a": 2, "b": 2})
    make_folder(tmp_path / "data" / "test", clip_bytes, {"a": 1, "b": 1})
    out = tmp_path / "eval"
    assert main(["eval", "knn", "--checkpoint", str(ckpt), "--dataset", str(tmp_path / "data"), "--out", str(out),
                 *FAST]) == 0
    assert "splits:" not in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["held_out"] is None and "split_note" not in results["meta"]
    (row,) = results["results"]
    assert (row["num_train_videos"], row["num_test_videos"]) == (4, 2)
    # Split folders without the one asked for: an error naming those there are, not class folders.
    with pytest.raises(DataError, match=r"no 'val' folder \(split folders: test, train\)"):
        load_folder(tmp_path / "data", "val")
    assert len(load_folder(tmp_path / "data", "Testing")) == 2  # another spelling of test


def test_a_test_split_that_is_the_training_split_needs_allowing(videos, ckpt, tmp_path, capsys):
    common = ["eval", "knn", "--checkpoint", str(ckpt), "--dataset", f"folder:{videos}", "--out", str(tmp_path / "e"),
              *FAST]
    assert main([*common, "--test-split", "train"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--test-split train is the --train-split" in err and "--allow-same-split" in err
    assert not (tmp_path / "e").exists()
    with pytest.raises(ConfigError, match="'training' is the training split"):
        resolve_splits(EvalSpec(f"folder:{videos}", test_splits=("training",)))
    assert main([*common, "--test-split", "train", "--allow-same-split"]) == 0
    assert "splits: test split 'train' is the training split" in capsys.readouterr().out
    (row,) = json.loads((tmp_path / "e" / "results.json").read_text())["results"]
    assert row["num_train_videos"] == row["num_test_videos"] == sum(COUNTS.values())


@pytest.mark.parametrize("protocol", ["linear", "knn", "finetune"])
def test_an_unlabelled_folder_is_refused_with_the_way_out(tmp_path, clip_bytes, ckpt, capsys, protocol):
    for name in ("a.mp4", "b.mp4", "sub/c.mp4"):
        (tmp_path / "v" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "v" / name).write_bytes(clip_bytes)
    code = main(["eval", protocol, "--checkpoint", str(ckpt), "--dataset", f"folder:{tmp_path / 'v'}",
                 "--out", str(tmp_path / "e"), "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "no class sub-folders" in err and f"{tmp_path / 'v' / '<class>'}/" in err


def test_a_manifest_without_a_split_column_is_held_out_by_video_file(tmp_path, clip_bytes):
    for name in ("a", "b", "c", "d"):
        (tmp_path / f"{name}.mp4").write_bytes(clip_bytes)
    # Two segments of each file: they must stay on the same side.
    rows = [f"{n}.mp4,{lab},{s},{s + 1}" for n, lab in zip("abcd", ("x", "x", "y", "y")) for s in (0, 1)]
    (tmp_path / "list.csv").write_text("path,label,start_sec,end_sec\n" + "\n".join(rows) + "\n")
    assert load_manifest(tmp_path / "list.csv", "test").unsplit
    splits = resolve_splits(EvalSpec(str(tmp_path / "list.csv")))
    train = {r.path for r in splits.train.records}
    test = {r.path for r in splits.tests["test"].records}
    assert len(train) == len(test) == 2 and not train & test
    assert len(splits.train.records) == len(splits.tests["test"].records) == 4
    (tmp_path / "split.csv").write_text("path,label,split\na.mp4,x,train\nb.mp4,x,test\n")
    assert not load_manifest(tmp_path / "split.csv", "test").unsplit


def test_hold_out_edge_cases(tmp_path, clip_bytes):
    make_folder(tmp_path / "singles", clip_bytes, {"a": 1, "b": 1})
    with pytest.raises(DataError, match="no class has two videos"):
        resolve_splits(EvalSpec(str(tmp_path / "singles")))
    with pytest.raises(ConfigError, match="test_fraction"):
        hold_out([VideoRecord("a.mp4", 0)], fraction=1.0)
    with pytest.raises(DataError, match="b.mp4: no label"):
        hold_out([VideoRecord("a.mp4", 0), VideoRecord("b.mp4")])
    only_singles = hold_out([VideoRecord("a.mp4", 0), VideoRecord("b.mp4", 1)])
    assert only_singles.test == [] and only_singles.train_only == [0, 1]
