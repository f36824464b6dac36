#!/usr/bin/env python
"""The gradient step of two padded 3x3 convolutions (as most CNNs pad them), which the shared
workloads (LeNet, unpadded) do not exercise: x f32[64, 16, 16, 16] -> 32 -> 32 channels,
padding 1, ReLU, loss sum(h * h) / 1000, gradients of both filters.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 1 python benchmarks/padded_conv.py

Prints one JSON line: the median and best of 30 steps, milliseconds.
"""

from __future__ import annotations

import json
import time

import numpy as np

import graphc as gc


def main() -> None:
    rng = np.random.default_rng(0)
    x = gc.placeholder((64, 16, 16, 16), "float32", name="x")
    w1 = gc.variable((rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32), name="w1")
    w2 = gc.variable((rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32), name="w2")
    h = gc.relu(gc.conv2d(gc.relu(gc.conv2d(x, w1, padding=1)), w2, padding=1))
    loss = gc.sum(h * h) * 1e-3
    f = gc.compile([x], [loss, *gc.grad(loss, [w1, w2])])
    data = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)
    for _ in range(5):
        f(data)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        f(data)
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"case": "padded_conv", "median_ms": round(float(np.median(times)), 3),
                      "best_ms": round(min(times), 3)}))


if __name__ == "__main__":
    main()
