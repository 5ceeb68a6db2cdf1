"""Saliency pictures: overlay maths, GIF frames and size, contact-sheet layout, atomic output."""

import numpy as np
import pytest
from PIL import Image

from modist.viz.saliency import contact_sheet, heat_overlay, save_gif, side_by_side


def test_overlay_blends_the_colour_mapped_heat_scaled_to_the_clip_maximum():
    frames = np.full((2, 4, 4, 3), 100, np.uint8)
    heat = np.zeros((2, 4, 4))
    heat[1, 2, 3] = 7.0
    out = heat_overlay(frames, heat, alpha=1.0, cmap="gray")
    assert out.dtype == np.uint8 and out.shape == frames.shape
    assert out[1, 2, 3].tolist() == [255, 255, 255] and out[0].max() == 0  # max -> top of the map, 0 -> bottom
    half = heat_overlay(frames, heat, alpha=0.5, cmap="gray")
    assert half[1, 2, 3].tolist() == [177, 177, 177] and half[0, 0, 0].tolist() == [50, 50, 50]
    assert heat_overlay(frames, np.zeros((2, 4, 4)), alpha=0.0).tolist() == frames.tolist()  # a flat zero map
    with pytest.raises(ValueError, match="does not match"):
        heat_overlay(frames, np.zeros((2, 4, 5)))


def test_gif_has_every_frame_at_the_requested_scale_and_no_leftovers(tmp_path):
    panels = side_by_side(np.zeros((5, 6, 6, 3), np.uint8), np.random.default_rng(0).random((5, 6, 6)))
    save_gif(panels, tmp_path / "clip.gif", fps=5, scale=3)
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == 5 and gif.size == (36, 18) and gif.info["duration"] == 200
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]


def test_contact_sheet_needs_one_image_per_row_in_every_column(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    contact_sheet([img, img], {"a": [img, img], "b": [img, img]}, tmp_path / "sheet.png", row_labels=["x", "y"])
    with Image.open(tmp_path / "sheet.png") as sheet:
        w, h = sheet.size
    assert w > h  # three columns, two rows
    with pytest.raises(ValueError, match="one image per row"):
        contact_sheet([img, img], {"a": [img]}, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
