import torch

from modist.data.augment import MEAN, STD, PairedAugment


def _coordinate_clip(b=4, t=2, h=32, w=48):
    """RGB whose red channel is the column index and flow whose dx is the same index."""
    cols = torch.arange(w, dtype=torch.float32).view(1, 1, 1, 1, w).expand(b, 1, t, h, w)
    rgb = torch.zeros(b, 1, t, h, w, 3, dtype=torch.uint8)
    rgb[..., 0] = cols.to(torch.uint8)
    flow = torch.zeros(b, 1, t, h, w, 2)
    flow[..., 0] = cols
    return rgb, flow


def test_crop_and_flip_are_shared_by_rgb_and_flow():
    torch.manual_seed(0)
    aug = PairedAugment(16, scale=(0.3, 1.0), flip=True, color_jitter=0, grayscale_prob=0)
    rgb, flow = _coordinate_clip(b=16)
    x, f = aug(rgb, flow)
    red = x[:, :, 0] * STD[0] + MEAN[0]  # back to [0, 1]
    source_col = red * 255.0
    # The column a pixel came from is read off RGB; flow dx (before scaling) is the same column.
    flips = x.new_tensor([1.0 if (source_col[0, i, 0, 0, -1] < source_col[0, i, 0, 0, 0]) else 0.0 for i in range(16)])
    assert 0 < flips.sum() < 16  # both flipped and unflipped clips occur
    ratio = f[:, :, 0] / source_col.clamp(min=1)
    # dx was scaled by the same factor everywhere in a clip and negated exactly when flipped.
    centre = ratio[..., 4:12, 4:12]
    per_clip = centre.flatten(2).median(dim=2).values[0]
    assert torch.all((per_clip < 0) == flips.bool())


def test_flow_vectors_rescale_with_the_resize_factor():
    aug = PairedAugment(24, train=False)
    flow = torch.zeros(1, 1, 1, 48, 48, 2)
    flow[..., 0], flow[..., 1] = 4.0, -2.0
    rgb = torch.zeros(1, 1, 1, 48, 48, 3, dtype=torch.uint8)
    _, f = aug(rgb, flow)
    assert torch.allclose(f[0, 0, 0], torch.full((1, 24, 24), 2.0))
    assert torch.allclose(f[0, 0, 1], torch.full((1, 24, 24), -1.0))


def test_eval_transform_is_a_deterministic_centre_crop():
    aug = PairedAugment(16, train=False)
    rgb = torch.randint(0, 255, (2, 1, 2, 16, 32, 3), dtype=torch.uint8)
    x1, _ = aug(rgb)
    x2, _ = aug(rgb)
    assert torch.equal(x1, x2)
    expected = (rgb[:, 0, :, :, 8:24, :].permute(0, 4, 1, 2, 3).float() / 255 - MEAN[0]) / STD[0]
    assert torch.allclose(x1[0], expected, atol=1e-5)


def test_colour_jitter_leaves_flow_untouched():
    torch.manual_seed(1)
    rgb, flow = _coordinate_clip()
    plain = PairedAugment(16, scale=(1, 1), ratio=(1, 1), flip=False, color_jitter=0, grayscale_prob=0)
    jitter = PairedAugment(16, scale=(1, 1), ratio=(1, 1), flip=False, color_jitter=0.8, grayscale_prob=1.0,
                           blur_prob=1.0)
    torch.manual_seed(2)
    x0, f0 = plain(rgb, flow)
    torch.manual_seed(2)  # same crops: the crop is drawn before any colour randomness
    x1, f1 = jitter(rgb, flow)
    assert torch.allclose(f0, f1)
    assert not torch.allclose(x0, x1)
    assert torch.allclose(x1[:, :, 0], x1[:, :, 1], atol=1e-5)  # grayscale: equal channels
