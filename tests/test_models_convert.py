"""`modist convert`: PySlowFast / pytorchvideo / mmaction2 state dicts to and from modist encoders.

The source state dicts are written here from the sources' own module names and shapes
(PySlowFast ``resnet_helper``/``stem_helper``, pytorchvideo ``create_resnet``, mmaction2
``ResNet3d``/``ResNet3dSlowOnly`` inside a ``Recognizer3D``), independently of the mapping
under test.
"""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from modist.cli.main import main
from modist.errors import ConfigError, DataError
from modist.evaluation.encoder import load_eval_encoder
from modist.models import interop
from modist.models.run_files import read_encoder

SLOW = (1, 1, 1, 3, 3)
MACLR = (5, 1, 1, 3, 3)
T1 = (1, 1, 1, 1, 1)
R50 = (3, 4, 6, 3)


def _conv(sd, name, cout, cin, kernel, gen):
    sd[f"{name}.weight"] = torch.randn(cout, cin, *kernel, generator=gen) * 0.1


def _bn(sd, name, c, gen):
    sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=gen)
    sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
    sd[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
    sd[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=gen)
    sd[f"{name}.num_batches_tracked"] = torch.tensor(1000)


def _bottleneck_net(names, kernels, width, in_ch=3, seed=0):
    """A ResNet-50 Slow pathway: stem (kt x 7 x 7), [3,4,6,3] bottlenecks, stride in the 1x3x3 conv."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    stem_conv, stem_bn, block_name, roles = names
    _conv(sd, stem_conv, width, in_ch, (kernels[0], 7, 7), gen)
    _bn(sd, stem_bn, width, gen)
    dim_in = width
    for s, depth in enumerate(R50):
        inner, kt = width * 2 ** s, kernels[s + 1]
        out = inner * 4
        for b in range(depth):
            pre = block_name(s, b)
            if b == 0:
                _conv(sd, f"{pre}.{roles['sc']}", out, dim_in, (1, 1, 1), gen)
                _bn(sd, f"{pre}.{roles['sc_bn']}", out, gen)
            _conv(sd, f"{pre}.{roles['a']}", inner, dim_in, (kt, 1, 1), gen)
            _bn(sd, f"{pre}.{roles['a_bn']}", inner, gen)
            _conv(sd, f"{pre}.{roles['b']}", inner, inner, (1, 3, 3), gen)
            _bn(sd, f"{pre}.{roles['b_bn']}", inner, gen)
            _conv(sd, f"{pre}.{roles['c']}", out, inner, (1, 1, 1), gen)
            _bn(sd, f"{pre}.{roles['c_bn']}", out, gen)
            dim_in = out
    return sd


def pyslowfast_slow(kernels=SLOW, width=64, pathway=0, in_ch=3, seed=0, head=True):
    """PySlowFast ResNet (MODEL.ARCH slow / dense_slow): s1.pathwayP_stem, sN.pathwayP_resB.branch1/branch2.a..c."""
    names = (f"s1.pathway{pathway}_stem.conv", f"s1.pathway{pathway}_stem.bn",
             lambda s, b: f"s{s + 2}.pathway{pathway}_res{b}",
             {"sc": "branch1", "sc_bn": "branch1_bn", "a": "branch2.a", "a_bn": "branch2.a_bn",
              "b": "branch2.b", "b_bn": "branch2.b_bn", "c": "branch2.c", "c_bn": "branch2.c_bn"})
    sd = _bottleneck_net(names, kernels, width, in_ch, seed)
    if head:  # ResNetBasicHead
        sd["head.projection.weight"] = torch.zeros(400, width * 32)
        sd["head.projection.bias"] = torch.zeros(400)
    return sd


def pytorchvideo_slow(width=64, seed=0):
    """pytorchvideo create_resnet (hub slow_r50): blocks.0 stem, blocks.1-4 res_blocks, blocks.5 head."""
    names = ("blocks.0.conv", "blocks.0.norm", lambda s, b: f"blocks.{s + 1}.res_blocks.{b}",
             {"sc": "branch1_conv", "sc_bn": "branch1_norm", "a": "branch2.conv_a", "a_bn": "branch2.norm_a",
              "b": "branch2.conv_b", "b_bn": "branch2.norm_b", "c": "branch2.conv_c", "c_bn": "branch2.norm_c"})
    sd = _bottleneck_net(names, SLOW, width, 3, seed)
    sd["blocks.5.proj.weight"] = torch.zeros(400, width * 32)
    sd["blocks.5.proj.bias"] = torch.zeros(400)
    return sd


def mmaction2_slowonly(width=64, seed=0):
    """mmaction2 Recognizer3D with ResNet3dSlowOnly (conv1 (1,7,7), inflate (0,0,1,1)) and I3DHead."""
    names = ("backbone.conv1.conv", "backbone.conv1.bn", lambda s, b: f"backbone.layer{s + 1}.{b}",
             {"sc": "downsample.conv", "sc_bn": "downsample.bn", "a": "conv1.conv", "a_bn": "conv1.bn",
              "b": "conv2.conv", "b_bn": "conv2.bn", "c": "conv3.conv", "c_bn": "conv3.bn"})
    sd = _bottleneck_net(names, SLOW, width, 3, seed)
    sd["cls_head.fc_cls.weight"] = torch.zeros(400, width * 32)
    sd["cls_head.fc_cls.bias"] = torch.zeros(400)
    return sd


def mmaction2_r3d18(width=64, seed=0):
    """mmaction2 ResNet3d depth 18, conv1 (3,7,7), every block inflated 3x3x3 (BasicBlock3d conv1/conv2)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    _conv(sd, "backbone.conv1.conv", width, 3, (3, 7, 7), gen)
    _bn(sd, "backbone.conv1.bn", width, gen)
    dim_in = width
    for s in range(4):
        out = width * 2 ** s
        for b in range(2):
            pre = f"backbone.layer{s + 1}.{b}"
            if b == 0 and s > 0:
                _conv(sd, f"{pre}.downsample.conv", out, dim_in, (1, 1, 1), gen)
                _bn(sd, f"{pre}.downsample.bn", out, gen)
            _conv(sd, f"{pre}.conv1.conv", out, dim_in, (3, 3, 3), gen)
            _bn(sd, f"{pre}.conv1.bn", out, gen)
            _conv(sd, f"{pre}.conv2.conv", out, out, (3, 3, 3), gen)
            _bn(sd, f"{pre}.conv2.bn", out, gen)
            dim_in = out
    sd["cls_head.fc_cls.weight"] = torch.zeros(400, width * 8)
    sd["cls_head.fc_cls.bias"] = torch.zeros(400)
    return sd


HEADS = {"head.projection.weight", "head.projection.bias", "blocks.5.proj.weight", "blocks.5.proj.bias",
         "cls_head.fc_cls.weight", "cls_head.fc_cls.bias"}


def _assert_every_tensor_used_once(conv, source, prefix=""):
    backbone = {k: v for k, v in source.items() if k not in conv.ignored}
    assert conv.used == len(backbone) and not conv.defaulted
    assert len(conv.encoder.state_dict()) == len(backbone)
    # Each source tensor went to exactly one modist tensor: the multisets of values agree.
    ours = sorted(float(v.double().sum()) + 1e-3 * v.numel() for v in conv.encoder.state_dict().values())
    theirs = sorted(float(v.double().sum()) + 1e-3 * v.numel() for v in backbone.values())
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)


@pytest.fixture(scope="module")
def maclr_release():
    """The MaCLR release's layout at full width: a MoCo wrapper (encoder_q/encoder_k) around a dense_slow ResNet."""
    with torch.no_grad():
        net = pyslowfast_slow(MACLR, width=64)
        sd = {f"encoder_q.{k}": v for k, v in net.items()}
        sd["encoder_k.s1.pathway0_stem.conv.weight"] = net["s1.pathway0_stem.conv.weight"].clone()
        sd["queue_x"] = torch.zeros(128, 16)
    return sd


def test_maclr_release_layout_imports_every_tensor(maclr_release):
    with torch.no_grad():
        conv = interop.convert_state_dict(maclr_release, "pyslowfast")
    assert conv.spec.arch == "slow_r50_modist" and conv.spec.width_divisor == 1 and conv.prefix == "encoder_q."
    assert set(conv.ignored) == {"encoder_q.head.projection.weight", "encoder_q.head.projection.bias",
                                 "encoder_k.s1.pathway0_stem.conv.weight", "queue_x"}
    _assert_every_tensor_used_once(conv, maclr_release)
    assert conv.encoder.stem[0].weight.shape == (64, 3, 5, 7, 7)
    assert torch.equal(conv.encoder.stem[0].weight, maclr_release["encoder_q.s1.pathway0_stem.conv.weight"])
    assert torch.equal(conv.encoder.stages[3][2].body[7].running_var,
                       maclr_release["encoder_q.s5.pathway0_res2.branch2.c_bn.running_var"])
    summary = conv.ignored_summary()
    assert all(name in summary for name in conv.ignored)


@pytest.mark.parametrize("make, fmt, arch, divisor", [
    (lambda: pyslowfast_slow(SLOW, width=8), "pyslowfast", "slow_r50", 8),
    (lambda: pytorchvideo_slow(width=8), "pytorchvideo", "slow_r50", 8),
    (lambda: mmaction2_slowonly(width=8), "mmaction2", "slow_r50", 8),
    (lambda: mmaction2_r3d18(width=16), "mmaction2", "r3d_18", 4),
])
def test_each_source_layout_converts_every_tensor_once(make, fmt, arch, divisor):
    source = make()
    conv = interop.convert_state_dict(source, fmt)
    assert (conv.spec.arch, conv.spec.width_divisor, conv.spec.base_width) == (arch, divisor, 64)
    assert set(conv.ignored) == HEADS & set(source)
    _assert_every_tensor_used_once(conv, source)


def test_two_pathway_file_imports_either_pathway():
    """A MaCLR-style file with the width/8 motion pathway (pathway1, temporal kernel 1) beside the visual one."""
    visual = pyslowfast_slow(MACLR, width=16, pathway=0, head=False, seed=1)
    motion = pyslowfast_slow(T1, width=8, pathway=1, head=False, seed=2)
    both = {**visual, **motion}
    conv = interop.convert_state_dict(both, "pyslowfast", pathway=1, in_channels=3)
    assert (conv.spec.arch, conv.spec.width_divisor, conv.spec.modality) == ("slow_r50_t1", 8, "motion")
    assert set(conv.ignored) == set(visual) and conv.other_pathways == {0: len(visual)}
    assert conv.encoder.stages[3][0].body[6].weight.shape[0] == 256  # res5 ends at 256 channels
    _assert_every_tensor_used_once(conv, both)
    conv0 = interop.convert_state_dict(both, "pyslowfast", pathway=0)
    assert conv0.spec.arch == "slow_r50_modist" and set(conv0.ignored) == set(motion)
    assert conv0.other_pathways == {1: len(motion)} and conv0.collapsed_channels is None
    # By default a 3-channel motion stem becomes 1 channel: its weight summed over the input channels.
    conv1 = interop.convert_state_dict(both, "pyslowfast", pathway=1)
    assert conv1.spec.in_channels == 1 and conv1.collapsed_channels == (3, 1)
    summed = motion["s1.pathway1_stem.conv.weight"].sum(1, keepdim=True)
    torch.testing.assert_close(conv1.encoder.stem[0].weight, summed)
    with pytest.raises(ConfigError, match="3 input channels"):
        interop.convert_state_dict(both, "pyslowfast", pathway=1, in_channels=2)


def _clip(channels=3):
    return torch.randn(2, channels, 4, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("fmt", ["pyslowfast", "pytorchvideo"])
def test_export_then_import_reproduces_outputs(tmp_path, fmt, capsys):
    with torch.no_grad():
        conv = interop.convert_state_dict(pyslowfast_slow(MACLR, width=8, head=False, seed=4), "pyslowfast")
        run = tmp_path / "run"
        from modist.models.encoder_io import save_encoder
        save_encoder(run, conv.encoder, conv.spec, {"method": "test"})
        out = tmp_path / f"exported.{'pyth' if fmt == 'pyslowfast' else 'pt'}"
        assert main(["convert", "--to", fmt, str(run), "--out", str(out)]) == 0
        saved = torch.load(out, map_location="cpu", weights_only=True)
        state = saved["model_state"] if fmt == "pyslowfast" else saved
        stem = "s1.pathway0_stem.conv.weight" if fmt == "pyslowfast" else "blocks.0.conv.weight"
        assert stem in state and len(state) == len(conv.encoder.state_dict())
        assert main(["convert", "--from", fmt, str(out), "--out", str(tmp_path / "back")]) == 0
        back = read_encoder(tmp_path / "back")
        original = conv.encoder.eval()
        x = _clip()
        torch.testing.assert_close(back.module(x), original(x), rtol=1e-5, atol=1e-5)
    assert back.spec.arch == "slow_r50_modist" and dict(back.trained_on.details)["source_format"] == fmt


def _write_mm(path, state, meta_obj):
    torch.save({"meta": {"epoch": 10, "config": meta_obj}, "state_dict": state, "optimizer": {}}, path)


@pytest.mark.parametrize("edit", ["rename", "reshape", "extra"])
def test_a_wrong_tensor_fails_naming_it_and_writes_nothing(tmp_path, edit, capsys):
    state = mmaction2_slowonly(width=8)
    key = "backbone.layer3.2.conv1.conv.weight"
    if edit == "rename":
        state["backbone.layer3.2.conv1.conv.weights"] = state.pop(key)
    elif edit == "reshape":
        state[key] = state[key][:, :, :1]
    else:
        key = "backbone.layer3.2.se.fc.weight"
        state[key] = torch.zeros(3)
    src = tmp_path / "mm.pth"
    torch.save({"state_dict": state}, src)
    out = tmp_path / "run"
    assert main(["convert", "--from", "mmaction2", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and str(src) in err
    assert not out.exists()


def test_pickle_with_objects_is_refused_unless_trusted(tmp_path, capsys):
    src = tmp_path / "slowonly.pth"
    _write_mm(src, mmaction2_slowonly(width=8), argparse.Namespace(lr=0.1))
    out = tmp_path / "run"
    assert main(["convert", "--from", "mmaction2", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trust-pickle" in err and "Namespace" in err
    assert not out.exists()
    assert main(["convert", "--from", "mmaction2", str(src), "--out", str(out), "--trust-pickle"]) == 0
    printed = capsys.readouterr().out
    assert "slow_r50" in printed and "cls_head.fc_cls.weight" in printed


def test_help_says_unpickling_runs_code(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    assert "runs code" in " ".join(capsys.readouterr().out.split())


def test_safetensors_input_and_eval_encoder_accepts_the_run(tmp_path, capsys):
    from safetensors.torch import save_file

    src = tmp_path / "slow.safetensors"
    save_file(pytorchvideo_slow(width=8), str(src))
    out = tmp_path / "run"
    assert main(["convert", "--from", "pytorchvideo", str(src), "--out", str(out), "--clip-frames", "4",
                 "--crop-size", "64"]) == 0
    enc = load_eval_encoder(out)
    assert (enc.modality, enc.clip_frames, enc.crop_size) == ("rgb", 4, 64)
    assert json.loads((out / "encoder.json").read_text())["method"] == "import:pytorchvideo"
    with torch.no_grad():
        assert enc.backbone(_clip()).shape == (2, 256)
    # An existing encoder is not replaced silently.
    assert main(["convert", "--from", "pytorchvideo", str(src), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_a_file_of_another_format_is_named():
    with pytest.raises(DataError, match="s1.pathway0_stem.conv.weight"):
        interop.convert_state_dict(pytorchvideo_slow(width=8), "pyslowfast")
    with pytest.raises(DataError, match="temporal kernels"):
        interop.convert_state_dict(pyslowfast_slow((3, 1, 1, 3, 3), width=8), "pyslowfast")


# ------------------------------------------------------------------------------ the MaCLR release as released


def pyslowfast_features(sd, x, *, prefix="", pathway=0, conv1_temporal_stride=1):
    """PySlowFast's Slow pathway written out from its modules (stem_helper.ResNetBasicStem, resnet_helper
    ResBlock/BottleneckTransform with STRIDE_1X1 False, SPATIAL_STRIDES 1,2,2,2), BN in eval mode."""
    import torch.nn.functional as F

    def bn(y, name):
        return F.batch_norm(y, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                            sd[f"{name}.bias"], False, 0.0, 1e-5)

    stem = f"{prefix}s1.pathway{pathway}_stem"
    w = sd[f"{stem}.conv.weight"]
    x = F.relu(bn(F.conv3d(x, w, stride=(conv1_temporal_stride, 2, 2), padding=(w.shape[2] // 2, 3, 3)), f"{stem}.bn"))
    x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
    for s, depth in enumerate(R50):
        for b in range(depth):
            blk = f"{prefix}s{s + 2}.pathway{pathway}_res{b}"
            st = (1 if s == 0 else 2) if b == 0 else 1
            shortcut = (bn(F.conv3d(x, sd[f"{blk}.branch1.weight"], stride=(1, st, st)), f"{blk}.branch1_bn")
                        if f"{blk}.branch1.weight" in sd else x)
            a = sd[f"{blk}.branch2.a.weight"]
            y = F.relu(bn(F.conv3d(x, a, padding=(a.shape[2] // 2, 0, 0)), f"{blk}.branch2.a_bn"))
            y = F.relu(bn(F.conv3d(y, sd[f"{blk}.branch2.b.weight"], stride=(1, st, st), padding=(0, 1, 1)),
                          f"{blk}.branch2.b_bn"))
            x = F.relu(bn(F.conv3d(y, sd[f"{blk}.branch2.c.weight"]), f"{blk}.branch2.c_bn") + shortcut)
    return x


@pytest.fixture(scope="module")
def maclr_dualnet(tmp_path_factory):
    """maclr.pyth's layout: the SSL wrapper's encoder_q around a video_flow DualNet (pathway0 visual, conv1 kernel 5,
    full width; pathway1 motion, width/8, kernel 1, 3 input channels), its ContrastiveCodeHead, encoder_k and queues.
    Saved as PySlowFast's checkpoint dict."""
    with torch.no_grad():
        visual = pyslowfast_slow(MACLR, width=64, pathway=0, head=False, seed=11)
        motion = pyslowfast_slow(T1, width=8, pathway=1, in_ch=3, head=False, seed=12)
        net = {**visual, **motion, "head.pathway0_mlp.0.weight": torch.zeros(16, 2048),
               "head.pathway1_mlp.0.weight": torch.zeros(16, 256)}
        sd = {f"encoder_q.{k}": v for k, v in net.items()}
        sd["encoder_k.s1.pathway1_stem.conv.weight"] = motion["s1.pathway1_stem.conv.weight"].clone()
        sd["queue_x"] = torch.zeros(16, 8)
        sd["queue_ptr"] = torch.zeros(1, dtype=torch.long)
    path = tmp_path_factory.mktemp("release") / "maclr.pyth"
    torch.save({"epoch": 200, "model_state": sd}, path)
    return path, sd


def test_release_visual_pathway_with_conv1_stride_2_matches_the_reference(maclr_dualnet):
    _, sd = maclr_dualnet
    conv = interop.convert_state_dict(sd, "pyslowfast", conv1_temporal_stride=2)
    assert (conv.spec.arch, conv.spec.conv1_temporal_stride, conv.spec.in_channels) == ("slow_r50_modist", 2, 3)
    assert conv.other_pathways == {1: len([k for k in sd if ".pathway1_" in k and k.startswith("encoder_q.s")])}
    x = torch.randn(1, 3, 32, 32, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        ours = conv.encoder.double().eval().forward_features(x)
        ref = pyslowfast_features({k: v.double() if v.is_floating_point() else v for k, v in sd.items()}, x,
                                  prefix="encoder_q.", conv1_temporal_stride=2)
    assert ours.shape == ref.shape == (1, 2048, 16, 1, 1)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-9 * float(ref.abs().max()))


def test_release_motion_pathway_collapses_to_one_channel_exactly(maclr_dualnet):
    _, sd = maclr_dualnet
    conv = interop.convert_state_dict(sd, "pyslowfast", pathway=1)
    assert (conv.spec.arch, conv.spec.width_divisor, conv.spec.in_channels, conv.spec.modality) == \
        ("slow_r50_t1", 8, 1, "motion")
    assert conv.collapsed_channels == (3, 1) and conv.other_pathways[0] > 300
    x = torch.rand(2, 1, 16, 32, 32, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    x3 = x.repeat(1, 3, 1, 1, 1)
    double = {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}
    encoder = conv.encoder.double().eval()
    with torch.no_grad():
        import torch.nn.functional as F

        stem = F.conv3d(x3, double["encoder_q.s1.pathway1_stem.conv.weight"], stride=(1, 2, 2), padding=(0, 3, 3))
        # The summed weight is rounded once to float32, the file's precision.
        torch.testing.assert_close(encoder.stem[0](x), stem, rtol=1e-5, atol=1e-6)
        ref = pyslowfast_features(double, x3, prefix="encoder_q.", pathway=1)
        ours = encoder.forward_features(x)
    assert ours.shape == ref.shape == (2, 256, 16, 1, 1)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    # Collapsing is not a no-op: on 3 different channels the original stem differs from the summed one.
    with torch.no_grad():
        x_mixed = x3 * torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64).view(1, 3, 1, 1, 1)
        mixed = F.conv3d(x_mixed, double["encoder_q.s1.pathway1_stem.conv.weight"], stride=(1, 2, 2),
                         padding=(0, 3, 3))
    assert (mixed - stem).abs().max() > 1e-2


def test_convert_cli_records_the_release_input(maclr_dualnet, tmp_path, capsys):
    path, _ = maclr_dualnet
    out = tmp_path / "maclr"
    assert main(["convert", "--from", "pyslowfast", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "slow_r50_modist rgb encoder" in printed
    assert "32 frames at stride 8, 224 px crop, conv1 temporal stride 2" in printed
    assert "configs/UCF101/SLOW_32x8_R50.yaml" in printed and "--pathway motion" in printed
    meta = json.loads((out / "encoder.json").read_text())
    assert (meta["conv1_temporal_stride"], meta["clip_frames"], meta["stride"], meta["crop_size"]) == (2, 32, 8, 224)
    enc = load_eval_encoder(out)
    assert (enc.clip_frames, enc.stride, enc.backbone.conv1_temporal_stride) == (32, 8, 2)
    assert enc.backbone.stem[0].stride == (2, 2, 2)
    assert not (out / "config.yaml").exists()

    # Same weights at another stride are another network: the feature-cache key differs.
    from dataclasses import replace

    assert replace(enc, spec=replace(enc.spec, conv1_temporal_stride=1)).fingerprint() != enc.fingerprint()

    motion = tmp_path / "maclr_motion"
    assert main(["convert", "--from", "pyslowfast", str(path), "--out", str(motion), "--pathway", "motion"]) == 0
    printed = capsys.readouterr().out
    assert "slow_r50_t1, width/8 motion encoder" in printed
    assert "summed its weight over them into 1 channel, exact for identical channels" in printed
    assert "16 frames at stride 4, 224 px crop, conv1 temporal stride 1" in printed
    enc = load_eval_encoder(motion)
    assert (enc.modality, enc.spec.in_channels, enc.record()["source_in_channels"]) == ("motion", 1, 3)
    assert (enc.clip_frames, enc.stride) == (16, 4)
    m = enc.motion
    assert (m.encoding, m.flow_gap, m.flow_direction, m.edge_max) == ("flow_edges", 5, "backward", 10.0)
    with torch.no_grad():
        assert enc.backbone(torch.zeros(1, 1, 16, 32, 32)).shape == (1, 256)

    # Explicit values win, and the output says they were given.
    given = tmp_path / "given"
    assert main(["convert", "--from", "pyslowfast", str(path), "--out", str(given), "--pathway", "motion",
                 "--clip-frames", "8", "--stride", "2", "--crop-size", "112", "--conv1-temporal-stride", "2"]) == 0
    assert "8 frames at stride 2, 112 px crop, conv1 temporal stride 2\n  as given;" in capsys.readouterr().out
    enc = load_eval_encoder(given)
    assert (enc.clip_frames, enc.stride, enc.crop_size, enc.backbone.conv1_temporal_stride) == (8, 2, 112, 2)


def test_export_of_a_strided_encoder_says_the_stride(maclr_dualnet, tmp_path, capsys):
    from modist.models.encoder_io import save_encoder

    _, sd = maclr_dualnet
    small = {k[len("encoder_q."):]: v for k, v in sd.items() if ".pathway1_" in k and k.startswith("encoder_q.s")}
    conv = interop.convert_state_dict(small, "pyslowfast", pathway=1, conv1_temporal_stride=2)
    save_encoder(tmp_path / "run", conv.encoder, conv.spec, {"method": "test"})
    assert main(["convert", "--to", "pyslowfast", str(tmp_path / "run"), "--out", str(tmp_path / "x.pyth")]) == 0
    assert "set RESNET.CONV1_TEMPORAL_STRIDE to 2" in capsys.readouterr().out


def test_other_imports_keep_the_8x8_default_and_reject_a_bad_stride(tmp_path, capsys):
    src = tmp_path / "slow.pt"
    torch.save(pytorchvideo_slow(width=8), src)
    out = tmp_path / "run"
    assert main(["convert", "--from", "pytorchvideo", str(src), "--out", str(out), "--conv1-temporal-stride", "0"]) == 2
    assert "conv1_temporal_stride" in capsys.readouterr().err and not out.exists()
    assert main(["convert", "--from", "pytorchvideo", str(src), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "8 frames at stride 8, 224 px crop, conv1 temporal stride 1\n  as modist's default" in printed
    meta = json.loads((out / "encoder.json").read_text())
    assert (meta["clip_frames"], meta["stride"], meta["conv1_temporal_stride"]) == (8, 8, 1)
