"""HMDB51 official split files: <class>_test_split<N>.txt with 1 = train, 2 = test, 0 = unused."""

from __future__ import annotations

import pytest

from modist.data.adapters import load_hmdb51, resolve_dataset
from modist.errors import DataError


@pytest.fixture
def hmdb(tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "wave_test_split1.txt").write_text("w_a.avi 1 \nw_b.avi 2 \nw_c.avi 0 \n")
    (splits / "brush_hair_test_split1.txt").write_text("b_a.avi 2 \nb_b.avi 1 \n")
    (splits / "wave_test_split2.txt").write_text("w_a.avi 2 \nw_b.avi 1 \nw_c.avi 1 \n")
    (splits / "brush_hair_test_split2.txt").write_text("b_a.avi 1 \nb_b.avi 0 \n")
    for rel in ("wave/w_a.avi", "wave/w_b.avi", "wave/w_c.avi", "brush_hair/b_a.avi", "brush_hair/b_b.avi"):
        path = tmp_path / "hmdb51_org" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00")
    return tmp_path


def names(ds):
    return [(r.path.rsplit("/", 1)[1], r.label) for r in ds.records]


def test_split_ids_select_train_and_test(hmdb):
    train = load_hmdb51(hmdb, "train", 1)
    assert train.class_names == ["brush_hair", "wave"]
    assert names(train) == [("b_b.avi", 0), ("w_a.avi", 1)]
    assert names(load_hmdb51(hmdb, "test", 1)) == [("b_a.avi", 0), ("w_b.avi", 1)]


def test_fold_two_and_detection(hmdb):
    ds = resolve_dataset(str(hmdb), split="train", fold=2)
    assert names(ds) == [("b_a.avi", 0), ("w_b.avi", 1), ("w_c.avi", 1)]


def test_missing_videos_and_errors(hmdb, tmp_path):
    (hmdb / "hmdb51_org" / "wave" / "w_b.avi").unlink()
    assert load_hmdb51(hmdb, "test", 1).missing == ["wave/w_b.avi"]
    with pytest.raises(DataError, match="fold must be 1, 2 or 3"):
        load_hmdb51(hmdb, "train", 0)
    with pytest.raises(DataError, match="no HMDB51 split files \\*_test_split3.txt"):
        load_hmdb51(hmdb, "train", 3)
    (hmdb / "testTrainMulti_7030_splits" / "wave_test_split2.txt").write_text("w_a.avi train\n")
    with pytest.raises(DataError, match="wave_test_split2.txt: line 1: expected"):
        load_hmdb51(hmdb, "train", 2)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="HMDB51 split files"):
        load_hmdb51(tmp_path / "nothing")
