#!/usr/bin/env python
"""ln_gelu's step written the way a user would, against the workload's own form.

    python benchmarks/user_forms.py [--form workload|as_written] [--json OUT]

`workload`: the shared definition (graphc/cli/workloads.py: `centered * centered`, gc.gelu).
`as_written`: the variance as `(x - mu) ** 2` and GELU spelled out, `0.5 * u * (1 + tanh(
sqrt(2 / pi) * (u + 0.044715 * u ** 3)))`. Each form in its own process (run it twice); the
shared protocol applies (pin to one core, OPENBLAS_CORETYPE/L2_SIZE unset for the command).
Prints one JSON line: median ms per step of loss and gradients (x, gamma, beta), cold seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np

import graphc as gc
from graphc.cli.workloads import WORKLOADS, ln_gelu_loss, make_data


def ln_gelu_as_written(x: Any, gamma: Any, beta: Any, eps: float) -> Any:
    mu = gc.mean(x, axis=1, keepdims=True)
    var = gc.mean((x - mu) ** 2, axis=1, keepdims=True)
    u = (x - mu) / (var + eps) ** 0.5 * gamma + beta
    y = 0.5 * u * (1 + gc.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))
    return gc.mean(y**2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--form", choices=["workload", "as_written"], default="workload")
    ap.add_argument("--json", help="append the JSON line to this file")
    args = ap.parse_args()
    wl, d = WORKLOADS["ln_gelu"], make_data("ln_gelu")
    started = time.perf_counter()
    names = ("x", "gamma", "beta")
    phs = [gc.placeholder(d[k].shape, "float32", name=k) for k in names]
    build = ln_gelu_loss if args.form == "workload" else ln_gelu_as_written
    loss = build(*phs, wl["eps"])
    f = gc.compile(phs, (loss, gc.grad(loss, phs)))
    feeds = [d[k] for k in names]
    f(*feeds)
    cold = time.perf_counter() - started
    for _ in range(5):
        f(*feeds)
    times = []
    while len(times) < 20 or sum(times) < 3.0:
        t = time.perf_counter()
        f(*feeds)
        times.append(time.perf_counter() - t)
    row = {"form": args.form, "median_ms": round(float(np.median(times)) * 1e3, 3), "cold_s": round(cold, 2),
           "steps": len(times)}
    print(json.dumps(row))
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
