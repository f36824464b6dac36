"""Test-wide settings: every memory plan the suite makes is proven sound as it is made."""

import os

os.environ.setdefault("GRAPHC_CHECK_PLANS", "1")
