"""``modist demo``: the whole MoDist idea end to end on the built-in benchmark.

The demo's rows are *arms*: a method, its changes to the shared recipe
(``configs/demo.yaml``) and the training split it learns from. Besides MoDist and
its RGB-only baseline, three arms check the instrument itself, whichever
self-supervised method wins (``supervised_unbiased``, ``motion_only``, ``supervised``).

The orchestration lives in :mod:`modist.demo.run` (``run_demo``); this package's
import stays light so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoArm:
    """One row of the demo: ``method.name``, its config overrides, its training split."""

    method: str
    overrides: tuple[str, ...] = ()
    train_split: str = "train"


ARMS: dict[str, DemoArm] = {
    # The release's weighting: visual<->visual plus both cross-modal terms at 1, motion<->motion off.
    "modist": DemoArm("modist"),
    "rgb_only": DemoArm("rgb_only"),
    "supervised": DemoArm("supervised"),
    "supervised_unbiased": DemoArm("supervised", train_split="train_unbiased"),
    "motion_only": DemoArm("motion_only"),
    # Named variant: the cross-modal terms only (the visual<->visual term off).
    "modist_xmodal": DemoArm("modist", ("method.weight_vv=0",)),
    # The paper's ablations in miniature (docs/demo.md). Loss terms, from the release's weighting:
    "modist_vv_vm": DemoArm("modist", ("method.weight_mv=0",)),  # visual query vs motion key only
    "modist_vv_mv": DemoArm("modist", ("method.weight_vm=0",)),  # motion query vs visual key only
    "modist_all4": DemoArm("modist", ("method.weight_mm=1",)),  # motion<->motion on as well
    # The teacher's motion input (the demo's default is (dx, dy)):
    "modist_magnitude": DemoArm("modist", ("motion.encoding=magnitude",)),
    "modist_flow_edges": DemoArm("modist", ("motion.encoding=flow_edges",)),
    "modist_frame_diff": DemoArm("modist", ("motion.encoding=frame_diff",)),  # no flow at all
    # Training length (the demo's budget is 600 steps):
    "modist_1200": DemoArm("modist", ("train.steps=1200",)),
    "rgb_only_1200": DemoArm("rgb_only", ("train.steps=1200",)),
    "modist_2400": DemoArm("modist", ("train.steps=2400",)),
    "rgb_only_2400": DemoArm("rgb_only", ("train.steps=2400",)),
    # The teacher trained alone for as long: what the student's motion targets can reach.
    "motion_only_1200": DemoArm("motion_only", ("train.steps=1200",)),
    "motion_only_2400": DemoArm("motion_only", ("train.steps=2400",)),
}
# ``modist demo --study NAME``: sets of arms run together (each cached per arm and seed).
STUDIES: dict[str, tuple[str, ...]] = {
    "loss_terms": ("rgb_only", "modist_vv_vm", "modist_vv_mv", "modist", "modist_all4", "modist_xmodal"),
    "motion_input": ("modist", "modist_magnitude", "modist_flow_edges", "modist_frame_diff"),
    "length": ("modist", "rgb_only", "motion_only", "modist_1200", "rgb_only_1200", "motion_only_1200",
               "modist_2400", "rgb_only_2400", "motion_only_2400"),
}
DEMO_METHODS = ("modist", "rgb_only", "supervised", "supervised_unbiased", "motion_only")
TEST_SPLITS = ("test_biased", "test_unbiased")

# The validity checks (fractions): the ceiling is reachable with labels, the teacher
# carries the class, and the scene shortcut is real.
CEILING_MIN = 0.70  # supervised_unbiased, linear top-1 on test_unbiased
TEACHER_MIN = 0.60  # motion_only on its own motion features, linear top-1 on test_unbiased
SHORTCUT_MIN_GAP = 0.30  # supervised: test_biased minus test_unbiased, linear top-1

# The saliency checks (lift units; ours, fixed before any self-supervised arm's lift was looked at):
# the ceiling's maps prefer the actor, and they differ from a scene-trained encoder's and from a
# randomly initialised encoder's by a clear margin whose 95 % intervals do not overlap.
SALIENCY_CEILING_MIN = 1.5  # supervised_unbiased, foreground lift on test_unbiased
SALIENCY_MARGIN = 0.2  # ceiling lift minus supervised's, and minus a random-init encoder's
