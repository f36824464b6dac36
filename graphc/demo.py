"""The demo: an MLP learns 2-D spirals; its gradients are checked against the eager baseline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import eager
from .datasets import spirals
from .differentiate import grad
from .function import compile
from .ir import Variable
from .ops import argmax, cast, mean, placeholder, relu, softmax_cross_entropy, variable
from .optim import adam


def mlp(x: Any, params: list[Any]) -> Any:
    """Dense layers with ReLU between them; the last layer gives logits."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = relu(h)
    return h


def init_params(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    """He-normal weights and zero biases, float32."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, np.float32))
    return params


def run(steps: int = 300, report_every: int = 50, out: Any = print) -> dict[str, float]:
    """Train, print the loss falling, compare with eager mode; return the figures."""
    points, labels = spirals()
    sizes = [2, 64, 64, 3]
    initial = init_params(sizes)
    x = placeholder(points.shape, "float32", name="x")
    y = placeholder(labels.shape, "int64", name="y")
    params: list[Variable] = [variable(p, name=f"{'W' if i % 2 == 0 else 'b'}{i // 2}") for i, p in enumerate(initial)]
    loss = mean(softmax_cross_entropy(mlp(x, params), y))
    accuracy = mean(cast(argmax(mlp(x, params), 1) == y, "float32"))
    grads = compile([x, y], [loss, *grad(loss, params)])
    step = compile([x, y], [loss, accuracy], updates=adam(loss, params, lr=0.005))

    out(f"graphc demo: a {'-'.join(map(str, sizes))} MLP learns {len(labels)} points of 3 spirals")
    graph_loss, *graph_grads = grads(points, labels)
    tensors = [eager.tensor(p, requires_grad=True) for p in initial]
    eager_loss = mean(softmax_cross_entropy(mlp(eager.tensor(points), tensors), eager.tensor(labels)))
    eager_loss.backward()
    diff = max(float(np.max(np.abs(np.asarray(t.grad) - g))) for t, g in zip(tensors, graph_grads))
    out(f"  gradients, compiled vs eager baseline: max |difference| = {diff:.2e} over {len(params)} parameters")

    started = time.perf_counter()
    for i in range(1, steps + 1):
        loss_value, acc = step(points, labels)
        if i == 1 or i % report_every == 0:
            out(f"  step {i:4d}  loss {float(loss_value):.4f}  accuracy {float(acc):6.1%}")
    per_step = (time.perf_counter() - started) / steps

    started = time.perf_counter()
    eager_steps = 20
    for _ in range(eager_steps):
        for t in tensors:
            t.grad = None
        value = mean(softmax_cross_entropy(mlp(eager.tensor(points), tensors), eager.tensor(labels)))
        value.backward()
    eager_per_step = (time.perf_counter() - started) / eager_steps
    out(f"  step time: compiled {per_step * 1e3:.2f} ms, eager forward+backward {eager_per_step * 1e3:.2f} ms")
    return {"first_loss": float(graph_loss), "final_loss": float(loss_value), "accuracy": float(acc),
            "grad_difference": diff}
