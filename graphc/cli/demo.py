"""The demo (`graphc demo`, `make demo`): an MLP learns 2-D spirals.

1. The compiled training step and the eager baseline take the same SGD steps from the same
   start: their losses agree step for step, and the speed-up is measured.
2. A compiled Adam step trains the model, with a progress bar and the loss falling.
3. The report page of that step is written (passes, graphs, fusion, memory, gradient flow).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import eager
from ..function import compile
from ..ir import Variable
from ..ops import argmax, cast, mean, placeholder, relu, softmax_cross_entropy, variable
from ..optim import adam, sgd
from .datasets import spirals


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


def progress(i: int, n: int, text: str, out: Callable[[str], None], tty: bool, width: int = 30) -> None:
    """A progress bar redrawn in place on a terminal; every tenth of the way otherwise."""
    done = int(width * i / n)
    line = f"  [{'#' * done}{'.' * (width - done)}] {i:4d}/{n}  {text}"
    if tty:
        sys.stdout.write("\r" + line + ("\n" if i == n else ""))
        sys.stdout.flush()
    elif i == 1 or i == n or i % max(n // 10, 1) == 0:
        out(line)


def _variables(initial: list[np.ndarray]) -> list[Variable]:
    return [variable(p, name=f"{'W' if i % 2 == 0 else 'b'}{i // 2}") for i, p in enumerate(initial)]


def compare_with_eager(points: np.ndarray, labels: np.ndarray, initial: list[np.ndarray], steps: int = 20,
                       lr: float = 0.1) -> tuple[float, float, float]:
    """The same SGD steps compiled and eagerly: max |loss difference|, and ms per step of each."""
    x = placeholder(points.shape, "float32", name="x")
    y = placeholder(labels.shape, "int64", name="y")
    params = _variables(initial)
    loss = mean(softmax_cross_entropy(mlp(x, params), y))
    step = compile([x, y], loss, updates=sgd(loss, params, lr))
    step(points, labels)  # the first call loads the machine code: not timed
    for p, value in zip(params, initial):
        p.assign(value)
    started = time.perf_counter()
    compiled = [float(step(points, labels)) for _ in range(steps)]
    compiled_ms = (time.perf_counter() - started) / steps * 1e3

    tensors = [eager.tensor(p.copy(), requires_grad=True) for p in initial]
    xe, ye = eager.tensor(points), eager.tensor(labels)
    started = time.perf_counter()
    eager_losses = []
    for _ in range(steps):
        for t in tensors:
            t.grad = None
        value = mean(softmax_cross_entropy(mlp(xe, tensors), ye))
        value.backward()
        with eager.no_grad():
            for t in tensors:
                assert t.grad is not None  # every parameter reaches the loss
                t.data -= np.float32(lr) * t.grad.data
        eager_losses.append(float(value))
    eager_ms = (time.perf_counter() - started) / steps * 1e3
    return max(abs(a - b) for a, b in zip(compiled, eager_losses)), compiled_ms, eager_ms


def run(steps: int = 300, html: str | None = "graphc-demo.html", out: Callable[[str], None] = print,
        tty: bool | None = None) -> dict[str, float]:
    """Compare, train, write the page; print as it goes and return the figures."""
    tty = sys.stdout.isatty() if tty is None else tty
    points, labels = spirals()
    sizes = [2, 64, 64, 3]
    initial = init_params(sizes)
    out(f"graphc demo: a {'-'.join(map(str, sizes))} MLP learns {len(labels)} points of 3 spirals")

    diff, compiled_ms, eager_ms = compare_with_eager(points, labels, initial)
    out(f"  compiled step vs eager baseline, 20 SGD steps from the same start: max |loss difference| {diff:.1e}")
    ratio = eager_ms / compiled_ms
    verdict = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower (a loaded machine?)"
    out(f"  step time: compiled {compiled_ms:.3f} ms, eager {eager_ms:.3f} ms: compiled {verdict}")

    x = placeholder(points.shape, "float32", name="x")
    y = placeholder(labels.shape, "int64", name="y")
    params = _variables(initial)
    logits = mlp(x, params)
    loss = mean(softmax_cross_entropy(logits, y))
    accuracy = mean(cast(argmax(logits, 1) == y, "float32"))
    step = compile([x, y], [loss, accuracy], updates=adam(loss, params, lr=0.005), gradient_flow=True)
    out(f"  training with Adam ({steps} steps, one native call each):")
    first = float("nan")
    for i in range(1, steps + 1):
        loss_value, acc = step(points, labels)
        first = float(loss_value) if i == 1 else first
        progress(i, steps, f"loss {float(loss_value):.4f}  accuracy {float(acc):6.1%}", out, tty)
    out(f"  loss {first:.4f} -> {float(loss_value):.4f}; accuracy {float(acc):.1%}")
    flow = step.gradient_flow()
    if flow is not None:
        out("  " + str(flow).replace("\n", "\n  "))
    if html:
        out(f"  report page: {step.save_html(html)} (passes, graphs, fusion, memory plan, gradient flow)")
    return {"first_loss": float(first), "final_loss": float(loss_value), "accuracy": float(acc),
            "loss_difference": diff, "speedup": eager_ms / compiled_ms}
