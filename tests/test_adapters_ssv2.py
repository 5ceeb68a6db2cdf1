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


def _eval_values(argv):
    from modist.cli import evaluate
    from modist.cli.main import build_parser
    from modist.evaluation import presets

    args = build_parser(argv).parse_args(argv)
    values = presets.values(evaluate._settings(args, evaluate._tasks(args)[0]))
    spec = evaluate._spec(args, values)
    return values, (spec.temporal_views, spec.spatial_views), spec


def test_evaluation_defaults_on_ssv2_no_flip_one_view_labelled_split(ssv2):
    from modist.evaluation.runner import EvalSpec, load_splits

    # The default test split is the validation list: SSv2's test labels are not public.
    assert EvalSpec(f"ssv2:{ssv2}").resolved_test_splits() == ("val",)
    assert EvalSpec(str(ssv2)).resolved_test_splits() == ("val",)  # kind detected from labels/labels.json
    _, tests = load_splits(EvalSpec(f"ssv2:{ssv2}"))
    assert list(tests) == ["val"] and tests["val"].labels == [2]
    data = ["--dataset", f"ssv2:{ssv2}", "--checkpoint", "unused"]
    for argv in (["eval", "finetune", *data], ["eval", "finetune", "--protocol", "maclr", *data],
                 ["eval", "linear", "--protocol", "maclr", *data], ["eval", "linear", *data], ["eval", "all", *data]):
        values, views, spec = _eval_values(argv)
        assert views == (1, 1), argv
        assert values.get("flip", False) is False, argv
        assert spec.resolved_test_splits() == ("val",)
    # Elsewhere the protocol's own values; on SSv2 values given on the command line still win.
    assert _eval_values(["eval", "finetune", "--protocol", "maclr", "--dataset", f"ucf101:{ssv2}"])[1] == (10, 3)
    values, views, _ = _eval_values(["eval", "finetune", *data, "--flip", "yes", "--spatial-views", "3"])
    assert values["flip"] is True and views == (1, 3)


def test_asking_for_the_unlabelled_test_split_is_one_clear_line(ssv2, tmp_path, capsys):
    from modist.cli.main import main

    from test_evaluation_embed import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    code = main(["eval", "knn", "--checkpoint", str(ckpt), "--dataset", f"ssv2:{ssv2}", "--test-split", "test",
                 "--no-cache", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "split 'test' has 1 of 1 videos without labels" in err and "evaluate on split 'val'" in err
