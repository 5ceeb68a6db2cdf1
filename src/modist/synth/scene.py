"""Rendering one synthetic video: background, distractors, the moving actor, camera pan.

A video is first *planned* (every random draw happens in :func:`plan_video`) and then
*drawn* (:func:`draw_video`, deterministic), so the same plan can be drawn with and
without its actor. Coordinates are image pixels, x right, y down; the camera pan
moves the whole scene (background, distractors, actor) by the same offset.

Example:
    >>> import numpy as np
    >>> frames, masks = render_video(SynthConfig(num_frames=4), 0, 0, np.random.default_rng(0))
    >>> frames.shape, masks.shape, bool(masks.any(axis=(1, 2)).all())
    ((4, 64, 64, 3), (4, 64, 64), True)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import cv2
import numpy as np

from modist.synth.classes import Motion, sample_motion
from modist.synth.config import SynthConfig
from modist.synth.shapes import actor_outline
from modist.synth.textures import render_actor_texture, render_background, vivid_color

ACTOR_SIZE = (14.0, 22.0)  # px width at scale 1 (64 px frame)
DISTRACTOR_SIZE = (6.0, 10.0)
PAN_SPEED = (0.3, 0.6)  # px / frame
DISTRACTOR_MAX_SPEED = 1.2  # px / frame
MARGIN = 1.0  # px kept free between the actor and the frame border
SUPERSAMPLE = 2  # actor sprite resolution relative to the frame at scale 1
_SHIFT = 4  # fixed-point bits for sub-pixel polygon drawing
_MIN_SHRINK = 0.3  # below this much of its own motion, the pan shrinks instead


@dataclass(frozen=True)
class Sprite:
    """RGBA image of the actor at ``SUPERSAMPLE`` times its size; its centroid is the centre."""

    rgba: np.ndarray  # uint8 [S, S, 4]

    @property
    def centre(self) -> float:
        return (self.rgba.shape[0] - 1) / 2


@dataclass(frozen=True)
class VideoPlan:
    """Everything random about one video; drawing it is deterministic."""

    size: int
    background: np.ndarray  # uint8 [size + 2m, size + 2m, 3], larger than the frame for the pan
    pan: np.ndarray  # float [T, 2] scene offset in px per frame
    sprite: Sprite
    centre: np.ndarray  # float [T, 2] actor centroid in the image, pan included
    angle: np.ndarray  # float [T] degrees, clockwise on screen
    scale: np.ndarray  # float [T]
    distractors: list[tuple[np.ndarray, np.ndarray, tuple[float, float, float]]]  # outline, path [T,2], colour

    @property
    def num_frames(self) -> int:
        return len(self.pan)


def render_video(
    config: SynthConfig, label: int, background: int, rng: np.random.Generator, draw_actor: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [T, H, W, 3] and actor masks bool [T, H, W] of one video.

    With ``draw_actor=False`` the same video is drawn without its actor (the masks
    still say where it would be), which shows exactly which pixels the actor covers.
    """
    return draw_video(plan_video(config, label, background, rng), draw_actor=draw_actor)


def plan_video(config: SynthConfig, label: int, background: int, rng: np.random.Generator) -> VideoPlan:
    size, frames = config.size, config.num_frames
    unit = size / 64

    # One stream per part: the actor of a video stays the same whatever its background,
    # pan or distractors are (e.g. when only scene_bias or camera_pan_prob changes).
    pan_rng, scene_rng, actor_rng, motion_rng, place_rng, distractor_rng = rng.spawn(6)

    pan, margin = plan_pan(pan_rng, config.camera_pan_prob, frames, unit)
    scenery = render_background(background, size + 2 * margin, size + 2 * margin, scene_rng, unit)

    outline = actor_outline(actor_rng, actor_rng.uniform(*ACTOR_SIZE) * unit * config.actor_scale)
    texture_rng = copy.deepcopy(actor_rng)  # a copy: the actor's own draws stay as without camouflage
    sprite = make_sprite(outline, actor_rng, unit * config.texture_scale)
    if config.camouflage:
        # The same draws as make_sprite's texture (period, then kind, phase and colours), at frame scale.
        period = texture_rng.uniform(4.0, 8.0) * unit * config.texture_scale
        scenery = render_actor_texture(*scenery.shape[:2], texture_rng, period=period)
    motion = sample_motion(label, motion_rng, frames, unit)
    motion, pan = fit_in_frame(outline, motion, pan, size)
    path = apparent_vertices(outline, motion, pan)
    low = MARGIN - path.min(axis=(0, 1))
    high = size - 1 - MARGIN - path.max(axis=(0, 1))
    start = place_rng.uniform(low, np.maximum(low, high))

    distractors = plan_distractors(distractor_rng, config.num_distractors, pan, size, unit)

    return VideoPlan(
        size=size,
        background=scenery,
        pan=pan,
        sprite=sprite,
        centre=start + motion.offset + pan,
        angle=motion.angle,
        scale=motion.scale,
        distractors=distractors,
    )


def draw_video(plan: VideoPlan, draw_actor: bool = True) -> tuple[np.ndarray, np.ndarray]:
    size, frames = plan.size, plan.num_frames
    out = np.empty((frames, size, size, 3), np.uint8)
    masks = np.empty((frames, size, size), bool)
    for i in range(frames):
        frame = draw_scenery(plan.background, plan.pan[i], plan.distractors, i, size)
        mask = draw_sprite(frame, plan.sprite, plan.centre[i], plan.angle[i], plan.scale[i], draw=draw_actor)
        out[i] = frame
        masks[i] = mask
    return out, masks


def plan_pan(rng: np.random.Generator, probability: float, frames: int, unit: float) -> tuple[np.ndarray, int]:
    """Camera offset [T, 2] (constant velocity with ``probability``, else zero) and the background
    margin in px that keeps the panned frame inside the background."""
    pan_on = rng.random() < probability
    pan_speed, pan_dir = rng.uniform(*PAN_SPEED) * unit, rng.uniform(0, 2 * np.pi)
    velocity = np.array([np.cos(pan_dir), np.sin(pan_dir)]) * (pan_speed if pan_on else 0.0)
    t = np.arange(frames, dtype=np.float64)
    return np.outer(t - (frames - 1) / 2, velocity), math.ceil(PAN_SPEED[1] * unit * (frames - 1) / 2) + 2


def plan_distractors(rng: np.random.Generator, count: int, pan: np.ndarray, size: int, unit: float) -> list:
    """``count`` small shapes wandering about, each (outline, path [T, 2] with the pan, colour)."""
    distractors = []
    for _ in range(count):
        outline = actor_outline(rng, rng.uniform(*DISTRACTOR_SIZE) * unit)
        path = random_walk(rng, len(pan), size, unit) + pan
        colour = vivid_color(rng) * rng.uniform(0.5, 1.0)
        distractors.append((outline, path, tuple(float(c) for c in colour)))
    return distractors


def draw_scenery(background: np.ndarray, pan: np.ndarray, distractors: list, i: int, size: int) -> np.ndarray:
    """Frame ``i`` without actors: the background seen through the panned camera, then the distractors."""
    margin = (background.shape[0] - size) / 2
    shift = np.array([[1.0, 0.0, margin - pan[0]], [0.0, 1.0, margin - pan[1]]])
    frame = cv2.warpAffine(background, shift, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    for outline, path, colour in distractors:
        points = np.round((outline + path[i]) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(frame, [points], colour, lineType=cv2.LINE_AA, shift=_SHIFT)
    return frame


def draw_sprite(frame: np.ndarray, sprite: Sprite, centre: np.ndarray, angle: float, scale: float, *,
                draw: bool = True) -> np.ndarray:
    """Paste ``sprite`` at one pose onto ``frame`` in place (unless ``draw`` is False); returns its mask."""
    size = frame.shape[0]
    rgba = cv2.warpAffine(sprite.rgba, sprite_to_image(sprite, centre, angle, scale), (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    mask = rgba[..., 3] >= 128
    if draw:
        frame[mask] = rgba[..., :3][mask]
    return mask


def sprite_to_image(sprite: Sprite, centre: np.ndarray, angle: float, scale: float) -> np.ndarray:
    """The 2x3 affine map from sprite pixels to image pixels for one pose (for ``cv2.warpAffine``)."""
    theta = np.deg2rad(angle)
    # In y-down image coordinates this matrix turns clockwise on screen for theta > 0.
    linear = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) * (scale / SUPERSAMPLE)
    offset = centre - linear @ np.full(2, sprite.centre)
    return np.hstack([linear, offset[:, None]])


def make_sprite(outline: np.ndarray, rng: np.random.Generator, texture_unit: float) -> Sprite:
    half = math.ceil(np.abs(outline).max() * SUPERSAMPLE) + 2
    side = 2 * half + 1
    texture = render_actor_texture(side, side, rng, period=rng.uniform(4.0, 8.0) * texture_unit * SUPERSAMPLE)
    alpha = np.zeros((side, side), np.uint8)
    points = np.round((outline * SUPERSAMPLE + half) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(alpha, [points], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return Sprite(np.dstack([texture, alpha]))


def apparent_vertices(outline: np.ndarray, motion: Motion, pan: np.ndarray) -> np.ndarray:
    """Outline vertices [T, N, 2] in image space relative to the start position."""
    theta = np.deg2rad(motion.angle)
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = (cos * outline[None, :, 0] - sin * outline[None, :, 1]) * motion.scale[:, None]
    y = (sin * outline[None, :, 0] + cos * outline[None, :, 1]) * motion.scale[:, None]
    return np.stack([x, y], axis=-1) + (motion.offset + pan)[:, None, :]


def fit_in_frame(outline: np.ndarray, motion: Motion, pan: np.ndarray, size: int) -> tuple[Motion, np.ndarray]:
    """Shrink the motion (then, if needed, the pan) until the whole trajectory fits.

    Long videos cannot hold the nominal speeds (32 frames at 2 px/frame cross a 64 px
    frame), so the motion keeps its kind and direction but covers less distance.
    """
    room = size - 1 - 2 * MARGIN
    shrink, current = 1.0, motion
    for _ in range(200):
        path = apparent_vertices(outline, current, pan)
        if np.all(np.ptp(path, axis=(0, 1)) <= room):
            return current, pan
        if shrink > _MIN_SHRINK:
            shrink *= 0.95
            current = motion.shrunk(shrink)
        else:
            pan = pan * 0.8
    raise AssertionError("actor trajectory does not fit in the frame")  # pan -> 0 always fits


def random_walk(rng: np.random.Generator, frames: int, size: int, unit: float) -> np.ndarray:
    """Smooth wandering path [T, 2]: velocity is a damped random process, reflected at the borders."""
    low, high = 3.0 * unit, size - 1 - 3.0 * unit
    position = rng.uniform(low, high, size=2)
    velocity = rng.normal(0.0, 0.5 * unit, size=2)
    kicks = rng.normal(0.0, 0.3 * unit, size=(frames, 2))
    path = np.empty((frames, 2))
    for i in range(frames):
        path[i] = position
        velocity = 0.8 * velocity + kicks[i]
        speed = float(np.hypot(*velocity))
        if speed > DISTRACTOR_MAX_SPEED * unit:
            velocity *= DISTRACTOR_MAX_SPEED * unit / speed
        position = position + velocity
        for axis in range(2):
            if position[axis] < low or position[axis] > high:
                position[axis] = np.clip(2 * np.clip(position[axis], low, high) - position[axis], low, high)
                velocity[axis] = -velocity[axis]
    return path
