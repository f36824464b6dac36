#!/usr/bin/env python
"""Per-call overhead of a tiny compiled graph, feed checks included: y = sum(x * x), x f32[4].

    python benchmarks/overhead.py [--calls 200000]

Prints one JSON line: median and best of 7 batches, microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import graphc as gc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=200_000)
    args = ap.parse_args()
    x = gc.placeholder((4,), name="x")
    f = gc.compile([x], gc.sum(x * x))
    data = np.ones(4, np.float32)
    f(data)
    batch = args.calls // 7
    per_call = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(batch):
            f(data)
        per_call.append((time.perf_counter() - start) / batch * 1e6)
    per_call.sort()
    print(json.dumps({"case": "tiny_graph_call", "median_us": per_call[3], "best_us": per_call[0],
                      "calls": batch * 7, "compile_s": f._native.compile_seconds if f._native else None}))


if __name__ == "__main__":
    main()
