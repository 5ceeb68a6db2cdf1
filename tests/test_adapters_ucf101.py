"""UCF101 official lists: classInd, trainlist0N (with labels), testlist0N (without)."""

from __future__ import annotations

import pytest

from modist.data.adapters import load_ucf101, resolve_dataset
from modist.errors import DataError

CLASS_IND = "1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n"
TRAIN1 = (
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
    "Archery/v_Archery_g08_c02.avi 2\r\n"
    "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\r\n"
)
TEST1 = (
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n"
    "Archery/v_Archery_g01_c01.avi\r\n"
    "Archery/v_Archery_g02_c01.avi\r\n"
)
TRAIN2 = "Archery/v_Archery_g01_c01.avi 2\n"


@pytest.fixture
def ucf(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text(CLASS_IND)
    (lists / "trainlist01.txt").write_text(TRAIN1)
    (lists / "testlist01.txt").write_text(TEST1)
    (lists / "trainlist02.txt").write_text(TRAIN2)
    for line in (TRAIN1 + TEST1).split():
        if line.endswith(".avi") and "g02" not in line:
            path = tmp_path / "UCF-101" / line
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x00")
    return tmp_path


def test_train_list_labels_are_zero_based(ucf):
    ds = load_ucf101(ucf, "train", fold=1)
    assert ds.class_names == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]
    assert [(r.path.split("UCF-101/")[1], r.label) for r in ds.records] == [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0),
        ("Archery/v_Archery_g08_c02.avi", 1),
        ("HandstandPushups/v_HandStandPushups_g08_c01.avi", 2),
    ]
    assert ds.missing == []


def test_test_list_labels_come_from_the_class_folder(ucf):
    ds = resolve_dataset(str(ucf), split="test")  # detected via ucfTrainTestlist/classInd.txt
    assert ds.labels == [0, 1]
    assert ds.missing == ["Archery/v_Archery_g02_c01.avi"]


def test_other_fold_and_reencoded_copies(ucf):
    folder = ucf / "UCF-101" / "Archery"
    (folder / "v_Archery_g01_c01.avi").rename(folder / "v_Archery_g01_c01.mp4")
    ds = load_ucf101(ucf, "train", fold=2)
    assert [(r.path.rsplit("/", 1)[1], r.label) for r in ds.records] == [("v_Archery_g01_c01.mp4", 1)]


def test_errors_name_the_file(ucf, tmp_path):
    with pytest.raises(DataError, match="fold must be 1, 2 or 3"):
        load_ucf101(ucf, "train", fold=4)
    with pytest.raises(DataError, match="testlist03.txt: UCF101 split list not found"):
        load_ucf101(ucf, "test", fold=3)
    (ucf / "ucfTrainTestlist" / "trainlist02.txt").write_text("Archery/v_Archery_g01_c01.avi 9\n")
    with pytest.raises(DataError, match="trainlist02.txt: line 1: bad class index '9'"):
        load_ucf101(ucf, "train", fold=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="ucfTrainTestlist/classInd.txt: UCF101 classInd.txt not found"):
        load_ucf101(tmp_path / "empty")
