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
from modist.errors import DataError
from modist.evaluation.encoder import load_eval_encoder
from modist.models import interop
from modist.models.encoder_io import load_encoder

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
    conv = interop.convert_state_dict(both, "pyslowfast", pathway=1)
    assert (conv.spec.arch, conv.spec.width_divisor, conv.spec.modality) == ("slow_r50_t1", 8, "motion")
    assert set(conv.ignored) == set(visual)
    assert conv.encoder.stages[3][0].body[6].weight.shape[0] == 256  # res5 ends at 256 channels
    _assert_every_tensor_used_once(conv, both)
    conv0 = interop.convert_state_dict(both, "pyslowfast", pathway=0)
    assert conv0.spec.arch == "slow_r50_modist" and set(conv0.ignored) == set(motion)


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
        back, meta = load_encoder(tmp_path / "back")
        original = conv.encoder.eval()
        x = _clip()
        torch.testing.assert_close(back.eval()(x), original(x), rtol=1e-5, atol=1e-5)
    assert meta["arch"] == "slow_r50_modist" and meta["source_format"] == fmt


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
