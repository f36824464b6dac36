"""Seeded random graphs: graph mode (values, gradients, forward-mode tangents) against eager mode.

Each graph mixes elementwise, broadcasting, reduction, shape and matmul ops on float64 inputs
kept in safe domains; the same build function runs on placeholders and on eager tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager

UNARY: list[Callable[[Any], Any]] = [
    gc.tanh, gc.sigmoid, gc.sin, gc.cos, gc.softplus, gc.gelu, lambda t: gc.exp(gc.tanh(t)),
    lambda t: gc.log(1.5 + gc.tanh(t)), lambda t: gc.sqrt(1.0 + t * t), lambda t: -t,
    lambda t: t * 0.5, lambda t: gc.leaky_relu(t, 0.2), lambda t: gc.clip(t, -3.0, 3.0),
]
BINARY: list[Callable[[Any, Any], Any]] = [
    gc.add, gc.subtract, gc.multiply, lambda a, b: a / (2.0 + gc.tanh(b)), gc.maximum, gc.minimum,
    lambda a, b: gc.where(a > b, a * b, a - b),
]
REDUCE: list[Callable[[Any], Any]] = [
    lambda t: gc.sum(t, axis=-1, keepdims=True), lambda t: gc.mean(t, axis=0, keepdims=True),
    lambda t: gc.logsumexp(t, axis=-1, keepdims=True), lambda t: gc.max(t, axis=0, keepdims=True),
    lambda t: gc.softmax(t, -1), lambda t: gc.log_softmax(t, 0), lambda t: t[:, ::-1],
    lambda t: gc.transpose(gc.transpose(t)), lambda t: gc.reshape(gc.reshape(t, (-1,)), t.shape),
    lambda t: t - gc.mean(t, axis=-1, keepdims=True), lambda t: gc.sum(t, axis=0) * t,
    lambda t: t / gc.sqrt(gc.mean(t * t, axis=-1, keepdims=True) + 1.0),
    lambda t: gc.reshape(gc.sum(gc.exp(t), axis=-1), (4, 1)) * t, lambda t: gc.sum(t * t) * t,
]


def random_program(seed: int, n_ops: int = 8) -> Callable[..., Any]:
    """A deterministic build function of three (4, 3) inputs and a (3, 3) matrix."""
    rng = np.random.default_rng(seed)
    plan = [(int(rng.integers(4)), int(rng.integers(100)), int(rng.integers(100)), int(rng.integers(100)))
            for _ in range(n_ops)]

    def build(a: Any, b: Any, c: Any, m: Any) -> Any:
        pool = [a, b, c]
        for kind, i, j, k in plan:
            x, y = pool[i % len(pool)], pool[j % len(pool)]
            if kind == 0:
                pool.append(UNARY[k % len(UNARY)](x))
            elif kind == 1:
                pool.append(BINARY[k % len(BINARY)](x, y))
            elif kind == 2:
                pool.append(REDUCE[k % len(REDUCE)](x) + y)
            else:
                pool.append(gc.matmul(x, m) * 0.5)
        return gc.sum(pool[-1] * pool[-2]) + gc.sum(gc.tanh(pool[-3]))

    return build


def random_case(seed: int, data_seed: int) -> tuple[list[np.ndarray], list[Any], Any, np.random.Generator]:
    """Input values, their placeholders, and program `seed` built on them."""
    rng = np.random.default_rng(data_seed)
    values = [rng.standard_normal((4, 3)) for _ in range(3)] + [rng.standard_normal((3, 3)) * 0.5]
    phs = [gc.placeholder(v.shape, "float64", name=f"in{i}") for i, v in enumerate(values)]
    return values, phs, random_program(seed)(*phs), rng


@pytest.mark.parametrize("seed", range(60))
def test_graph_and_eager_agree(seed: int) -> None:
    values, phs, y, rng = random_case(seed, 1000 + seed)
    build = random_program(seed)
    directions = [rng.standard_normal(v.shape) for v in values]
    tangent = gc.jvp(y, phs, [gc.constant(d) for d in directions])
    f = gc.compile(phs, [y, *gc.grad(y, phs), tangent], backend="numpy")
    out = f(*values)
    tensors = [eager.tensor(v, requires_grad=True) for v in values]
    ye = build(*tensors)
    ye.backward()
    np.testing.assert_allclose(float(ye), out[0], rtol=1e-12)
    for t, g in zip(tensors, out[1:5]):
        # Eager mode, as PyTorch, leaves .grad None on an input the result does not use.
        got = np.zeros_like(g) if t.grad is None else t.grad.data
        np.testing.assert_allclose(got, g, rtol=1e-10, atol=1e-12)
    # Forward mode agrees with reverse mode: <grad, direction> = jvp(direction).
    projected = sum(float(np.sum(g * d)) for g, d in zip(out[1:5], directions))
    np.testing.assert_allclose(out[5], projected, rtol=1e-9, atol=1e-12)
