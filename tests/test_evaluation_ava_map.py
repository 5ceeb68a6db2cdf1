"""Official AVA frame-mAP: hand-computed APs on tiny CSVs, and ``modist eval ava-map``."""

import json

import numpy as np
import pytest

from modist.cli.main import main
from modist.data.adapters.ava import read_ava_csv, write_label_map
from modist.evaluation.ava_map import average_precision, box_iou, evaluate_files, frame_map

A = "0.0,0.0,0.5,0.5"
B = "0.5,0.5,1.0,1.0"
C = "0.0,0.5,0.5,1.0"
NAMES = {1: "stand", 2: "sit", 3: "walk", 4: "unused"}


def _files(tmp_path, gt_rows, pred_rows, *, exclusions=None, names=NAMES):
    gt, pred, labels = tmp_path / "gt.csv", tmp_path / "pred.csv", tmp_path / "labels.pbtxt"
    gt.write_text("".join(r + "\n" for r in gt_rows))
    pred.write_text("".join(r + "\n" for r in pred_rows))
    write_label_map(labels, names)
    ex = None
    if exclusions is not None:
        ex = tmp_path / "ex.csv"
        ex.write_text("".join(r + "\n" for r in exclusions))
    return gt, pred, labels, ex


def _score(tmp_path, gt_rows, pred_rows, **kw):
    gt, pred, labels, ex = _files(tmp_path, gt_rows, pred_rows, **kw)
    return evaluate_files(gt, pred, labels, exclusions=ex)


def test_average_precision_is_voc_monotone_sum():
    # TP FP TP FP against 2 GT: p = 1, .5, 2/3, .5; r = .5, .5, 1, 1 -> .5 * 1 + .5 * 2/3
    p, r = np.array([1, 0.5, 2 / 3, 0.5]), np.array([0.5, 0.5, 1, 1])
    assert average_precision(p, r) == pytest.approx(5 / 6)
    assert average_precision(np.zeros(0), np.zeros(0)) == 0.0


def test_iou_has_no_plus_one_and_half_overlap_counts():
    assert box_iou(np.array([[0, 0, 1, 0.5]]), np.array([[0, 0, 1, 1]]))[0, 0] == 0.5


def test_duplicates_are_false_positives_and_score_order_matters(tmp_path):
    gt = [f"v,0902,{A},1,0", f"v,0902,{B},1,1"]
    pred = [f"v,0902,{A},1,0.9", f"v,0902,{A},1,0.8", f"v,0902,{B},1,0.7", f"v,0902,{C},1,0.6"]
    res = _score(tmp_path, gt, pred)
    assert res.ap[1] == pytest.approx(5 / 6) and res.mean_ap == pytest.approx(5 / 6)
    assert res.num_detections[1] == 4 and res.num_gt[1] == 2
    # Rows in any file order give the same AP: matching follows the score.
    assert _score(tmp_path, gt, pred[::-1]).ap[1] == pytest.approx(5 / 6)
    # A false positive scoring highest halves precision at full recall: p = .5, 2/3 -> AP 2/3 * 1.
    res = _score(tmp_path, gt, [f"v,0902,{C},1,0.99", f"v,0902,{A},1,0.5", f"v,0902,{B},1,0.4"])
    assert res.ap[1] == pytest.approx(2 / 3)


def test_a_detection_takes_only_its_best_box(tmp_path):
    # GT X = [0,0,.5,.5], Y = [0,0,.4,.5]; detection D2 overlaps X best (IoU 1) but X is taken by D1,
    # so D2 is a false positive although its IoU with Y (.8) passes: no second choice.
    gt = [f"v,0902,{A},1,0", "v,0902,0.0,0.0,0.4,0.5,1,1"]
    res = _score(tmp_path, gt, [f"v,0902,{A},1,0.9", f"v,0902,{A},1,0.8"])
    assert res.ap[1] == pytest.approx(0.5)


def test_boxes_with_several_labels_are_scored_per_class(tmp_path):
    gt = [f"v,0902,{A},1,0", f"v,0902,{A},2,0", f"v,0903,{B},2,1"]
    pred = [f"v,0902,{A},1,0.9", f"v,0902,{A},2,0.3"]
    res = _score(tmp_path, gt, pred)
    assert res.ap == pytest.approx({1: 1.0, 2: 0.5})  # class 2: precision 1 up to recall .5
    assert res.mean_ap == pytest.approx(0.75)


def test_excluded_keyframes_and_unlisted_classes_are_ignored(tmp_path):
    gt = [f"v,0902,{A},1,0", f"v,0903,{A},1,0", f"v,0902,{A},9,0"]
    pred = [f"v,0902,{A},1,0.5", f"v,0903,{B},1,0.9", f"v,0902,{A},9,0.99"]
    res = _score(tmp_path, gt, pred, exclusions=["v,0903"])
    assert res.ap == {1: 1.0} and res.keyframes == 1
    # Without the exclusion the FP at 0903 outranks the TP and its GT box is missed: p = 0, .5; r = 0, .5.
    assert _score(tmp_path, gt, pred).ap[1] == pytest.approx(0.25)


def test_class_without_detections_scores_zero_and_class_without_gt_is_skipped(tmp_path):
    gt = [f"v,0902,{A},1,0", f"v,0902,{B},3,1"]
    pred = [f"v,0902,{A},1,0.9", f"v,0902,{B},2,0.8", f"w,0910,{C},1,0.1"]  # last: keyframe with no GT
    res = _score(tmp_path, gt, pred)
    assert res.ap == {1: 1.0, 3: 0.0}  # 2 and 4 have no ground truth: not evaluated
    assert res.mean_ap == pytest.approx(0.5) and res.num_detections[2] == 1
    # The keyframe w,0910 has no ground truth: its detection is a false positive below the TP, AP unchanged;
    # ranked first it halves class 1's precision, unless only keyframes the GT file lists count.
    pred[2] = f"w,0910,{C},1,0.95"
    assert _score(tmp_path, gt, pred).ap[1] == pytest.approx(0.5)
    gt_path, pred_path, labels, _ = _files(tmp_path, gt + ["w,0911"], pred)
    assert evaluate_files(gt_path, pred_path, labels, only_gt_keyframes=True).ap[1] == 1.0


def test_only_the_top_detections_per_keyframe_are_kept(tmp_path):
    gt = [f"v,0902,{A},1,0", f"v,0902,{B},1,1"]
    pred = [f"v,0902,{A},1,0.9", f"v,0902,{C},2,0.8", f"v,0902,{B},1,0.1"]
    gt_rows, pred_rows = read_ava_csv(_files(tmp_path, gt, [])[0]), None
    pred_path = tmp_path / "p.csv"
    pred_path.write_text("".join(r + "\n" for r in pred))
    pred_rows = read_ava_csv(pred_path, scored=True)
    assert frame_map(gt_rows, pred_rows, NAMES).ap[1] == 1.0
    assert frame_map(gt_rows, pred_rows, NAMES, max_per_keyframe=2).ap[1] == 0.5  # the .1 row is dropped


def test_cli_writes_results_and_reports_bad_files(tmp_path, capsys):
    gt, pred, labels, ex = _files(tmp_path, [f"v,0902,{A},1,0"], [f"v,0902,{A},1,0.9"], exclusions=["v,0910"])
    out = tmp_path / "out"
    assert main(["eval", "ava-map", "--gt", str(gt), "--pred", str(pred), "--labels", str(labels),
                 "--exclusions", str(ex), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "frame-mAP@0.5: **100.00**" in printed and "| 1 | stand | 100.00 |" in printed
    data = json.loads((out / "results.json").read_text())
    assert data["mAP"] == 1.0 and data["per_class"][0]["name"] == "stand"
    assert main(["eval", "ava-map", "--gt", str(gt), "--pred", str(pred), "--labels", str(labels)]) == 0
    assert json.loads((tmp_path / "ava_map" / "results.json").read_text())["mAP"] == 1.0  # default: beside --pred
    capsys.readouterr()
    pred.write_text("v,0902,0.1,0.1,x,0.5,1,0.9\n")
    assert main(["eval", "ava-map", "--gt", str(gt), "--pred", str(pred), "--labels", str(labels)]) == 2
    assert f"{pred}:1: coordinate 'x' is not a number" in capsys.readouterr().err
