"""AVA adapter on a tiny copy of the official layout written here."""

import pickle

import numpy as np
import pytest

from modist.data.adapters.ava import (
    keyframe_clip,
    keyframe_key,
    load_ava,
    read_ava_csv,
    read_label_map,
    read_proposals_csv,
    read_proposals_pickle,
)
from modist.data.video import write_video
from modist.errors import DataError

FPS = 8
LABELS = """item {
  name: "bend/bow (at the waist)"
  label_id: 1
  label_type: PERSON_MOVEMENT
}
item {
  name: "crawl"
  label_id: 2
  label_type: PERSON_MOVEMENT
}
"""
EVAL_LABELS = 'item {\n  name: "crawl"\n  id: 2\n}\n'


@pytest.fixture(scope="module")
def ava_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ava")
    ann, vids = root / "annotations", root / "videos_15min"
    ann.mkdir()
    vids.mkdir()
    # frame i has grey level 6 i: a decoded frame tells its index
    frames = (np.arange(40, dtype=np.uint8) * 6)[:, None, None, None].repeat(32, 1).repeat(48, 2).repeat(3, 3)
    write_video(vids / "-5KQ66BBWC4.mp4", frames, fps=FPS)
    (ann / "ava_train_v2.2.csv").write_text(
        "-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,1,0\n"
        "-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,2,0\n"
        "-5KQ66BBWC4,0902,0.332,0.194,0.481,0.891,2,1\n"
        "-5KQ66BBWC4,0903,0.1,0.1,0.4,0.9,2,0\n"
        "-5KQ66BBWC4,0904,0.1,0.1,0.4,0.9,2,0\n"
        "missingvid00,0902,0.1,0.1,0.4,0.9,2,0\n")
    (ann / "ava_train_excluded_timestamps_v2.2.csv").write_text("-5KQ66BBWC4,0904\n")
    (ann / "ava_action_list_v2.2.pbtxt").write_text(LABELS)
    (ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").write_text(EVAL_LABELS)
    (ann / "ava_train_predicted_boxes.csv").write_text("-5KQ66BBWC4,0902,0.07,0.15,0.28,0.81,,0.98\n"
                                                       "-5KQ66BBWC4,0903,0.5,0.5,0.9,0.9,-1,0.31\n")
    return root


def test_files_in_official_formats(ava_root):
    ann = ava_root / "annotations"
    assert read_label_map(ann / "ava_action_list_v2.2.pbtxt") == {1: "bend/bow (at the waist)", 2: "crawl"}
    rows = read_ava_csv(ann / "ava_train_v2.2.csv")
    assert len(rows) == 6 and rows.person_ids.tolist() == [0, 0, 1, 0, 0, 0]
    assert rows.boxes[2].tolist() == [0.332, 0.194, 0.481, 0.891]  # x1, y1, x2, y2 as in the file
    props = read_proposals_csv(ann / "ava_train_predicted_boxes.csv")
    assert props.scores.tolist() == [0.98, 0.31] and props.keys == ["-5KQ66BBWC4,0902", "-5KQ66BBWC4,0903"]
    assert keyframe_key("vid", "902.0") == "vid,0902"


def test_load_groups_boxes_and_keeps_evaluated_classes(ava_root):
    ds = load_ava(ava_root, "train")
    assert ds.label_map == {2: "crawl"}  # the ActivityNet list is preferred: the evaluated classes
    assert [kf.key for kf in ds.keyframes] == ["-5KQ66BBWC4,0902", "-5KQ66BBWC4,0903"]  # 0904 excluded
    first = ds.keyframes[0]
    assert first.time_sec == 2 and first.labels == [[2], [2]] and first.boxes.shape == (2, 4)
    assert ds.missing == ["missingvid00"] and len(ds.proposals) == 2
    full = load_ava(ava_root, "train", labels=ava_root / "annotations" / "ava_action_list_v2.2.pbtxt")
    assert full.keyframes[0].labels == [[1, 2], [2]]  # one box, two actions


def test_clip_is_centred_on_the_keyframe(ava_root):
    ds = load_ava(ava_root, "train")
    kf = ds.keyframes[0]
    clip = keyframe_clip(kf.video, kf.time_sec, num_frames=4, stride=2)
    # 2 s at 8 fps is frame 16; 4 frames 2 apart centred there: 12, 14, 16, 18
    assert clip.shape == (4, 32, 48, 3)
    assert np.allclose(clip.reshape(4, -1).mean(1), [72, 84, 96, 108], atol=3)


def test_errors_name_the_file(ava_root, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("v,0902,0.1,0.2\n")
    with pytest.raises(DataError, match=f"{bad}:1: expected 2, 7 or 8 columns"):
        read_ava_csv(bad)
    with pytest.raises(DataError, match="no ava_val_v2.x.csv"):
        load_ava(ava_root, "val")
    empty = tmp_path / "x.pbtxt"
    empty.write_text("nothing")
    with pytest.raises(DataError, match="no 'item"):
        read_label_map(empty)


def test_pickled_proposals_need_explicit_permission(tmp_path):
    path = tmp_path / "props.pkl"
    path.write_bytes(pickle.dumps({"vid,0902": np.array([[0.1, 0.1, 0.5, 0.9, 0.97]])}))
    with pytest.raises(DataError, match="unpickling runs code"):
        read_proposals_pickle(path)
    props = read_proposals_pickle(path, allow_pickle=True)
    assert props.keys == ["vid,0902"] and props.scores.tolist() == [0.97]
