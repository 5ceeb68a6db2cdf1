"""CSV / JSONL manifests: labels as indices or names, relative paths, segments, splits."""

from __future__ import annotations

import json

import pytest

from modist.data.adapters import load_manifest
from modist.errors import DataError


def videos(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00")  # adapters only list files; decoding is tested elsewhere


def test_csv_with_class_names_relative_paths_and_segments(tmp_path):
    videos(tmp_path, "clips/a.mp4", "clips/b.mp4", "c.mp4")
    (tmp_path / "list.csv").write_text(
        "path,label,start_sec,end_sec\n"
        "clips/a.mp4,walk,0,4.5\n"
        f"{tmp_path / 'c.mp4'},jump,,\n"
        "clips/b.mp4,walk,1.5,\n"
    )
    ds = load_manifest(tmp_path / "list.csv")
    assert ds.class_names == ["jump", "walk"]
    assert [(r.path, r.label, r.start_sec, r.end_sec) for r in ds.records] == [
        (str(tmp_path / "clips/a.mp4"), 1, 0.0, 4.5),
        (str(tmp_path / "c.mp4"), 0, None, None),
        (str(tmp_path / "clips/b.mp4"), 1, 1.5, None),
    ]


def test_integer_labels_named_by_label_name_and_unlabeled_rows(tmp_path):
    videos(tmp_path, "a.mp4", "b.mp4", "c.mp4")
    (tmp_path / "m.csv").write_text("path,label,label_name\na.mp4,2,swim\nb.mp4,0,fly\nc.mp4,,\n")
    ds = load_manifest(tmp_path / "m.csv")
    assert ds.labels == [2, 0, None]
    assert ds.class_names == ["fly", "1", "swim"]


def test_path_only_manifest_is_unlabeled(tmp_path):
    videos(tmp_path, "a.mp4")
    (tmp_path / "m.csv").write_text("path\na.mp4\n")
    ds = load_manifest(tmp_path / "m.csv")
    assert ds.labels == [None] and ds.class_names == []


def test_jsonl_with_split_column_and_missing_files(tmp_path):
    videos(tmp_path, "a.mp4", "b.mp4")
    rows = [
        {"path": "a.mp4", "label": "walk", "split": "train"},
        {"path": "b.mp4", "label": "run", "split": "val"},
        {"path": "gone.mp4", "label": "walk", "split": "train"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    train = load_manifest(tmp_path / "m.jsonl", split="train")
    assert [r.path for r in train.records] == [str(tmp_path / "a.mp4")]
    assert train.missing == [str(tmp_path / "gone.mp4")]
    assert train.class_names == ["run", "walk"] and train.labels == [1]  # names from every split
    assert load_manifest(tmp_path / "m.jsonl", split="validation").labels == [0]
    with pytest.raises(DataError, match="no rows with split 'test' \\(splits: train, val\\)"):
        load_manifest(tmp_path / "m.jsonl", split="test")


@pytest.mark.parametrize("text, message", [
    ("file,label\na.mp4,1\n", "line 2: no 'path'"),
    ("path,label,start_sec\na.mp4,1,soon\n", "line 2: start_sec must be a number"),
    ("path,label\na.mp4,1\nb.mp4,walk\n", "mix class indices and class names"),
    ("path,start_sec,end_sec\na.mp4,3,2\n", "end_sec 2.0 is not after start_sec 3.0"),
])
def test_malformed_csv_names_file_and_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=message) as info:
        load_manifest(tmp_path / "bad.csv")
    assert str(tmp_path / "bad.csv") in str(info.value)


def test_bad_jsonl_and_missing_manifest(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"path": "a.mp4"}\n{oops\n')
    with pytest.raises(DataError, match="bad.jsonl: line 2: not JSON"):
        load_manifest(tmp_path / "bad.jsonl")
    with pytest.raises(DataError, match="none.csv: manifest not found"):
        load_manifest(tmp_path / "none.csv")
