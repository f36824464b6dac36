"""Equal layers compile once: why a deep network costs graphc hardly more to compile than a
shallow one.

A compiled step is a list of kernels — one per fused loop, BLAS call or update — and a kernel's
code holds nothing of the program it came from: the arrays it reads and writes are parameters.
Every hidden layer of an MLP of one width runs the very same kernels, so each distinct kernel is
compiled once (and kept on disk for the next process). This script compiles the training step
of a 4-layer and then of a 48-layer tanh MLP of width 32, prints how many kernels each runs and
how many it had to compile, and trains the deep one for a few steps.
"""

import numpy as np

import graphc as gc


def mlp_step(layers: int, width: int = 32, batch: int = 16) -> tuple[gc.Function, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(layers)
    x = gc.placeholder((batch, width), name="x")
    y = gc.placeholder((batch,), "int64", name="y")
    params = []
    for _ in range(layers):
        limit = np.sqrt(6 / (2 * width))
        params += [gc.variable(rng.uniform(-limit, limit, (width, width)).astype(np.float32)),
                   gc.variable(np.zeros(width, np.float32))]
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = gc.tanh(h)
    loss = gc.mean(gc.softmax_cross_entropy(h, y))
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, params, 0.1))
    return f, rng.standard_normal((batch, width)).astype(np.float32), rng.integers(0, width, batch)


print(f"{'layers':>7}{'kernels':>9}{'distinct':>10}{'compiled now':>14}{'kernel compile s':>18}")
seen = set()
for layers in (4, 48):
    f, xs, ys = mlp_step(layers)
    texts = f._native.texts
    new = set(texts) - seen
    seen |= set(texts)
    print(f"{layers:7}{len(texts):9}{len(set(texts)):10}{len(new):14}{f._native.compile_seconds:18.2f}")

# Twelve times the layers, ten times the kernels run, and (almost) nothing new to compile.
assert len(set(texts)) <= 16 and len(new) <= 3, (len(set(texts)), len(new))
losses = [float(f(xs, ys)) for _ in range(30)]
print(f"48 layers, 30 SGD steps on one batch: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert losses[-1] < losses[0]
