import json
import shutil

import numpy as np
import torch

from modist.config import load_config
from modist.configs import config_path
from modist.data.adapters import resolve_dataset
from modist.evaluation.frozen import evaluate_frozen
from modist.training.checkpoint import load_checkpoint, load_encoder
from modist.training.trainer import pretrain

from conftest import tiny_overrides


def test_short_modist_run_lowers_the_loss_and_its_probe_beats_chance(tiny_synth, tmp_path):
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "run", steps=30))
    result = pretrain(cfg)
    first, last = result.loss_drop(window=5)
    assert last < first - 0.1

    out = result.out_dir
    for name in ("checkpoint.pt", "config.yaml", "encoder.safetensors", "encoder.json", "curves.png", "metrics.jsonl"):
        assert (out / name).is_file(), name
    assert load_config(out / "config.yaml") == cfg  # resolved config saved beside the checkpoint
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 30
    encoder, meta = load_encoder(out)
    assert meta["modality"] == "rgb"
    x = torch.randn(2, 3, 8, 32, 32)
    encoder.eval()
    result.method.eval_encoder().eval()
    assert torch.allclose(encoder(x), result.method.eval_encoder()(x), atol=1e-5)

    train = resolve_dataset(f"synth:{tiny_synth}", split="train")
    test = resolve_dataset(f"synth:{tiny_synth}", split="test_biased")
    (res,) = evaluate_frozen(result.method.eval_encoder(), cfg, train.records, {"test_biased": test.records},
                             progress=False)
    assert res.num_videos == 20
    assert res.linear_top1 > 0.2  # chance is 0.1 over 10 classes


def test_supervised_baseline_fits_its_training_labels(tiny_synth, tmp_path):
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "sup", "supervised", steps=30))
    result = pretrain(cfg)
    accs = [h["train_acc"] for h in result.history]
    assert np.mean(accs[-5:]) > np.mean(accs[:5])
    assert json.loads((result.out_dir / "encoder.json").read_text())["method"] == "supervised"


def test_corrupt_video_is_skipped_and_counted(tiny_synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    victim = data / "videos" / "train" / "train_00003.mp4"
    victim.write_bytes(victim.read_bytes()[:200])  # truncated mid-header
    (data / "videos" / "train" / "train_00005.mp4").unlink()  # and one missing
    cfg = load_config(config_path("demo"), tiny_overrides(data, tmp_path / "run", "rgb_only", steps=12))
    result = pretrain(cfg)
    assert result.skipped_videos >= 2
    assert np.isfinite(result.history[-1]["loss"])
