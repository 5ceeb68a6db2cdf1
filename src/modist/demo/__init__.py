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
}
DEMO_METHODS = ("modist", "rgb_only", "supervised", "supervised_unbiased", "motion_only")
TEST_SPLITS = ("test_biased", "test_unbiased")

# The validity checks (fractions): the ceiling is reachable with labels, the teacher
# carries the class, and the scene shortcut is real.
CEILING_MIN = 0.70  # supervised_unbiased, linear top-1 on test_unbiased
TEACHER_MIN = 0.60  # motion_only on its own motion features, linear top-1 on test_unbiased
SHORTCUT_MIN_GAP = 0.30  # supervised: test_biased minus test_unbiased, linear top-1
