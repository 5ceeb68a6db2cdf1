import pytest
import torch

from modist.errors import ConfigError
from modist.models import build_pathway
from modist.models.resnet3d import build_backbone


def _params(module):
    return sum(p.numel() for p in module.parameters())


def test_slow_r50_matches_the_published_parameter_count():
    # PySlowFast model zoo: Slow-R50 8x8 has about 32.5 M parameters with its 400-way classifier.
    net = build_backbone("slow_r50")
    assert net.out_dim == 2048
    assert abs((_params(net) + 2048 * 400 + 400) / 1e6 - 32.5) < 0.2


def test_r3d_18_matches_torchvision_parameter_count():
    # torchvision r3d_18: 33.37 M parameters including the 512x400 classifier.
    net = build_backbone("r3d_18")
    assert abs((_params(net) + 512 * 400 + 400) / 1e6 - 33.37) < 0.05


def test_motion_pathway_is_thinner_by_the_width_divisor():
    visual = build_backbone("r3d_tiny", width_divisor=1)
    motion = build_backbone("r3d_tiny", in_channels=1, width_divisor=4)
    assert motion.out_dim * 4 == visual.out_dim
    assert _params(motion) < _params(visual) / 8


def test_pathway_embeds_clips_on_the_unit_sphere():
    p = build_pathway("r3d_tiny", in_channels=2, width_divisor=4, proj_hidden=32, embed_dim=16)
    z = p(torch.randn(3, 2, 4, 32, 32))
    assert z.shape == (3, 16)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)


def test_unknown_backbone_is_a_config_error():
    with pytest.raises(ConfigError, match="resnet9000"):
        build_backbone("resnet9000")


def test_r2plus1d_18_matches_torchvision_parameter_count():
    # torchvision r2plus1d_18: 31,505,325 parameters including the 512x400 classifier
    # (one midplanes value per block, (2+1)D stem 3 -> 45 -> 64).
    net = build_backbone("r2plus1d_18")
    assert _params(net) + 512 * 400 + 400 == 31_505_325


def test_published_gflops_per_view():
    from modist.bench.models import complexity

    slow = complexity("slow_r50", frames=8, size=224)
    assert abs(slow.gflops / 41.9 - 1) < 0.03  # PySlowFast model zoo, multiply-adds
    assert abs(slow.params_with_fc / 1e6 / 32.5 - 1) < 0.03
    assert abs(complexity("r3d_18", frames=16, size=112).gflops - 40.70) < 0.05  # torchvision
    assert abs(complexity("r2plus1d_18", frames=16, size=112).gflops - 40.52) < 0.05


def test_slow_r50_temporal_kernel_presets():
    def kernels(net):
        stem = net.stem[0].kernel_size[0]
        first_convs = [stage[0].body[0].kernel_size[0] for stage in net.stages]
        return (stem, *first_convs)

    assert kernels(build_backbone("slow_r50")) == (1, 1, 1, 3, 3)
    assert kernels(build_backbone("slow_r50_modist")) == (5, 1, 1, 3, 3)
    thin = build_backbone("slow_r50_t1", width_divisor=8)
    assert kernels(thin) == (1, 1, 1, 1, 1)
    assert thin.out_dim == 256  # the release's motion pathway ends at 2048 / 8 channels
    assert thin(torch.zeros(1, 3, 4, 64, 64)).shape == (1, 256)


def test_models_command_prints_the_table(capsys):
    from modist.cli.main import main

    assert main(["models", "--arch", "r3d_tiny", "--frames", "4", "--size", "32", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "| r3d_tiny | 1 | 4x32x32 |" in out
    assert main(["models", "--arch", "resnet9000"]) == 2


def test_head_batch_norm_spreads_freshly_initialised_embeddings():
    # Pooled features of a fresh backbone share a large common component, so plain heads map
    # every clip to nearly the same direction; batch norm in the hidden layer removes it.
    from modist.models.heads import ProjectionHead

    torch.manual_seed(0)
    feats = torch.relu(torch.randn(64, 32)) + 3.0

    def mean_cosine(z):
        sim = z @ z.t()
        return sim[~torch.eye(len(z), dtype=torch.bool)].mean().item()

    plain = mean_cosine(ProjectionHead(32, 64, 16)(feats))
    normed = mean_cosine(ProjectionHead(32, 64, 16, batch_norm=True)(feats))
    assert plain > 0.8 and normed < 0.5


# Recorded before the residual blocks shared one base class: checkpoints and exported
# encoders load by these names, so a refactor must not rename a single parameter or buffer.
STATE_DICT_KEYS = {
    "r3d_tiny": (72, "5e7de747491257b1"),
    "r3d_18": (120, "bd4ec66befc4c740"),
    "r2plus1d_18": (222, "3f9178e365aef6e8"),
    "slow_r50": (318, "6d817453f39081e5"),
    "slow_r50_modist": (318, "6d817453f39081e5"),
    "slow_r50_t1": (318, "6d817453f39081e5"),
}


@pytest.mark.parametrize("arch", sorted(STATE_DICT_KEYS))
def test_state_dict_keys_of_each_preset_are_unchanged(arch):
    import hashlib

    from modist.models.resnet3d import BACKBONES

    assert set(STATE_DICT_KEYS) == set(BACKBONES)
    keys = list(build_backbone(arch, width_divisor=16).state_dict())
    assert {"stem.0.weight", "stages.0.0.body.1.weight", "stages.1.0.shortcut.0.weight"} <= set(keys)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    assert (len(keys), digest) == STATE_DICT_KEYS[arch]


@pytest.mark.parametrize("arch", sorted(STATE_DICT_KEYS))
def test_conv1_temporal_stride_2_on_32_frames_matches_stride_1_on_16(arch):
    from modist.models.resnet3d import BACKBONES

    assert set(STATE_DICT_KEYS) == set(BACKBONES)
    base = build_backbone(arch, width_divisor=16)
    strided = build_backbone(arch, width_divisor=16, conv1_temporal_stride=2)
    with torch.no_grad():
        t16 = base.forward_features(torch.zeros(1, 3, 16, 32, 32)).shape
        t32 = strided.forward_features(torch.zeros(1, 3, 32, 32, 32)).shape
        t32_unstrided = base.forward_features(torch.zeros(1, 3, 32, 32, 32)).shape
    assert t32 == t16 and t32_unstrided[2] == 2 * t16[2]
    # The stride is not a weight: same keys and shapes, so one state dict loads into both.
    assert {k: v.shape for k, v in strided.state_dict().items()} == {k: v.shape for k, v in base.state_dict().items()}
    strided.load_state_dict(base.state_dict())
    assert (base.conv1_temporal_stride, strided.conv1_temporal_stride) == (1, 2)


def test_slow_r50_modist_stride_2_is_the_release_ucf101_network():
    # SLOW_32x8_R50: conv1 (5, 7, 7) with stride (2, 2, 2) and temporal padding 2, then 16 time steps to res5.
    net = build_backbone("slow_r50_modist", width_divisor=16, conv1_temporal_stride=2)
    conv1 = net.stem[0]
    assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((5, 7, 7), (2, 2, 2), (2, 3, 3))
    with torch.no_grad():
        assert net.forward_features(torch.zeros(1, 3, 32, 64, 64)).shape[2:] == (16, 2, 2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_invalid_conv1_temporal_stride_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="conv1_temporal_stride"):
        build_backbone("r3d_tiny", conv1_temporal_stride=bad)


def test_encoder_json_records_the_stride_and_older_files_mean_1(tmp_path):
    import json

    from modist.errors import DataError
    from modist.models.encoder_io import META, EncoderSpec, save_encoder
    from modist.models.run_files import read_encoder

    spec = EncoderSpec("r3d_tiny", 3, base_width=4, conv1_temporal_stride=2)
    save_encoder(tmp_path / "new", spec.build(), spec, {"method": "test"})
    assert json.loads((tmp_path / "new" / META).read_text())["conv1_temporal_stride"] == 2
    saved = read_encoder(tmp_path / "new")
    encoder = saved.module
    assert encoder.conv1_temporal_stride == 2 and saved.spec.conv1_temporal_stride == 2
    with torch.no_grad():
        assert encoder.forward_features(torch.zeros(1, 3, 8, 32, 32)).shape[2] == 4

    # An encoder.json written before the field existed (no conv1_temporal_stride, no width_divisor).
    old = EncoderSpec("r3d_tiny", 3, base_width=4)
    save_encoder(tmp_path / "old", old.build(), old, {"method": "test"})
    record = json.loads((tmp_path / "old" / META).read_text())
    del record["conv1_temporal_stride"], record["width_divisor"]
    (tmp_path / "old" / META).write_text(json.dumps(record))
    saved = read_encoder(tmp_path / "old")
    encoder = saved.module
    assert encoder.conv1_temporal_stride == 1 and saved.spec == old
    with torch.no_grad():
        assert encoder.forward_features(torch.zeros(1, 3, 8, 32, 32)).shape[2] == 8

    record["conv1_temporal_stride"] = 0
    (tmp_path / "old" / META).write_text(json.dumps(record))
    with pytest.raises(DataError, match=f"{META}.*conv1_temporal_stride"):
        read_encoder(tmp_path / "old")


@pytest.mark.parametrize("method", ["modist", "supervised"])
def test_config_key_builds_strided_pathways_and_export_spec(method):
    from modist.config import load_config
    from modist.methods import build_method

    cfg = load_config(None, [f"method.name={method}", "model.base_width=4", "method.queue_size=8",
                             "model.conv1_temporal_stride=2"])
    built = build_method(cfg, motion_channels=1, num_classes=3)
    assert built.export_spec().conv1_temporal_stride == 2
    assert built.eval_encoder().conv1_temporal_stride == 2
    strides = {name: net.backbone.conv1_temporal_stride
               for name, net in built.query_networks().items() if hasattr(net, "backbone")}
    # As the release's DualNet (RESNET.CONV1_TEMPORAL_STRIDE for both pathways).
    assert set(strides.values()) <= {2}
    assert set(strides) == ({"visual", "motion"} if method == "modist" else {"model"})
    assert load_config(None, []).model.conv1_temporal_stride == 1
