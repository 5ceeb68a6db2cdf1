"""Folder adapter: class sub-folders, unlabeled folders, split folders, non-video files."""

from __future__ import annotations

import numpy as np
import pytest

from modist.data.adapters import load_folder
from modist.data.video import write_video
from modist.errors import DataError


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("v") / "tiny.mp4"
    write_video(path, np.zeros((2, 16, 16, 3), np.uint8), fps=10)
    return path.read_bytes()


def put(root, relative, data=b"x"):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_class_folders_give_sorted_labels(tmp_path, video_bytes):
    for rel in ("walk/b.mp4", "walk/a.avi", "jump/x.mkv", "jump/deeper/y.webm", "run/notes.txt"):
        put(tmp_path, rel, video_bytes)
    ds = load_folder(tmp_path)
    assert ds.class_names == ["jump", "walk"]  # 'run' holds no video
    got = [(r.path.replace(str(tmp_path), ""), r.label) for r in ds.records]
    assert got == [("/jump/x.mkv", 0), ("/jump/deeper/y.webm", 0), ("/walk/a.avi", 1), ("/walk/b.mp4", 1)]
    assert all(r.start_sec is None for r in ds.records)


def test_videos_at_the_top_make_an_unlabeled_folder(tmp_path, video_bytes):
    for rel in ("a.mp4", "sub/b.MOV", "LICENSE.txt", ".hidden.mp4", ".cache/c.mp4", "sub/d.m4v"):
        put(tmp_path, rel, video_bytes)
    ds = load_folder(tmp_path)
    assert ds.class_names == [] and ds.labels == [None, None, None]
    assert sorted(r.path.rsplit("/", 1)[1] for r in ds.records) == ["a.mp4", "b.MOV", "d.m4v"]
    assert all(r.path.startswith("/") for r in ds.records)


def test_split_sub_folder_is_used_when_present(tmp_path, video_bytes):
    put(tmp_path, "train/cat/a.mp4", video_bytes)
    put(tmp_path, "val/cat/b.mp4", video_bytes)
    put(tmp_path, "val/dog/c.mp4", video_bytes)
    assert len(load_folder(tmp_path, split="train")) == 1
    val = load_folder(tmp_path, split="val")
    assert val.class_names == ["cat", "dog"] and val.labels == [0, 1]


def test_forced_unlabeled_and_errors(tmp_path, video_bytes):
    put(tmp_path, "a/x.mp4", video_bytes)
    assert load_folder(tmp_path, class_folders=False).labels == [None]
    put(tmp_path, "empty/readme.txt")
    with pytest.raises(DataError, match="no video files"):
        load_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="nowhere: video folder not found"):
        load_folder(tmp_path / "nowhere")
