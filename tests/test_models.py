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
