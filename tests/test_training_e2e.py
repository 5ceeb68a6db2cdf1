import json
import shutil

import numpy as np
import pytest
import torch

from modist.config import load_config
from modist.configs import config_path
from modist.evaluation.encoder import load_eval_encoder
from modist.evaluation.runner import EvalSpec, run_frozen
from modist.models.run_files import load_checkpoint, read_encoder
from modist.training.trainer import pretrain

from conftest import tiny_overrides


def test_short_modist_run_lowers_the_loss_and_its_probe_beats_chance(tiny_synth, tmp_path):
    # Without colour augmentation instance discrimination is learnable in a few dozen steps.
    overrides = ["data.color_jitter=0", "data.grayscale_prob=0", "data.crop_scale_min=1.0", "optim.lr=0.003"]
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "run", steps=30) + overrides)
    result = pretrain(cfg)
    visual = [h["loss_vv"] for h in result.history]
    # The first steps are trivially easy (random queue, keys equal to queries); once the
    # queue holds real keys (after 4 batches of 8 with a queue of 32) the visual term must
    # fall. The cross-modal terms need far more steps than a unit test has (docs/demo.md).
    assert np.mean(visual[-5:]) < np.mean(visual[4:9]) - 0.3
    assert all(np.isfinite(h["loss"]) for h in result.history)

    out = result.out_dir
    for name in ("checkpoint.pt", "config.yaml", "encoder.safetensors", "encoder.json", "curves.png", "metrics.jsonl"):
        assert (out / name).is_file(), name
    assert load_config(out / "config.yaml") == cfg  # resolved config saved beside the checkpoint
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 30
    saved = read_encoder(out)
    encoder = saved.module
    assert saved.spec.modality == "rgb" and saved.trained_on.method == cfg.method.name
    x = torch.randn(2, 3, 8, 32, 32)
    encoder.eval()
    result.method.eval_encoder().eval()
    assert torch.allclose(encoder(x), result.method.eval_encoder()(x), atol=1e-5)



def test_supervised_run_fits_its_labels_and_its_frozen_probe_beats_chance(tiny_synth, tmp_path):
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "sup", "supervised", steps=60)
                      + ["optim.lr=0.003", "data.color_jitter=0", "data.grayscale_prob=0"])
    result = pretrain(cfg)
    accs = [h["train_acc"] for h in result.history]
    assert np.mean(accs[-5:]) > np.mean(accs[:5]) + 0.1
    assert json.loads((result.out_dir / "encoder.json").read_text())["method"] == "supervised"

    # The frozen-feature protocol end to end: features of the training split, a linear
    # probe and kNN. Evaluated on the training videos themselves, the probe must be far
    # above chance (0.1); generalising to the test splits takes the demo's scale (4 videos
    # per class are memorised by colour, not by scene or motion).
    spec = EvalSpec(f"synth:{tiny_synth}", test_splits=("train", "test_biased"), temporal_views=2, cache_dir="",
                    progress=False, allow_same_split=True)
    results, _, _ = run_frozen(load_eval_encoder(result.out_dir), spec, ("linear", "knn"))
    top1 = {(r.protocol, r.split): r.metrics["top1"] for r in results}
    assert {r.split: r.num_videos for r in results} == {"train": 40, "test_biased": 20}
    assert top1["linear", "train"] > 0.5
    assert 0.0 <= top1["linear", "test_biased"] <= 1.0 and 0.0 <= top1["knn", "test_biased"] <= 1.0


def test_corrupt_video_is_skipped_and_counted(tiny_synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    victim = data / "videos" / "train" / "train_00003.mp4"
    victim.write_bytes(victim.read_bytes()[:200])  # truncated mid-header
    (data / "videos" / "train" / "train_00005.mp4").unlink()  # and one missing
    cfg = load_config(config_path("demo"), tiny_overrides(data, tmp_path / "run", "rgb_only", steps=12))
    result = pretrain(cfg)
    # Distinct unreadable files, however often they were drawn; the missing one is left out by the adapter.
    assert result.skipped_videos == 1 and result.skipped_paths == [str(victim)]
    assert np.isfinite(result.history[-1]["loss"])


def test_a_dataset_without_readable_videos_stops_with_one_error(tiny_synth, tmp_path):
    from modist.errors import DataError

    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    for video in (data / "videos" / "train").glob("*.mp4"):
        video.write_bytes(b"not a video")
    cfg = load_config(config_path("demo"), tiny_overrides(data, tmp_path / "run", "rgb_only", steps=5))
    # Before this check the loop drew batches forever.
    with pytest.raises(DataError, match="batches in a row without two readable videos"):
        pretrain(cfg)


def test_train_threads_apply_to_the_run_only(tiny_synth, tmp_path):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    seen = []
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "run", steps=2) + [
        "model.base_width=4", "data.clip_frames=4", f"train.threads={wanted}"])
    pretrain(cfg, on_step=lambda step, record: seen.append(torch.get_num_threads()))
    assert seen == [wanted, wanted] and torch.get_num_threads() == before
