import pytest
import torch

from modist.data.augment import MEAN, STD, PairedAugment
from modist.data.clips import ClipBatch


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


# Per-clip crops of padded batches: a portrait (96 x 48), a square (64 x 64) and a landscape
# (48 x 96) clip, each top-left in a 96 x 96 tensor whose padding is the sentinel 255.
_SIZES = [(96, 48), (64, 64), (48, 96)]


def _padded_batch(t=2, tm=None, sentinel=255):
    """RGB: red = source column, green = source row (inside each clip), sentinel in the padding.

    Flow has ``tm`` frames; its (dx, dy) at a pixel is that pixel's (column, row), 1000 in the padding.
    """
    b, side = len(_SIZES), 96
    rgb = torch.full((b, 1, t, side, side, 3), sentinel, dtype=torch.uint8)
    flow = torch.full((b, 1, tm or t, side, side, 2), 1000.0)
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    for i, (h, w) in enumerate(_SIZES):
        rgb[i, ..., :h, :w, 0] = cols[:h, :w].to(torch.uint8)
        rgb[i, ..., :h, :w, 1] = rows[:h, :w].to(torch.uint8)
        rgb[i, ..., :h, :w, 2] = 0
        flow[i, ..., :h, :w, 0] = cols[:h, :w].float()
        flow[i, ..., :h, :w, 1] = rows[:h, :w].float()
    return rgb, flow, torch.tensor(_SIZES)


def _pixels(x):
    """[V, B, 3, T, S, S] normalised -> [B, 3, T, S, S] in 0..255."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1, 1), torch.tensor(STD).view(1, 3, 1, 1, 1)
    return (x[0] * std + mean) * 255


def test_each_clip_is_cropped_over_its_own_full_frame_never_the_padding():
    torch.manual_seed(0)
    # Small areas: many crops are upsampled, so a crop ending at its frame's edge would blend the
    # padding in if sampling were only clamped at the padded tensor's edge.
    aug = PairedAugment(32, scale=(0.02, 0.3), flip=False, color_jitter=0, grayscale_prob=0)
    rgb, flow, sizes = _padded_batch()
    centres = {i: [] for i in range(len(_SIZES))}
    for _ in range(150):
        x, f = aug(rgb, flow, frame_size=sizes)
        px = _pixels(x)
        assert px[:, 2].abs().max() < 1e-3  # blue is 0 in every clip and 255 in the padding
        for i, (h, w) in enumerate(_SIZES):
            col, row = px[i, 0], px[i, 1]
            assert col.max() <= w - 1 + 1e-3 and row.max() <= h - 1 + 1e-3
            assert f[0, i].abs().max() < 1000  # flow never reads the padding either
            centres[i].append((row.mean().item(), col.mean().item()))
    # Crop centres spread over each clip's own frame, beyond the batch's smallest side (48 px).
    portrait, landscape = torch.tensor(centres[0]), torch.tensor(centres[2])
    assert portrait[:, 0].min() < 20 and portrait[:, 0].max() > 76  # rows of the 96-high portrait clip
    assert landscape[:, 1].min() < 20 and landscape[:, 1].max() > 76  # columns of the 96-wide landscape clip
    assert portrait[:, 1].max() < 48 and landscape[:, 0].max() < 48


def _expected_flow(col, row):
    """Flow equal to the source (column, row), after the crop read off RGB source ``col``, ``row`` [S, S].

    The source column spans (last - first) over S - 1 output pixels: the box width over the
    output size, negative when flipped; flow vectors scale by its inverse.
    """
    s = col.shape[-1]
    scale_x = (s - 1) / (col[:, -1] - col[:, 0]).mean()
    scale_y = (s - 1) / (row[-1] - row[0]).mean()
    return col * scale_x, row * scale_y


def test_flow_of_a_padded_clip_is_rescaled_with_its_own_box():
    torch.manual_seed(1)
    aug = PairedAugment(24, scale=(0.2, 1.0), flip=True, color_jitter=0, grayscale_prob=0)
    rgb, flow, sizes = _padded_batch()
    flipped = 0
    for _ in range(20):
        x, f = aug(rgb, flow, frame_size=sizes)
        px = _pixels(x)
        for i in range(len(_SIZES)):
            dx, dy = _expected_flow(px[i, 0, 0], px[i, 1, 0])
            flipped += int(dx.mean() < 0)
            inner = (slice(2, -2), slice(2, -2))  # away from the clamped border of a box at the frame edge
            assert torch.allclose(f[0, i, 0, 0][inner], dx[inner], rtol=0.03, atol=0.5)
            assert torch.allclose(f[0, i, 1, 0][inner], dy[inner], rtol=0.03, atol=0.5)
    assert 0 < flipped < 60


def test_eval_centre_crop_of_a_portrait_clip_is_that_clips_centre():
    aug = PairedAugment(16, train=False)
    rgb, _, sizes = _padded_batch()
    px = _pixels(aug(rgb, frame_size=sizes)[0])
    # Portrait 96 x 48: the 48 x 48 square at rows 24..72, all columns of the clip.
    assert abs(px[0, 1].mean().item() - 47.5) < 0.05 and abs(px[0, 0].mean().item() - 23.5) < 0.05
    # Landscape 48 x 96: columns 24..72, all rows.
    assert abs(px[2, 0].mean().item() - 47.5) < 0.05 and abs(px[2, 1].mean().item() - 23.5) < 0.05
    # Square 64 x 64: its whole frame.
    assert abs(px[1, 0].mean().item() - 31.5) < 0.05 and abs(px[1, 1].mean().item() - 31.5) < 0.05


def test_rgb_and_flow_of_different_lengths_share_each_clips_crop_and_flip():
    torch.manual_seed(2)
    aug = PairedAugment(16, scale=(0.2, 1.0), flip=True, color_jitter=0, grayscale_prob=0)
    rgb, flow, sizes = _padded_batch(t=8, tm=16)
    x, f = aug(rgb, flow, frame_size=sizes)
    assert x.shape == (1, 3, 3, 8, 16, 16) and f.shape == (1, 3, 2, 16, 16, 16)
    px = _pixels(x)
    for i in range(len(_SIZES)):
        # Every one of the 16 flow frames was cut with the box and flip of the 8 RGB frames.
        dx, dy = _expected_flow(px[i, 0, 0], px[i, 1, 0])
        for k in range(16):
            assert torch.allclose(f[0, i, 0, k][2:-2, 2:-2], dx[2:-2, 2:-2], rtol=0.03, atol=0.5)
            assert torch.allclose(f[0, i, 1, k][2:-2, 2:-2], dy[2:-2, 2:-2], rtol=0.03, atol=0.5)


def test_frame_size_of_the_wrong_shape_is_refused():
    rgb, flow, sizes = _padded_batch()
    with pytest.raises(ValueError, match="frame_size"):
        PairedAugment(16)(rgb, flow, frame_size=sizes[:2])
    with pytest.raises(ValueError, match="frame_size"):
        PairedAugment(16)(rgb, flow, frame_size=sizes + 1)


def test_spatial_test_views_lie_along_each_clips_own_long_side():
    from modist.evaluation.multiview import ViewPipeline

    rgb, flow, sizes = _padded_batch()
    views = ViewPipeline(8, spatial_views=3, encoding="dxdy")
    x, _ = views(ClipBatch(rgb=rgb, flow=flow, frame_size=sizes), torch.device("cpu"), with_motion=False)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1, 1)
    px = (x * std + mean) * 255  # [S, B, 3, T, 8, 8]
    rows = [px[s, 0, 1].mean().item() for s in range(3)]  # portrait 96 x 48: squares at rows 0, 24, 48
    cols = [px[s, 2, 0].mean().item() for s in range(3)]  # landscape 48 x 96: squares at columns 0, 24, 48
    # Mean source coordinate of a 48 px square from offset o, resized to 8 px: o + 23.5.
    assert all(abs(r - e) < 0.05 for r, e in zip(rows, (23.5, 47.5, 71.5)))
    assert all(abs(c - e) < 0.05 for c, e in zip(cols, (23.5, 47.5, 71.5)))
    assert px[:, :, 2].abs().max() < 1e-3  # never the padding
