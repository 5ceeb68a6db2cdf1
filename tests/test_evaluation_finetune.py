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
    from modist.flow.inputs import InputPipeline

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
    block = results["protocols"]["finetune:modist"]
    assert row["preset"] == "modist" and block["name"] == "modist" and block["values"]["epochs"] == 30
    assert block["values"]["flip"] is False and block["values"]["test_crop_size"] == 32
    assert block["overridden"] == ["clip_frames", "crop_size", "batch_size", "temporal_views"]
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
    assert scratch.weights is None and scratch.trained_on.method == "scratch"
    assert scratch.settings() == trained.settings()
    assert (scratch.spec.arch, scratch.spec.base_width) == ("r3d_tiny", 4)
    same_shapes = {k: v.shape for k, v in trained.backbone.state_dict().items()}
    assert {k: v.shape for k, v in scratch.backbone.state_dict().items()} == same_shapes
    stem = "stem.0.weight"
    assert not torch.equal(scratch.backbone.state_dict()[stem], trained.backbone.state_dict()[stem])
    default = scratch_encoder(arch="r3d_tiny", base_width=4)
    assert default.spec.base_width == 4 and default.clip_frames == 8
    # Overrides return copies, as everywhere else: the encoder they start from is unchanged.
    short = replace(trained).with_overrides(short_side=48)
    assert short.short_side == 48 and trained.short_side == 0


def test_cache_videos_reaches_the_frame_cache(tmp_path):
    from modist.cli import evaluate
    from modist.cli.main import build_parser

    argv = ["eval", "finetune", "--from-scratch", "--dataset", "synth:x", "--cache-videos", "7", "--device", "cpu"]
    spec = evaluate._spec(build_parser(argv).parse_args(argv))
    assert spec.frame_cache == 7 and spec.device == torch.device("cpu")


def test_precise_bn_sets_running_stats_to_the_mean_and_variance_of_the_data():
    from torch import nn

    from modist.evaluation.precise_bn import update_bn_stats

    torch.manual_seed(0)
    # A fixed linear map, BN, dropout: BN's input is h = x W^T + b, checkable by hand.
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2, momentum=0.1), nn.Dropout(0.5), nn.ReLU(),
                        nn.Linear(2, 2), nn.BatchNorm1d(2))
    net.train()
    seen_modes = []
    net[2].register_forward_pre_hook(lambda m, i: seen_modes.append((m.training, torch.is_grad_enabled())))
    batches = [torch.randn(4, 3) * 3 + 1, torch.randn(6, 3), torch.randn(5, 3) - 2]  # unequal sizes
    weight = net[0].weight.detach().clone()
    assert update_bn_stats(net, iter(batches), num_batches=2) == 2  # only the first two batches count
    h = torch.cat(batches[:2]) @ weight.T + net[0].bias.detach()
    torch.testing.assert_close(net[1].running_mean, h.mean(0))
    torch.testing.assert_close(net[1].running_var, h.var(0, unbiased=False))
    # Dropout stayed in eval mode and nothing recorded gradients; modes and momentum are restored.
    assert seen_modes == [(False, False), (False, False)]
    assert all(m.training for m in net.modules()) and net[1].momentum == 0.1
    assert torch.equal(net[0].weight, weight) and net[0].weight.grad is None

    # BN3d: every position of every clip is a sample, so batches weigh by their element counts.
    bn = nn.BatchNorm3d(2).eval()
    clips = [torch.randn(2, 2, 3, 4, 4) + 5, torch.randn(3, 2, 1, 2, 2) * 2]
    update_bn_stats(bn, clips, 10)
    flat = torch.cat([c.transpose(0, 1).reshape(2, -1) for c in clips], dim=1)
    torch.testing.assert_close(bn.running_mean, flat.mean(1))
    torch.testing.assert_close(bn.running_var, flat.var(1, unbiased=False))
    assert not bn.training  # its mode is restored


def test_finetune_recomputes_bn_statistics_over_training_batches_before_testing(tiny_synth, monkeypatch):
    from modist.evaluation import finetune as finetune_module

    train = resolve_dataset(f"synth:{tiny_synth}", split="train").records[:8]
    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32, clip_frames=4)
    calls = []
    real = finetune_module.update_bn_stats

    def spy(model, batches, num_batches):
        calls.append((model.training, num_batches))
        return real(model, batches, num_batches)

    monkeypatch.setattr(finetune_module, "update_bn_stats", spy)
    recipe = FinetuneRecipe(epochs=1, expand_dataset=3, batch_size=4, precise_bn_batches=200, max_steps=2,
                            temporal_views=1, spatial_views=1)
    result = finetune(enc, train, {}, 10, recipe, progress=False)
    assert calls == [(True, 6)]  # min(200, the 8 x 3 / 4 batches of an epoch)
    bn = result.model.backbone.stem[1]
    assert bn.num_batches_tracked.item() == 2 + 6  # two training steps, then six precise-BN batches
    plain = finetune(enc, train, {}, 10, FinetuneRecipe(**{**recipe.__dict__, "precise_bn_batches": 0}),
                     progress=False)
    assert len(calls) == 1 and plain.model.backbone.stem[1].num_batches_tracked.item() == 2


def test_maclr_linear_trains_the_classifier_online_on_a_frozen_backbone(tiny_synth, tmp_path, monkeypatch):
    from modist.evaluation import finetune as finetune_module
    from modist.evaluation import presets

    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    enc = load_eval_encoder(ckpt)
    train = resolve_dataset(f"synth:{tiny_synth}", split="train").records[:8]
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    augments = []

    class SpyAugment(finetune_module.PairedAugment):
        def __call__(self, rgb, flow=None, **kw):
            augments.append((self.train, self.flip, self.scale, self.ratio))
            return super().__call__(rgb, flow, **kw)

    monkeypatch.setattr(finetune_module, "PairedAugment", SpyAugment)
    modes = []
    enc.backbone.register_forward_pre_hook(lambda m, i: modes.append(m.training))  # deepcopy keeps the hook
    values = presets.values(presets.resolve("linear", "maclr", overrides={"batch_size": 4, "expand_dataset": 2}))
    recipe = FinetuneRecipe.from_values(values, max_steps=3)
    assert recipe.lr == 32.0 and recipe.frozen_backbone
    result = finetune(enc, train, {"train": train[:2]}, 10, recipe, progress=False)
    assert len(result.history) == 3
    # Online: every step augments fresh clips (random resized crop, flip) and runs them through the backbone.
    assert augments == [(True, True, (0.3, 1.0), (0.5, 2.0))] * 3
    assert modes[:3] == [False, False, False]  # the frozen backbone runs in eval mode while training
    # Frozen: weights and BN statistics exactly the checkpoint's; the classifier moved from N(0, 0.01^2).
    for k, v in result.model.backbone.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(not p.requires_grad for p in result.model.backbone.parameters())
    assert result.model.fc.weight.abs().max() > 0.1
    assert result.splits["train"].protocol == "linear"


def test_finetune_stops_in_one_line_when_no_training_video_is_readable(tmp_path):
    from modist.data.records import VideoRecord
    from modist.errors import DataError

    enc = EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32, clip_frames=4)
    missing = [VideoRecord(str(tmp_path / f"{i}.mp4"), i % 2) for i in range(4)]
    for recipe, task in ((FinetuneRecipe(batch_size=2), "finetune"),
                         (FinetuneRecipe(batch_size=2, frozen_backbone=True), "linear")):
        with pytest.raises(DataError, match=rf"^{task}: no readable training videos \(every batch was skipped\)$"):
            finetune(enc, missing, {}, 2, recipe, progress=False)
