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
