"""Official AVA frame-mAP: hand-computed APs on tiny CSVs, a transcription of the official code on
random files in shuffled row order, and ``modist eval ava-map``."""

import csv
import heapq
import json
from collections import Counter, defaultdict

import numpy as np
import pytest

from modist.cli.main import main
from modist.data.adapters.ava import read_ava_csv, write_label_map
from modist.errors import ConfigError
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


def _score(tmp_path, gt_rows, pred_rows, protocol="activitynet", **kw):
    gt, pred, labels, ex = _files(tmp_path, gt_rows, pred_rows, **kw)
    return evaluate_files(gt, pred, labels, exclusions=ex, protocol=protocol)


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
    assert main(["eval", "ava-map", "--gt", str(gt), "--pred", str(pred), "--labels", str(labels),
                 "--protocol", "pyslowfast", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["protocol"] == "pyslowfast"
    assert "(PySlowFast's copy of the evaluator)" in capsys.readouterr().out
    capsys.readouterr()
    pred.write_text("v,0902,0.1,0.1,x,0.5,1,0.9\n")
    assert main(["eval", "ava-map", "--gt", str(gt), "--pred", str(pred), "--labels", str(labels)]) == 2
    assert f"{pred}:1: coordinate 'x' is not a number" in capsys.readouterr().err


# ---------------------------------------------------------------- what depends on the order of rows

def test_a_full_keyframe_drops_its_smallest_tuple_whatever_the_row_order(tmp_path):
    # 48 rows of class 2 at .95, then class-1 rows A and C, both .5, then a class-2 row at .99: the
    # 51st row replaces the heap's smallest tuple (score, action, y1, x1, y2, x2). A's is
    # (.5, 1, 0, 0, ...) < C's (.5, 1, .5, 0, ...), so A goes in either order; C alone is an FP: AP 0.
    gt = [f"v,0902,{A},1,0"]
    fill = [f"v,0902,{B},2,0.95"] * 48
    for pair in ([f"v,0902,{A},1,0.5", f"v,0902,{C},1,0.5"], [f"v,0902,{C},1,0.5", f"v,0902,{A},1,0.5"]):
        res = _score(tmp_path, gt, fill + pair + [f"v,0902,{B},2,0.99"])
        assert res.ap[1] == 0.0 and res.num_detections[1] == 1
    # Without the 51st row both stay; with one more tie, the later row does not get in (strictly
    # above only): the first of A and C to arrive is kept.
    assert _score(tmp_path, gt, fill + [f"v,0902,{B},2,0.9", f"v,0902,{A},1,0.5", f"v,0902,{C},1,0.5"]).ap[1] == 1.0
    assert _score(tmp_path, gt, fill + [f"v,0902,{B},2,0.9", f"v,0902,{C},1,0.5", f"v,0902,{A},1,0.5"]).ap[1] == 0.0
    # 51 rows, the TP the lowest: dropped (AP 0); PySlowFast's copy keeps every row (AP 1).
    pred = fill + [f"v,0902,{A},1,0.5", f"v,0902,{B},2,0.99", f"v,0902,{B},2,0.99"]
    assert _score(tmp_path, gt, pred).ap[1] == 0.0
    assert _score(tmp_path, gt, pred, protocol="pyslowfast").ap[1] == 1.0


def test_ground_truth_is_taken_in_descending_person_id_on_equal_iou(tmp_path):
    # Ga = [0,0,.5,.5], Gb = Ga moved right by .125; D1 (.9) halfway between has IoU .21875/.28125 = 7/9
    # with both; D2 (.8) = Ga has IoU 1 with Ga, .6 with Gb. The official reader sorts ground truth by
    # its 8th column (person id), descending: Gb (pid 1) first, so argmax gives D1 Gb, D2 then takes Ga:
    # 2 TPs, AP 1. With Ga first (file order, PySlowFast; or Ga holding the larger id) D1 takes Ga and
    # D2, whose best box is taken, is an FP: p = 1, .5 at r = .5: AP .5.
    ga, gb, d1 = "0.0,0.0,0.5,0.5", "0.125,0.0,0.625,0.5", "0.0625,0.0,0.5625,0.5"
    pred = [f"v,0902,{d1},1,0.9", f"v,0902,{ga},1,0.8"]
    assert _score(tmp_path, [f"v,0902,{ga},1,0", f"v,0902,{gb},1,1"], pred).ap[1] == 1.0
    assert _score(tmp_path, [f"v,0902,{ga},1,1", f"v,0902,{gb},1,0"], pred).ap[1] == 0.5
    assert _score(tmp_path, [f"v,0902,{ga},1,0", f"v,0902,{gb},1,1"], pred, protocol="pyslowfast").ap[1] == 0.5


def test_equal_scores_are_ranked_as_numpy_argsort_reversed(tmp_path):
    # One GT box per keyframe; at 0902 an FP scoring .9, at 0903 a TP scoring .9. Class 1's scores are
    # concatenated keyframe by keyframe in order of first appearance, then ranked by
    # np.argsort(scores)[::-1]. numpy's sort leaves two equal values in place, so reversed the later
    # keyframe's detection leads. 0902 written first: TP then FP, p = 1, .5 at r = .5, .5: AP .5;
    # 0903 written first: FP then TP, p = 0, .5: AP .25. So the same rows give two answers.
    gt = [f"v,0902,{A},1,0", f"v,0903,{A},1,0"]
    pred = [f"v,0902,{C},1,0.9", f"v,0903,{A},1,0.9"]
    later_first = np.argsort(np.array([0.9, 0.9]))[::-1][0] == 1  # numpy's promise is only "some order"
    assert _score(tmp_path, gt, pred).ap[1] == (0.5 if later_first else 0.25)
    assert _score(tmp_path, gt, pred[::-1]).ap[1] == (0.25 if later_first else 0.5)


def test_pyslowfast_matches_rows_in_file_order(tmp_path):
    # GT A; A (.3) written before A' = [0,0,.5,.4] (.9, IoU .8). ActivityNet matches by score: A' TP,
    # A FP, ranked TP, FP: AP 1 in any order. PySlowFast matches in file order: A takes the box, A' is
    # an FP ranked first: p = 0, .5 at r = 0, 1: AP .5; score-sorted rows agree again.
    gt = [f"v,0902,{A},1,0"]
    pred = [f"v,0902,{A},1,0.3", "v,0902,0.0,0.0,0.5,0.4,1,0.9"]
    assert _score(tmp_path, gt, pred).ap[1] == 1.0 and _score(tmp_path, gt, pred[::-1]).ap[1] == 1.0
    assert _score(tmp_path, gt, pred, protocol="pyslowfast").ap[1] == 0.5
    assert _score(tmp_path, gt, pred[::-1], protocol="pyslowfast").ap[1] == 1.0
    with pytest.raises(ConfigError, match="protocol 'voc'"):
        _score(tmp_path, gt, pred, protocol="voc")


# ------------------------------------------- a second transcription of the official code, on random files

def _official(labels_path, gt_path, pred_path, excl_path, pyslowfast=False):
    """mAP and AP per class id, transcribed from get_ava_performance.py / ava_eval_helper.py + ava/*.py."""
    names = {int(b.split("id:")[1].split()[0]) for b in labels_path.read_text().split("item")[1:]}
    excluded = {f"{r[0]},{int(r[1]):04d}" for r in csv.reader(open(excl_path))} if excl_path else set()

    def read(path, capacity):
        entries = defaultdict(list)
        for row in csv.reader(open(path)):
            key, action = f"{row[0]},{int(row[1]):04d}", int(row[6])
            if action not in names:
                continue
            x1, y1, x2, y2 = (float(v) for v in row[2:6])
            t = (float(row[7]) if len(row) == 8 else 1.0, action, y1, x1, y2, x2)
            if pyslowfast:
                entries[key].append(t)
            elif capacity < 1 or len(entries[key]) < capacity:
                heapq.heappush(entries[key], t)
            elif t[0] > entries[key][0][0]:
                heapq.heapreplace(entries[key], t)
        return {k: v if pyslowfast else sorted(v, key=lambda t: -t[0]) for k, v in entries.items()}

    def iou(d, g):  # y1, x1, y2, x2
        h = np.maximum(0, np.minimum(d[:, None, 2], g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0]))
        w = np.maximum(0, np.minimum(d[:, None, 3], g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1]))
        area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
        return h * w / (area(d)[:, None] + area(g)[None, :] - h * w)

    gt = {k: v for k, v in read(gt_path, 0).items() if k not in excluded}
    num_classes = max(names)
    per_class = [([], []) for _ in range(num_classes + 1)]
    for key, dets in read(pred_path, 50).items():
        if key in excluded:
            continue
        d = np.array([t[2:] for t in dets]).reshape(-1, 4)
        keep = (d[:, 0] < d[:, 2]) & (d[:, 1] < d[:, 3])
        dets = [t for t, k in zip(dets, keep) if k]
        for c in range(1, num_classes + 1):
            mine = [t for t in dets if t[1] == c]
            if not mine:
                continue
            g = np.array([t[2:] for t in gt.get(key, []) if t[1] == c]).reshape(-1, 4)
            tp = np.zeros(len(mine), dtype=bool)
            if len(g):
                o = iou(np.array([t[2:] for t in mine]), g)
                taken = np.zeros(len(g), dtype=bool)
                for i, j in enumerate(np.argmax(o, axis=1)):
                    if o[i, j] >= 0.5 and not taken[j]:
                        tp[i] = taken[j] = True
            per_class[c][0].append(np.array([t[0] for t in mine]))
            per_class[c][1].append(tp)
    aps = np.full(num_classes, np.nan)
    for c in range(1, num_classes + 1):
        n = sum(t[1] == c for v in gt.values() for t in v)
        if n == 0:
            continue
        s = np.concatenate(per_class[c][0]) if per_class[c][0] else np.zeros(0)
        tp = (np.concatenate(per_class[c][1]) if per_class[c][1] else np.zeros(0, dtype=bool)).astype(int)[
            np.argsort(s)[::-1]]
        if tp.size == 0:
            aps[c - 1] = 0.0
            continue
        precision = np.concatenate([[0], np.cumsum(tp) / np.arange(1, tp.size + 1), [0]])
        recall = np.concatenate([[0], np.cumsum(tp) / n, [1]])
        for i in range(len(precision) - 2, -1, -1):
            precision[i] = max(precision[i], precision[i + 1])
        i = np.where(recall[1:] != recall[:-1])[0] + 1
        aps[c - 1] = np.sum((recall[i] - recall[i - 1]) * precision[i])
    return (np.nanmean(aps) if not np.isnan(aps).all() else np.nan), {
        c + 1: float(a) for c, a in enumerate(aps) if not np.isnan(a)}


def _random_case(rng, folder):
    """Ties in score and IoU, duplicates, > 50 rows a keyframe, invalid boxes, exclusions, keyframes without GT."""
    grid = lambda v: np.round(np.asarray(v) * 16) / 16  # noqa: E731 - boxes on a 1/16 grid tie in IoU
    keys = [("va", 902), ("va", 903), ("vb", 902)]
    gt_rows, pred_rows = [], []
    for v, t in keys:
        for pid in rng.permutation(6)[: rng.integers(0, 4)]:
            x, y = grid(rng.uniform(0, 0.6, 2))
            box = [x, y, x + grid(rng.uniform(0.1, 0.4)), y + grid(rng.uniform(0.1, 0.4))]
            for c in rng.choice([1, 2, 3, 9], size=rng.integers(1, 3), replace=False):
                gt_rows.append(f"{v},{t},{box[0]},{box[1]},{box[2]},{box[3]},{c},{pid}")
    for v, t in keys + [("vc", 904)]:
        own = [r.split(",")[2:6] for r in gt_rows if r.startswith(f"{v},{t},")]
        boxes = [np.asarray(b, dtype=float) + grid(rng.uniform(-0.07, 0.07, 4)) for b in own for _ in range(2)]
        boxes += [grid(rng.uniform(0, 1, 4)) for _ in range(rng.integers(2, 14))]  # some invalid (x1 >= x2)
        boxes += boxes[:2]  # duplicates
        decimals = int(rng.choice([1, 2, 6]))
        for b in boxes:
            for c in rng.choice([1, 2, 3, 9], size=3, replace=False):
                pred_rows.append(f"{v},{t},{b[0]:.4f},{b[1]:.4f},{b[2]:.4f},{b[3]:.4f},{c},{rng.random():.{decimals}f}")
    rng.shuffle(pred_rows)
    excl = [f"{keys[rng.integers(3)][0]},0903"] if rng.random() < 0.5 else None
    return _files(folder, gt_rows, pred_rows, exclusions=excl, names={1: "a", 2: "b", 3: "c"})


@pytest.mark.parametrize("protocol", ["activitynet", "pyslowfast"])
def test_random_files_in_any_row_order_give_the_official_numbers(tmp_path, protocol):
    rng = np.random.default_rng(7)
    full = 0
    for _ in range(25):
        gt, pred, labels, ex = _random_case(rng, tmp_path)
        full += max(Counter(r.split(",", 2)[1] + r[:2] for r in pred.read_text().splitlines()).values()) > 50
        want_map, want_ap = _official(labels, gt, pred, ex, pyslowfast=protocol == "pyslowfast")
        res = evaluate_files(gt, pred, labels, exclusions=ex, protocol=protocol)
        assert res.ap == pytest.approx(want_ap, abs=1e-9)
        assert res.mean_ap == pytest.approx(want_map, abs=1e-9, nan_ok=True)
    assert full >= 10  # cases with a keyframe over the 50-row cap
