"""The synthetic benchmark's manifest.csv (+ synth.json)."""

from __future__ import annotations

import json

import pytest

from modist.data.adapters import load_synth, resolve_dataset
from modist.errors import DataError

MANIFEST = (
    "path,label,label_name,split,background,mask_path\n"
    "videos/train/train_00000.mp4,2,translate_down,train,0,masks/train/train_00000.npz\n"
    "videos/train/train_00001.mp4,0,translate_left,train,1,masks/train/train_00001.npz\n"
    "videos/val/val_00000.mp4,1,translate_right,val,3,masks/val/val_00000.npz\n"
    "videos/test/test_00000.mp4,2,translate_down,test,0,masks/test/test_00000.npz\n"
)


@pytest.fixture
def synth_root(tmp_path):
    (tmp_path / "manifest.csv").write_text(MANIFEST)
    for line in MANIFEST.splitlines()[1:]:
        path = tmp_path / line.split(",")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00")
    return tmp_path


def test_split_rows_and_names_from_synth_json(synth_root):
    names = ["translate_left", "translate_right", "translate_down", "rotate"]
    (synth_root / "synth.json").write_text(json.dumps({"class_names": names, "splits": ["train", "val", "test"]}))
    ds = load_synth(synth_root, "train")
    assert ds.class_names == names
    assert [(r.path, r.label) for r in ds.records] == [
        (str(synth_root / "videos/train/train_00000.mp4"), 2),
        (str(synth_root / "videos/train/train_00001.mp4"), 0),
    ]
    assert resolve_dataset(str(synth_root), split="val").labels == [1]  # detected as synth


def test_names_from_label_name_column_without_synth_json(synth_root):
    ds = load_synth(synth_root, "test")
    assert ds.class_names == ["translate_left", "translate_right", "translate_down"]
    assert ds.labels == [2]


def test_missing_videos_and_bad_split(synth_root):
    (synth_root / "videos/val/val_00000.mp4").unlink()
    ds = load_synth(synth_root, "val")
    assert len(ds) == 0 and ds.missing == [str(synth_root / "videos/val/val_00000.mp4")]
    with pytest.raises(DataError, match="no rows with split 'extra'"):
        load_synth(synth_root, "extra")


def test_missing_column_is_named(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,label\na.mp4,1\n")
    with pytest.raises(DataError, match="manifest.csv: missing column 'label_name'"):
        load_synth(tmp_path)
