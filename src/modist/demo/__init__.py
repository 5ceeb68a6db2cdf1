"""``modist demo``: the whole MoDist idea end to end on the built-in benchmark.

The orchestration lives in :mod:`modist.demo.run` (``run_demo``); this package's
import stays light so the CLI starts fast.
"""

DEMO_METHODS = ("modist", "rgb_only", "supervised")
# Per-method changes to the shared recipe (configs/demo.yaml), applied before the user's
# overrides. The demo's MoDist distils motion with the cross-modal terms only: the training
# split's scene predicts the class, and the visual<->visual term learns that shortcut
# (measurements in the README, "The demo").
METHOD_OVERRIDES = {"modist": ("method.weight_vv=0",)}
TEST_SPLITS = ("test_biased", "test_unbiased")
