"""End-to-end finetuning and the supervised-from-scratch baseline on the tiny synthetic set."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from modist.cli.main import main
from modist.data.adapters import resolve_dataset
from modist.evaluation.encoder import EvalEncoder, load_eval_encoder
from modist.evaluation.finetune import FinetuneRecipe, RandomClipDataset, evaluate_views, finetune
from modist.models.classifier import VideoClassifier

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)


def test_a_few_finetuning_steps_raise_training_accuracy(tiny_synth):
    train = resolve_dataset(f"synth:{tiny_synth}", split="train").records  # 40 videos, 10 classes
    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32)
    recipe = FinetuneRecipe(epochs=20, batch_size=8, lr=0.05, dropout=0.0, warmup_epochs=0, flip=False,
                            temporal_views=1, spatial_views=1)
    before = finetune(enc, train, {"train": train}, 10, FinetuneRecipe(**{**recipe.__dict__, "max_steps": 0}),
                      progress=False)
    after = finetune(enc, train, {"train": train}, 10, recipe, progress=False)
    assert len(before.history) == 0 and len(after.history) == 20 * 5
    acc0, acc1 = before.splits["train"].metrics["top1"], after.splits["train"].metrics["top1"]
    assert acc1 >= acc0, (acc0, acc1)
    # Training accuracy over the last steps, with augmentation, versus the first steps.
    running = [h["train_acc"] for h in after.history]
    assert np.mean(running[-20:]) > np.mean(running[:20]) + 0.05, (running[:20], running[-20:])
    losses = [h["loss"] for h in after.history]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    # The warm-up-free cosine schedule starts at the peak rate and ends near 0.
    assert after.history[0]["lr"] == pytest.approx(0.05) and after.history[-1]["lr"] < 0.001


def test_finetuning_starts_from_the_checkpoint_and_leaves_it_untouched(tiny_synth, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    enc = load_eval_encoder(ckpt)
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    train = resolve_dataset(f"synth:{tiny_synth}", split="train").records[:8]
    result = finetune(enc, train, {}, 10, FinetuneRecipe(batch_size=4, max_steps=0), progress=False)
    saved = load_file(str(ckpt / "encoder.safetensors"))
    for k, v in result.model.backbone.state_dict().items():
        assert torch.equal(v, saved[k]), k  # zero steps: exactly the pretrained weights
    finetune(enc, train, {}, 10, FinetuneRecipe(batch_size=4, max_steps=2), progress=False)
    assert all(torch.equal(v, before[k]) for k, v in enc.backbone.state_dict().items())


def test_multi_view_testing_averages_view_probabilities(tiny_synth):
    records = resolve_dataset(f"synth:{tiny_synth}", split="test_unbiased").records[:3]
    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32, clip_frames=4)
    torch.manual_seed(0)
    model = VideoClassifier(enc.backbone, 10, dropout=0.5)
    res = evaluate_views(model, enc, records, 10, temporal_views=2, spatial_views=3, progress=False)
    # By hand: each of the 2 x 3 views on its own (1 x 1 pipelines over hand-picked crops) then the mean softmax.
    from modist.data.clips import MultiClipDataset, collate_clips
    from modist.evaluation.multiview import SpatialCrop
    from modist.models.inputs import InputPipeline

    batch = collate_clips([MultiClipDataset(records, enc.clip_source(), 4, 2, 2)[i] for i in range(3)])
    model.eval()
    probs = torch.zeros(3, 10)
    with torch.no_grad():
        for s in range(3):
            rgb, _ = InputPipeline(SpatialCrop(32, s, 3), "flow_edges")(batch, torch.device("cpu"), False)
            for t in range(2):
                probs += model(rgb[t]).softmax(-1) / 6
    np.testing.assert_array_equal(res.pred, probs.argmax(1).numpy())
    assert res.extra["views"] == "2x3"


def test_random_clip_dataset_draws_one_clip_per_video(tiny_synth):
    records = resolve_dataset(f"synth:{tiny_synth}", split="train").records[:1]
    enc = EvalEncoder.from_scratch(crop_size=32)
    ds = RandomClipDataset(records, enc.clip_source(), 4, 2)
    torch.manual_seed(0)
    clips = [ds[0]["rgb"] for _ in range(6)]
    assert clips[0].shape[:2] == (1, 4)
    assert any(not torch.equal(clips[0], c) for c in clips[1:])  # starts vary


def test_cli_from_scratch_baseline_writes_results_curves_and_weights(tiny_synth, tmp_path, capsys):
    out = tmp_path / "scratch"
    code = main(["eval", "finetune", "--from-scratch", "--arch", "r3d_tiny", "--base-width", "4", "--crop-size", "32",
                 "--clip-frames", "4", "--dataset", f"synth:{tiny_synth}", "--test-split", "test_unbiased",
                 "--out", str(out), "--max-steps", "4", "--train-batch", "8", "--temporal-views", "2",
                 "--spatial-views", "3", "--device", "cpu", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0 and "finetuned from scratch for 4 steps" in text
    results = json.loads((out / "results.json").read_text())
    (row,) = results["results"]
    assert row["protocol"] == "finetune" and row["split"] == "test_unbiased" and row["views"] == "2x3"
    assert row["num_videos"] == 20 and 0 <= row["top1"] <= row["top5"] <= 1
    meta = results["meta"]
    assert meta["from_scratch"] and meta["recipe"]["flip"] is False  # auto: off for synth
    assert meta["recipe"]["crop_scale"] == [0.3, 1.0] and meta["recipe"]["grayscale_prob"] == 0.5
    for name in ("results.md", "curves_finetune.png", "confusion_finetune_test_unbiased.png",
                 "per_class_finetune_test_unbiased.png", "finetuned.safetensors"):
        assert (out / name).is_file(), name
    weights = load_file(str(out / "finetuned.safetensors"))
    assert weights["fc.weight"].shape == (10, 32)


def test_scratch_encoder_copies_the_checkpoints_network_and_inputs_not_its_weights(tmp_path):
    from dataclasses import replace

    from modist.evaluation.encoder import scratch_encoder

    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    trained = load_eval_encoder(ckpt)
    torch.manual_seed(1)
    scratch = scratch_encoder(ckpt)
    assert scratch.weights is None and scratch.meta["method"] == "scratch"
    assert scratch.settings() == trained.settings()
    assert (scratch.meta["arch"], scratch.meta["base_width"]) == ("r3d_tiny", 4)
    same_shapes = {k: v.shape for k, v in trained.backbone.state_dict().items()}
    assert {k: v.shape for k, v in scratch.backbone.state_dict().items()} == same_shapes
    stem = "stem.0.weight"
    assert not torch.equal(scratch.backbone.state_dict()[stem], trained.backbone.state_dict()[stem])
    default = scratch_encoder(arch="r3d_tiny", base_width=4)
    assert default.meta["base_width"] == 4 and default.clip_frames == 8
    # Overrides return copies, as everywhere else: the encoder they start from is unchanged.
    short = replace(trained).with_overrides(short_side=48)
    assert short.short_side == 48 and trained.short_side == 0


def test_cache_videos_reaches_the_frame_cache(tmp_path):
    from modist.cli import evaluate
    from modist.cli.main import build_parser

    argv = ["eval", "finetune", "--from-scratch", "--dataset", "synth:x", "--cache-videos", "7", "--device", "cpu"]
    spec = evaluate._spec(build_parser(argv).parse_args(argv))
    assert spec.frame_cache == 7 and spec.device == torch.device("cpu")
