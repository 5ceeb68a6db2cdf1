"""``modist synth --task detection`` and ``modist eval detect`` end to end on a tiny benchmark."""

import json

import numpy as np
import pytest
import torch

from modist.cli.main import main
from modist.data.adapters.ava import load_ava, read_ava_csv
from modist.evaluation.detection import _jitter, _test_boxes

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synth_det(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_det")
    assert main(["synth", "--task", "detection", "--out", str(out), "--train-videos", "2", "--val-videos", "1",
                 "--seconds", "3", "--size", "32"]) == 0
    return out


def test_benchmark_is_in_the_ava_layout(synth_det):
    train = load_ava(synth_det, "train")
    assert len(train.keyframes) == 4 and len(train.label_map) == 6  # 2 videos x keyframes at 1 s and 2 s
    assert all(2 <= len(kf.boxes) <= 3 and all(len(ls) == 1 for ls in kf.labels) for kf in train.keyframes)
    assert all(0 <= v <= 1 for kf in train.keyframes for v in kf.boxes.ravel())
    val = load_ava(synth_det, "val")
    assert len(val.keyframes) == 1 and val.excluded == {"val0000,0902"}
    boxes, source = _test_boxes(val, 0.8)
    assert "proposals" in source and all(len(b) for b in boxes.values())


def test_jitter_stays_inside_and_keeps_boxes_valid():
    boxes = np.array([[0.0, 0.1, 0.3, 0.9], [0.5, 0.5, 0.6, 0.6]])
    out = _jitter(boxes, 0.2, np.random.default_rng(0))
    assert out.min() >= 0 and out.max() <= 1 and np.all(out[:, 2:] > out[:, :2]) and not np.allclose(out, boxes)


@pytest.mark.parametrize("finetune", [False, True])
def test_eval_detect_writes_official_predictions_and_map(synth_det, tmp_path, capsys, finetune):
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "det"
    args = ["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"synth-det:{synth_det}", "--out", str(out),
            "--epochs", "2", "--batch-size", "2", "--device", "cpu", "--clip-frames", "4", "--stride", "1"]
    assert main(args + (["--finetune", "--dilate-last-stage"] if finetune else [])) == 0
    printed = capsys.readouterr().out
    assert "frame-mAP@0.5" in printed and ("finetuned" if finetune else "frozen-backbone") in printed
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["mAP"] <= 1 and results["meta"]["mode"] == ("finetune" if finetune else "frozen")
    assert results["meta"]["recipe"]["dilate"] == finetune
    assert len(results["history"]) == 4  # 2 epochs of 4 keyframes in batches of 2
    pred = read_ava_csv(out / "predictions.csv", scored=True)
    assert len(pred) % 6 == 0 and set(pred.labels.tolist()) == set(range(1, 7))  # every box x every class
    assert (out / "boxes.png").stat().st_size > 1000 and "| id | action | AP |" in (out / "results.md").read_text()


def test_eval_detect_errors(synth_det, tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    assert main(["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"kinetics:{synth_det}"]) == 2
    assert "expected ava:ROOT or synth-det:DIR" in capsys.readouterr().err
    assert main(["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"ava:{synth_det}",
                 "--proposal-threshold", "2"]) == 2
    assert "--proposal-threshold must be in [0, 1]" in capsys.readouterr().err
