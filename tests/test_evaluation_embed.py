"""``modist embed`` and ``embed_videos``: round trip, skipped videos, motion encoders."""

import shutil

import numpy as np
import pytest
import torch

from modist.cli.main import main
from modist.data.adapters import resolve_dataset
from modist.evaluation.embed import embed, embed_videos
from modist.models.encoder_io import EncoderSpec, save_encoder

torch.set_num_threads(1)


def tiny_checkpoint(out_dir, modality: str = "rgb", seed: int = 0):
    """An exported random-init r3d_tiny (width 4) as pretraining writes it."""
    torch.manual_seed(seed)
    in_channels = 3 if modality == "rgb" else 1
    spec = EncoderSpec("r3d_tiny", in_channels, base_width=4, modality=modality)
    save_encoder(out_dir, spec.build(), spec, {"method": "test", "clip_frames": 4, "stride": 2, "crop_size": 32})
    return out_dir


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def test_cli_round_trip_matches_dataset_and_python_call(tiny_synth, ckpt, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    spec = f"synth:{tiny_synth}"
    code = main(["embed", "--checkpoint", str(ckpt), "--input", spec, "--split", "test_unbiased", "--out", str(out),
                 "--num-clips", "2", "--batch-size", "4", "--device", "cpu", "--no-progress"])
    assert code == 0
    assert "embedded 20 video(s) as 32-d vectors" in capsys.readouterr().out
    ds = resolve_dataset(spec, split="test_unbiased")
    with np.load(out) as data:
        assert data["embeddings"].shape == (len(ds), 32)
        assert data["paths"].tolist() == [r.path for r in ds.records]
        assert data["labels"].tolist() == [r.label for r in ds.records]
        assert data["class_names"].tolist() == ds.class_names
        saved = data["embeddings"]
    paths, emb = embed_videos(ckpt / "encoder.safetensors", ds, num_clips=2, batch_size=3, device="cpu",
                              progress=False)
    assert paths == [r.path for r in ds.records]
    np.testing.assert_allclose(emb, saved, rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_embedding_is_the_mean_over_clips(tiny_synth, ckpt):
    ds = resolve_dataset(f"synth:{tiny_synth}", split="test_biased")
    one = ds.records[:1]
    _, two_clips = embed_videos(ckpt, one, num_clips=2, device="cpu", progress=False)
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.features import extract_view_features
    from modist.evaluation.multiview import ViewPipeline

    enc = load_eval_encoder(ckpt)
    per_view = extract_view_features(enc.backbone, one, source=enc.clip_source(), inputs=ViewPipeline(32),
                                     modality="rgb", clip_frames=4, stride=2, num_clips=2, progress=False)
    np.testing.assert_allclose(two_clips[0], per_view.features[0].mean(0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(per_view.features[0, 0], per_view.features[0, 1])  # the clips differ


def test_corrupt_and_missing_videos_are_skipped_and_counted(tiny_synth, ckpt, tmp_path, capsys):
    videos = sorted((tiny_synth / "videos" / "test_biased").glob("*.mp4"))[:5]
    folder = tmp_path / "clips"
    folder.mkdir()
    for v in videos:
        shutil.copy(v, folder / v.name)
    broken = folder / videos[1].name
    broken.write_bytes(broken.read_bytes()[:300])  # truncated mid-header
    out = tmp_path / "clips.npz"
    code = main(["embed", "--checkpoint", str(ckpt), "--input", str(folder), "--out", str(out), "--num-clips", "1",
                 "--device", "cpu", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0
    assert "embedded 4 video(s)" in text and "skipped 1 unreadable video(s)" in text and videos[1].name in text
    with np.load(out) as data:
        assert len(data["paths"]) == 4 and str(broken) not in data["paths"].tolist()
        assert "labels" not in data  # an unlabeled folder
    result = embed(ckpt, [*map(str, sorted(folder.glob("*.mp4"))), str(folder / "absent.mp4")], num_clips=1,
                   device="cpu", progress=False)
    assert result.skipped == 2 and sorted(result.skipped_paths) == sorted([str(broken), str(folder / "absent.mp4")])


def test_motion_encoder_embeds_flow(tiny_synth, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "motion", modality="motion")
    ds = resolve_dataset(f"synth:{tiny_synth}", split="test_unbiased")
    paths, emb = embed_videos(ckpt, ds.records[:3], num_clips=1, device="cpu", progress=False)
    assert len(paths) == 3 and emb.shape == (3, 32) and np.isfinite(emb).all()
    assert emb.std(0).max() > 0  # the videos' flow differs, so do their embeddings


def test_bad_arguments_are_one_line_errors(ckpt, tmp_path, capsys):
    code = main(["embed", "--checkpoint", str(tmp_path / "nope"), "--input", str(tmp_path), "--out",
                 str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and err.count("\n") == 1
    code = main(["embed", "--checkpoint", str(ckpt), "--input", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "nowhere" in err and err.count("\n") == 1
    assert not (tmp_path / "x.npz").exists()


def test_the_library_names_its_parameters_and_the_command_its_flags(ckpt, tmp_path, capsys):
    from modist.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^num_clips must be >= 1, got 0$"):
        embed(ckpt, [str(tmp_path / "a.mp4")], num_clips=0, progress=False)
    with pytest.raises(ConfigError, match=r"^invalid value 'gpu' for device$"):
        embed(ckpt, [str(tmp_path / "a.mp4")], device="gpu", progress=False)
    common = ["embed", "--checkpoint", str(ckpt), "--input", str(tmp_path), "--out", str(tmp_path / "x.npz")]
    for extra, message in [(["--num-clips", "0"], "--num-clips must be >= 1, got 0"),
                           (["--crop-size", "0"], "--crop-size must be >= 1, got 0"),
                           (["--device", "gpu"], "invalid value 'gpu' for --device")]:
        assert main([*common, *extra]) == 2
        assert capsys.readouterr().err == f"modist: error: {message}\n"
    assert main([*common[:-1], str(tmp_path / "x.npy")]) == 2  # before any video is read
    assert "must end in .npz" in capsys.readouterr().err
