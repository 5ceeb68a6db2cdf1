"""``modist synth --task detection`` and ``modist eval detect`` end to end on a tiny benchmark."""

import json

import numpy as np
import pytest
import torch

from modist.cli.main import main
from modist.data.adapters.ava import load_ava, read_ava_csv
from modist.evaluation.detection import DetectRecipe, _Clips, _Features, _jitter, _test_boxes, train_detector
from modist.evaluation.encoder import load_eval_encoder
from modist.models.detection import ActionDetector

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synth_det(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_det")
    assert main(["synth", "--task", "detection", "--out", str(out), "--train-videos", "2", "--val-videos", "1",
                 "--test-videos", "1", "--seconds", "3", "--size", "48"]) == 0
    return out


def test_benchmark_is_in_the_ava_layout(synth_det):
    train = load_ava(synth_det, "train")
    assert len(train.keyframes) == 4 and len(train.label_map) == 10  # 2 videos x keyframes at 1 s and 2 s
    assert all(2 <= len(kf.boxes) <= 3 and all(1 <= len(ls) <= 2 for ls in kf.labels) for kf in train.keyframes)
    assert all(0 <= v <= 1 for kf in train.keyframes for v in kf.boxes.ravel())
    test = load_ava(synth_det, "test_unbiased")
    assert len(test.keyframes) == 1 and test.excluded == {"test_unbiased0000,0902"}
    boxes, source = _test_boxes(test, 0.8)
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
    assert main(args + (["--finetune"] if finetune else ["--no-dilate-last-stage"])) == 0
    printed = capsys.readouterr().out
    assert "frame-mAP@0.5" in printed and ("finetuned" if finetune else "frozen-backbone") in printed
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["mAP"] <= 1 and results["meta"]["mode"] == ("finetune" if finetune else "frozen")
    assert results["meta"]["recipe"]["dilate"] == finetune
    assert len(results["history"]) == 4  # 2 epochs of 4 keyframes in batches of 2
    assert results["meta"]["input_size"] == 48  # the benchmark's own frame size, not the encoder's crop (32)
    pred = read_ava_csv(out / "predictions.csv", scored=True)
    assert len(pred) % 10 == 0 and set(pred.labels.tolist()) == set(range(1, 11))  # every box x every class
    from modist.evaluation.ava_map import evaluate_files

    # Both evaluators' numbers are the ones ava-map gives on the written predictions.
    ann = synth_det / "annotations"
    files = (ann / "ava_val_v2.2.csv", out / "predictions.csv", ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    for protocol, value in (("activitynet", results["mAP"]), ("pyslowfast", results["meta"]["mAP_pyslowfast"])):
        again = evaluate_files(*files, exclusions=ann / "ava_val_excluded_timestamps_v2.2.csv", protocol=protocol)
        assert value == pytest.approx(again.mean_ap, abs=1e-9)
    assert (out / "boxes.png").stat().st_size > 1000 and "| id | action | AP |" in (out / "results.md").read_text()


def test_eval_detect_errors(synth_det, tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    assert main(["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"kinetics:{synth_det}"]) == 2
    assert "expected ava:ROOT or synth-det:DIR" in capsys.readouterr().err
    assert main(["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"ava:{synth_det}",
                 "--proposal-threshold", "2"]) == 2
    assert "--proposal-threshold must be in [0, 1]" in capsys.readouterr().err


class _Counting(torch.nn.Module):
    """Wraps a backbone and counts the clips its forward_features sees."""

    def __init__(self, backbone):
        super().__init__()
        self.inner, self.out_dim, self.seen = backbone, backbone.out_dim, 0

    def forward_features(self, x):
        self.seen += len(x)
        return self.inner.forward_features(x)


def test_frozen_backbone_sees_each_keyframe_once_and_the_head_learns(synth_det, tmp_path):
    enc = load_eval_encoder(tiny_checkpoint(tmp_path / "ckpt")).with_overrides(clip_frames=4, stride=1)
    train = load_ava(synth_det, "train").keyframes
    counting = _Counting(enc.backbone)
    model = ActionDetector(counting, 10, resolution=3)
    features = _Features(model, _Clips(enc, 48, max_bytes=0), frozen=True, device=torch.device("cpu"))
    kept = features(train[:2])
    with torch.no_grad():
        direct = enc.backbone.eval().forward_features(torch.stack([_Clips(enc, 48)(kf) for kf in train[:2]]))
    torch.testing.assert_close(kept, direct.mean(dim=2, keepdim=True))
    history = train_detector(model, train, list(range(1, 11)), features, DetectRecipe(epochs=20, lr=0.3, batch_size=2),
                             device=torch.device("cpu"))
    assert counting.seen == len(train)  # 2 + 2 more, then 40 steps from the kept maps
    losses = [h["loss"] for h in history]
    # From about log(2) = 0.69, the head learns at least the labels' base rate (~0.13 of the classes).
    assert np.mean(losses[:4]) > 0.6 and np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.1


def _detect_worker(rank: int, world: int, port: int, ckpt: str, data: str, out: str) -> None:
    import os

    # As torchrun sets them: run_detection joins (and leaves) the process group itself.
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from modist.evaluation.detection import run_detection

    enc = load_eval_encoder(ckpt).with_overrides(clip_frames=4, stride=1)
    result = run_detection(enc, f"synth-det:{data}", DetectRecipe(epochs=2, batch_size=2), out=out,
                           test_split="test_unbiased", device="cpu")
    torch.save({"head": result.model.head.state_dict(), "mAP": result.mean_ap,
                "losses": [h["loss"] for h in result.history], "world": result.meta["world_size"]},
               f"{out}/rank{rank}.pt")


@pytest.mark.slow
def test_two_ranks_share_the_keyframes_and_agree(synth_det, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_detect_worker, args=(2, port, str(ckpt), str(synth_det), str(out)), nprocs=2)
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    # One global loss per step (the ranks' mean), the same on both ranks: 4 keyframes, 2 a step, 2 epochs.
    assert ranks[0]["losses"] == ranks[1]["losses"] and len(ranks[0]["losses"]) == 4
    assert ranks[0]["mAP"] == ranks[1]["mAP"]
    for key, value in ranks[0]["head"].items():
        assert torch.equal(value, ranks[1]["head"][key]), key
    # Rank 0 wrote every test keyframe's rows, in the single process's order.
    pred = read_ava_csv(out / "predictions.csv", scored=True)
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["world_size"] == 2 and results["mAP"] == ranks[0]["mAP"]
    single = tmp_path / "single"
    assert main(["eval", "detect", "--checkpoint", str(ckpt), "--dataset", f"synth-det:{synth_det}", "--out",
                 str(single), "--epochs", "2", "--batch-size", "2", "--device", "cpu", "--clip-frames", "4",
                 "--stride", "1", "--test-split", "test_unbiased"]) == 0
    one = read_ava_csv(single / "predictions.csv", scored=True)
    assert pred.keys == one.keys and np.array_equal(pred.boxes, one.boxes) and np.array_equal(pred.labels, one.labels)
