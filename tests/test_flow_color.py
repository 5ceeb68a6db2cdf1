"""Middlebury colour coding."""

from __future__ import annotations

import numpy as np

from modist.flow import flow_to_color
from modist.flow.color import color_wheel


def test_wheel_has_55_colours_starting_red():
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    assert wheel[0].tolist() == [255, 0, 0]
    assert wheel[15].tolist() == [255, 255, 0]  # yellow starts the YG ramp


def test_zero_flow_is_white_and_directions_have_wheel_colours():
    flow = np.zeros((1, 5, 2), np.float32)
    flow[0, 1] = [1, 0]  # right
    flow[0, 2] = [-1, 0]  # left
    flow[0, 3] = [0, -1]  # up
    flow[0, 4] = [2, 0]  # beyond max_flow: darkened
    rgb = flow_to_color(flow, max_flow=1.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 5, 3)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    r, g, b = rgb[0, 1].astype(int)
    assert r == 255 and g < 10 and b < 60  # red (wheel end, magenta-red ramp)
    r, g, b = rgb[0, 2].astype(int)
    assert r == 0 and g > 100 and b > 200  # cyan-blue
    r, g, b = rgb[0, 3].astype(int)
    assert b == 255 and r > g  # blue-magenta
    assert rgb[0, 4].max() <= int(255 * 0.75)


def test_default_normalisation_and_unknown_is_black():
    flow = np.zeros((2, 2, 2), np.float32)
    flow[0, 0] = [3, 0]
    flow[0, 1] = [1.5, 0]
    flow[1, 1] = [1e10, 0]
    rgb = flow_to_color(flow)
    assert rgb[0, 0].tolist()[0] == 255 and rgb[0, 0, 1] < 10  # saturated
    assert 100 < rgb[0, 1, 1] < 140  # half saturation: 255 * (1 - 0.5)
    assert rgb[1, 1].tolist() == [0, 0, 0]
