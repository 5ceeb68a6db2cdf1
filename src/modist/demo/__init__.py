"""``modist demo``: the whole MoDist idea end to end on the built-in benchmark.

The orchestration lives in :mod:`modist.demo.run` (``run_demo``); this package's
import stays light so the CLI starts fast.
"""

DEMO_METHODS = ("modist", "rgb_only", "supervised")
TEST_SPLITS = ("test_biased", "test_unbiased")
