"""Kinetics annotation CSVs with trimmed clips, flat folders and untrimmed downloads."""

from __future__ import annotations

import pytest

from modist.data.adapters import load_kinetics, resolve_dataset
from modist.errors import DataError

TRAIN = (
    "label,youtube_id,time_start,time_end,split,is_cc\n"
    "abseiling,--07WQ2iBlw,1,11,train,0\n"
    '"air drumming",-1A7r3LlBrs,33,43,train,0\n'
    "zumba,ZZ9xq-3ulIA,150,160,train,0\n"
    "abseiling,gone_video1,0,10,train,0\n"
)
VAL = "label,youtube_id,time_start,time_end,split\nzumba,VaL-idd0001,7,17,val\n\"air drumming\",FullVideo01,20,30,val\n"
TEST = "youtube_id,time_start,time_end,split\nTeSt-id0001,0,10,test\n"


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")


@pytest.fixture
def k400(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "train.csv").write_text(TRAIN)
    (tmp_path / "annotations" / "validate.csv").write_text(VAL)
    (tmp_path / "annotations" / "test.csv").write_text(TEST)
    touch(tmp_path / "train" / "abseiling" / "--07WQ2iBlw_000001_000011.mp4")  # split/label/ layout
    touch(tmp_path / "train" / "air_drumming" / "-1A7r3LlBrs_000033_000043.mp4")
    touch(tmp_path / "train" / "zumba" / "ZZ9xq-3ulIA_000150_000160.mp4")
    touch(tmp_path / "val" / "VaL-idd0001_000007_000017.mp4")  # flat layout
    touch(tmp_path / "raw" / "FullVideo01.mp4")  # untrimmed download
    touch(tmp_path / "test" / "TeSt-id0001_000000_000010.mkv")
    return tmp_path


def test_train_split_labels_and_missing(k400):
    ds = load_kinetics(k400, "train")
    assert ds.class_names == ["abseiling", "air drumming", "zumba"]
    assert [(r.path.rsplit("/", 1)[1], r.label) for r in ds.records] == [
        ("--07WQ2iBlw_000001_000011.mp4", 0),
        ("-1A7r3LlBrs_000033_000043.mp4", 1),
        ("ZZ9xq-3ulIA_000150_000160.mp4", 2),
    ]
    assert ds.missing == ["gone_video1_000000_000010.mp4"]
    assert all(r.start_sec is None for r in ds.records)


def test_val_alias_flat_files_and_untrimmed_segments(k400):
    ds = resolve_dataset(f"kinetics:{k400}", split="val")
    assert ds.class_names == ["abseiling", "air drumming", "zumba"]  # indices from train.csv
    flat, full = ds.records
    assert (flat.path, flat.label, flat.start_sec) == (str(k400 / "val" / "VaL-idd0001_000007_000017.mp4"), 2, None)
    assert (full.path, full.label) == (str(k400 / "raw" / "FullVideo01.mp4"), 1)
    assert (full.start_sec, full.end_sec) == (20.0, 30.0)


def test_test_csv_without_labels(k400):
    ds = load_kinetics(k400, "test")
    assert ds.labels == [None] and ds.records[0].path.endswith(".mkv")


def test_csv_given_directly_and_errors(k400, tmp_path):
    assert len(load_kinetics(k400 / "annotations" / "train.csv")) == 3
    with pytest.raises(DataError, match="holdout.csv: Kinetics holdout annotations not found"):
        load_kinetics(k400, "holdout")
    (k400 / "annotations" / "validate.csv").write_text("label,youtube_id,time_start,time_end\nzumba,x,a,b\n")
    with pytest.raises(DataError, match="validate.csv: line 2: time_start/time_end must be numbers"):
        load_kinetics(k400, "val")
    (k400 / "annotations" / "validate.csv").write_text("label,youtube_id,time_start,time_end\nnew class,x,1,2\n")
    with pytest.raises(DataError, match="label 'new class' is not a class of train.csv"):
        load_kinetics(k400, "val")
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="other/train.csv: Kinetics train annotations not found"):
        load_kinetics(tmp_path / "other", "train")
