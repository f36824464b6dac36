"""Test-wide settings: every memory plan the suite makes is proven sound as it is made, and the
graph is verified after every optimization pass."""

import os

os.environ.setdefault("GRAPHC_CHECK_PLANS", "1")
os.environ.setdefault("GRAPHC_VERIFY_PASSES", "1")
