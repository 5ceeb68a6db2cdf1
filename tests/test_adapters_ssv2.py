"""Something-Something v2: labels.json templates, train/validation/test JSON lists, {id}.webm."""

from __future__ import annotations

import json

import pytest

from modist.data.adapters import load_ssv2, resolve_dataset
from modist.errors import DataError

LABELS = {"Approaching something with your camera": "0", "Putting something on a surface": "2",
          "Holding something next to something": "1"}
TRAIN = [
    {"id": "78687", "label": "holding potato next to vicks vaporub bottle",
     "template": "Holding [something] next to [something]", "placeholders": ["potato", "vicks vaporub bottle"]},
    {"id": "42326", "label": "putting a cup on a surface", "template": "Putting [something] on a surface",
     "placeholders": ["a cup"]},
    {"id": "100", "label": "approaching a tree with your camera",
     "template": "Approaching [something] with your camera", "placeholders": ["a tree"]},
]
VALIDATION = [{"id": "74225", "label": "x", "template": "Putting [something] on a surface", "placeholders": ["x"]}]
TEST = [{"id": "1420"}]


@pytest.fixture
def ssv2(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    for name, data in (("labels", LABELS), ("train", TRAIN), ("validation", VALIDATION), ("test", TEST)):
        (labels / f"{name}.json").write_text(json.dumps(data))
    videos = tmp_path / "20bn-something-something-v2"
    videos.mkdir()
    for vid in ("78687", "42326", "74225", "1420"):
        (videos / f"{vid}.webm").write_bytes(b"\x00")
    return tmp_path


def test_templates_without_brackets_give_class_ids(ssv2):
    ds = load_ssv2(ssv2, "train")
    assert ds.class_names == ["Approaching something with your camera", "Holding something next to something",
                              "Putting something on a surface"]
    assert [(r.path.rsplit("/", 1)[1], r.label) for r in ds.records] == [("78687.webm", 1), ("42326.webm", 2)]
    assert ds.missing == ["100.webm"]


def test_validation_and_test_splits(ssv2):
    assert resolve_dataset(str(ssv2), split="val").labels == [2]  # detected via labels/labels.json
    assert load_ssv2(ssv2, "test").labels == [None]


def test_errors_name_the_file(ssv2):
    with pytest.raises(DataError, match="SSv2: split must be train, val or test, got 'holdout'"):
        load_ssv2(ssv2, "holdout")
    bad = [{"id": "1", "template": "Spinning [something]"}]
    (ssv2 / "labels" / "validation.json").write_text(json.dumps(bad))
    message = "validation.json: entry 0: template 'Spinning \\[something\\]' not in labels.json"
    with pytest.raises(DataError, match=message):
        load_ssv2(ssv2, "validation")
    (ssv2 / "labels" / "labels.json").write_text("{not json")
    with pytest.raises(DataError, match="labels.json: not valid JSON"):
        load_ssv2(ssv2)
    with pytest.raises(DataError, match="labels.json: SSv2 labels.json not found"):
        load_ssv2(ssv2 / "elsewhere")
