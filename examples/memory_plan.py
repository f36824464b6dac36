"""The memory plan of a training step: every buffer of the compiled program lives in one arena,
placed so that buffers alive at the same time never share a byte; fusion keeps most values in
registers, and values that die where a loop writes a new one lend it their place.

This script compiles one MLP training step three ways and prints each plan's figures: the arena,
the lower bound (the most bytes alive at any one step: no plan can do better), and the naive
figure (every value the program computes in a buffer of its own). Run it to see the plan drawn:
it writes memory_plan.html, whose "Memory plan" picture has one rectangle per buffer.
"""

import os
import tempfile

import numpy as np

import graphc as gc

rng = np.random.default_rng(0)
x = gc.placeholder((256, 784), name="x")
y = gc.placeholder((256,), "int64", name="y")
sizes = [784, 512, 512, 10]
params = []
for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
    params.append(gc.variable((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)))
    params.append(gc.variable(np.zeros(fan_out, np.float32)))
h = x
for i in range(0, len(params), 2):
    h = h @ params[i] + params[i + 1]
    if i + 2 < len(params):
        h = gc.relu(h)
loss = gc.mean(gc.softmax_cross_entropy(h, y))
updates = gc.optim.sgd(loss, params, 0.01)

print(f"{'':26}{'arena MiB':>10}{'bound MiB':>11}{'naive MiB':>11}{'in place':>10}")
plans = {}
for label, options in [("no optimization", dict(optimize=False)), ("all passes but fusion", dict(disable=("fuse",))),
                       ("all passes", {})]:
    f = gc.compile([x, y], loss, updates=updates, backend="numpy", **options)  # the plan, without native code
    m = plans[label] = f.memory
    print(f"{label:26}{m.arena_bytes / 2**20:10.2f}{m.lower_bound_bytes / 2**20:11.2f}"
          f"{m.naive_bytes / 2**20:11.2f}{len(m.in_place):10d}")

best = plans["all passes"]
assert best.lower_bound_bytes <= best.arena_bytes <= 1.1 * best.lower_bound_bytes  # the plan is near-optimal
assert best.arena_bytes <= best.naive_bytes / 2  # and at most half of one buffer per value
print(f"the optimized step needs {best.arena_bytes / best.naive_bytes:.0%} of the naive memory, "
      f"{best.arena_bytes / best.lower_bound_bytes:.3f}x its lower bound")
page = os.path.join(os.environ.get("GRAPHC_EXAMPLE_OUT", tempfile.gettempdir()), "memory_plan.html")
print("the plan, drawn:", f.save_html(page))
