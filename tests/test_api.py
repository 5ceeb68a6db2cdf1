"""The top-level Python API: ``modist.load_encoder``, ``Encoder.preprocess`` and ``modist.embed``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import modist
from modist.errors import ConfigError, DataError
from modist.models.encoder_io import META, EncoderSpec, save_encoder

torch.set_num_threads(1)

D = 32  # r3d_tiny at base width 4
CLIP = {"clip_frames": 4, "stride": 2, "crop_size": 32}


def _export(out_dir, modality="rgb", **extra):
    torch.manual_seed(0)
    spec = EncoderSpec("r3d_tiny", 3 if modality == "rgb" else 1, base_width=4, modality=modality)
    save_encoder(out_dir, spec.build(), spec, {"method": "test", **CLIP, **extra})
    return out_dir


def _edit_meta(run, **changes):
    record = json.loads((run / META).read_text())
    record.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del record[key]
    (run / META).write_text(json.dumps(record))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """20 frames of 40 x 56 px: a bright square moving right over noise."""
    from modist.data.video import write_video

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 80, (20, 40, 56, 3), dtype=np.uint8)
    for t in range(20):
        frames[t, 12:28, 2 * t:2 * t + 16] = 230
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, frames, fps=10)
    return path


def test_import_modist_does_not_import_torch_until_the_api_is_used():
    code = ("import sys, modist\n"
            "print('torch' in sys.modules, sorted(set(modist.__all__) & set(dir(modist))))\n"
            "modist.load_encoder\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["False ['Encoder', '__version__', 'embed', 'load_encoder']", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        modist.nope  # noqa: B018


def test_loaded_encoder_is_in_eval_mode_and_a_call_changes_nothing(run):
    from modist.models.run_files import read_encoder

    enc = modist.load_encoder(run)
    assert isinstance(enc, torch.nn.Module) and isinstance(enc, modist.Encoder)
    assert not any(m.training for m in enc.modules())
    assert enc.device == torch.device("cpu") and enc.spec == EncoderSpec("r3d_tiny", 3, base_width=4)
    assert not read_encoder(run).module.training  # the lower-level loader too
    buffers = {k: v.clone() for k, v in enc.state_dict().items() if "running" in k}
    assert buffers
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        first, second = enc(x), enc(x)
    assert first.shape == (2, D) and torch.equal(first, second)
    assert all(torch.equal(v, enc.state_dict()[k]) for k, v in buffers.items())
    # The same encoder through the weights file instead of the folder.
    with torch.no_grad():
        assert torch.equal(modist.load_encoder(run / "encoder.safetensors")(x), first)


def _ramp(num_frames, h=37, w=53):
    """Frame t is the flat grey level 4 t: which frames were picked shows in the clip's values."""
    return np.broadcast_to((4 * np.arange(num_frames, dtype=np.uint8))[:, None, None, None],
                           (num_frames, h, w, 3)).copy()


@pytest.mark.parametrize(("num_frames", "picked"), [(40, [16, 18, 20, 22]), (5, [0, 2, 4, 4]), (4, [0, 1, 2, 3])])
def test_preprocess_picks_centred_strided_frames_of_odd_sizes(run, num_frames, picked):
    enc = modist.load_encoder(run)
    frames = _ramp(num_frames)
    x = enc.preprocess(frames)
    assert x.shape == (1, 3, 4, 32, 32) and x.dtype == torch.float32
    expected = (4 * np.array(picked) / 255 - 0.45) / 0.225  # one flat value per clip frame
    np.testing.assert_allclose(x[0, :, :, :, :].amin(dim=(0, 2, 3)), expected, atol=1e-5)
    np.testing.assert_allclose(x[0, :, :, :, :].amax(dim=(0, 2, 3)), expected, atol=1e-5)
    # A tensor and a list of frames are the same input as the array.
    assert torch.equal(enc.preprocess(torch.from_numpy(frames)), x)
    assert torch.equal(enc.preprocess(list(frames)), x)


def test_preprocess_takes_the_centre_square(run):
    enc = modist.load_encoder(run)
    frames = np.full((4, 37, 53, 3), 255, np.uint8)
    frames[:, :, 8:45] = 0  # the centre 37 x 37 square of a 53 px wide frame is columns 8..44
    x = enc.preprocess(frames)
    np.testing.assert_allclose(x.numpy(), (0 - 0.45) / 0.225, atol=1e-5)  # nothing of the white sides


def test_normalisation_comes_from_encoder_json(tmp_path):
    frames = np.empty((4, 20, 24, 3), np.uint8)
    frames[...] = (51, 102, 153)  # 0.2, 0.4, 0.6 after / 255
    default = modist.load_encoder(_export(tmp_path / "default"))
    assert json.loads((tmp_path / "default" / META).read_text())["mean"] == [0.45, 0.45, 0.45]
    channel_values = default.preprocess(frames)[0, :, 0, 0, 0]
    np.testing.assert_allclose(channel_values, [(0.2 - 0.45) / 0.225, (0.4 - 0.45) / 0.225, (0.6 - 0.45) / 0.225],
                               atol=1e-5)
    custom = modist.load_encoder(_export(tmp_path / "custom", mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 0.2]))
    assert (custom.mean, custom.std) == ((0.1, 0.2, 0.3), (0.5, 0.25, 0.2))
    x = custom.preprocess(frames)
    np.testing.assert_allclose(x[0, :, 0, 0, 0], [(0.2 - 0.1) / 0.5, (0.4 - 0.2) / 0.25, (0.6 - 0.3) / 0.2],
                               atol=1e-5)
    one_number = modist.load_encoder(_export(tmp_path / "scalar", mean=0.5, std=0.25))
    np.testing.assert_allclose(one_number.preprocess(frames)[0, :, 0, 0, 0], [-1.2, -0.4, 0.4], atol=1e-5)
    _edit_meta(tmp_path / "scalar", std=[0.2, 0.0, 0.2])
    with pytest.raises(DataError, match=rf"^\S*{META}: std must be positive, got \[0.2, 0.0, 0.2\]$"):
        modist.load_encoder(tmp_path / "scalar")


def test_an_older_encoder_json_falls_back_to_modists_inputs(run, tmp_path):
    old = _export(tmp_path / "old", short_side=24)
    assert modist.load_encoder(old).short_side == 24
    _edit_meta(old, mean=None, std=None, short_side=None)
    assert not {"mean", "std", "short_side"} & set(json.loads((old / META).read_text()))
    enc = modist.load_encoder(old)
    assert (enc.mean, enc.std, enc.short_side) == ((0.45,) * 3, (0.225,) * 3, 0)
    frames = np.random.default_rng(1).integers(0, 256, (9, 30, 40, 3), dtype=np.uint8)
    assert torch.equal(enc.preprocess(frames), modist.load_encoder(run).preprocess(frames))


def test_a_decode_short_side_resizes_before_the_crop(tmp_path):
    enc = modist.load_encoder(_export(tmp_path / "short", short_side=16))
    frames = np.random.default_rng(2).integers(0, 256, (4, 37, 53, 3), dtype=np.uint8)
    x = enc.preprocess(frames)
    assert x.shape == (1, 3, 4, 32, 32)
    enc.short_side = 0  # the same crop without the area-filtered downscale first: other pixel values
    assert not torch.allclose(enc.preprocess(frames), x, atol=1e-3)


@pytest.mark.parametrize(("frames", "got"), [
    (np.zeros((4, 8, 8, 3), np.float32), "float32 [4, 8, 8, 3]"),
    (torch.zeros(4, 8, 8, 3), "float32 [4, 8, 8, 3]"),
    (np.zeros((8, 8, 3), np.uint8), "uint8 [8, 8, 3]"),
    (np.zeros((4, 3, 8, 8), np.uint8), "uint8 [4, 3, 8, 8]"),
    (np.zeros((0, 8, 8, 3), np.uint8), "uint8 [0, 8, 8, 3]"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)], "not arrays of one size"),
    ("clip.mp4", "got str"),
])
def test_bad_frames_are_one_line_value_errors_naming_the_expected_shape(run, frames, got):
    enc = modist.load_encoder(run)
    with pytest.raises(ValueError, match=r"uint8 RGB frames \[T, H, W, 3\]") as err:
        enc.preprocess(frames)
    assert got in str(err.value) and "\n" not in str(err.value)


def test_the_encoder_names_its_input_and_motion_encoders_refuse_frames(run, video, tmp_path):
    enc = modist.load_encoder(run)
    with pytest.raises(ValueError, match=r"^the encoder takes a float clip \[B, 3, T, H, W\] .*got torch.uint8"):
        enc(torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8))
    motion = modist.load_encoder(_export(tmp_path / "motion", modality="motion"))
    assert "mean" not in json.loads((tmp_path / "motion" / META).read_text())  # not RGB input
    with pytest.raises(ValueError, match=r"^this encoder takes motion input \(1-channel encoded optical flow\)"):
        motion.preprocess(_ramp(4))
    emb = modist.embed(motion, [video], num_clips=1)  # from the video, whose flow it computes
    assert emb.shape == (1, D) and np.isfinite(emb).all()
    with pytest.raises(ConfigError, match="^invalid value 'gpu' for device$"):
        modist.load_encoder(run, device="gpu")


def test_embed_returns_one_row_per_video_as_the_encoder_sees_its_clip(run, video, tmp_path):
    from modist.data.video import read_video
    from modist.evaluation.embed import embed_videos

    emb = modist.embed(run, [video], num_clips=1)
    assert emb.shape == (1, D) and emb.dtype == np.float32
    _, same = embed_videos(run, [str(video)], num_clips=1, device="cpu", progress=False)
    np.testing.assert_array_equal(emb, same)
    # One clip of the decoded video through preprocess and the network: the same numbers.
    enc = modist.load_encoder(run)
    with torch.no_grad():
        by_hand = enc(enc.preprocess(read_video(video).frames)).numpy()
    np.testing.assert_allclose(emb, by_hand, rtol=1e-4, atol=1e-5)
    # An Encoder object, a single path, and the mean over clips.
    np.testing.assert_array_equal(modist.embed(enc, video, num_clips=1), emb)
    assert not np.allclose(modist.embed(enc, [video, video], num_clips=3)[1], emb[0], atol=1e-4)
    assert enc.device == torch.device("cpu") and not enc.training
    with pytest.raises(DataError, match=r"absent\.mp4: video could not be read \(1 of 2 unreadable\)$"):
        modist.embed(enc, [video, tmp_path / "absent.mp4"], num_clips=1)


def test_embed_applies_the_encoders_own_normalisation(video, tmp_path):
    from modist.data.video import read_video

    enc = modist.load_encoder(_export(tmp_path / "custom", mean=[0.3, 0.4, 0.5], std=[0.3, 0.3, 0.3]))
    emb = modist.embed(enc, [video], num_clips=1)
    assert not any(m.training for m in enc.modules())  # embedding leaves the encoder as it found it
    with torch.no_grad():
        by_hand = enc(enc.preprocess(read_video(video).frames)).numpy()
    np.testing.assert_allclose(emb, by_hand, rtol=1e-4, atol=1e-5)
    plain = modist.embed(_export(tmp_path / "plain"), [video], num_clips=1)  # same weights, modist's statistics
    assert not np.allclose(emb, plain, atol=1e-3)
