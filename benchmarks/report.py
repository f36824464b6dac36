#!/usr/bin/env python
"""The shared report (../shared/bench/report.py) over benchmarks/results, graphc's runners first.

    python benchmarks/report.py [--dir benchmarks/results] [--threads 1]
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("GRAPHC_PEER_BENCH", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)

import report  # noqa: E402

report.PEERS[:0] = ["graphc", "graphc_nofuse", "graphc_noopt", "graphc_eager"]

if __name__ == "__main__":
    if "--dir" not in sys.argv:
        sys.argv += ["--dir", os.path.join(HERE, "results")]
    report.main()
