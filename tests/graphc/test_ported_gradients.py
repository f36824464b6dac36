"""Gradient cases in the manner of autograd's numpy tests (`check_grads`: first and second order
against finite differences), written for graphc: matrix-vector products in every orientation,
max/min over all or some axes (and the gradient of max's gradient), sums and means over axes,
broadcasting adds of the shapes such suites use, logsumexp and softmax. All of them run natively
in one compiled function (with every pass) and are checked against central differences of the
loss through the reference executor, in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy.executor import evaluate
from graphc.ir import Graph

CASES: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("mat @ vec", lambda m, v: m @ v, [(5, 6), (6,)]),
    ("vec @ mat", lambda v, m: v @ m, [(5,), (5, 6)]),
    ("vec @ vec", lambda a, b: a @ b, [(6,), (6,)]),
    ("mat @ mat.T", lambda a, b: a @ gc.transpose(b), [(4, 6), (3, 6)]),
    ("batched @ mat", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("max", lambda x: gc.max(x), [(4, 5)]),
    ("max axis 0", lambda x: gc.max(x, axis=0), [(4, 5)]),
    ("min axis 1 keepdims", lambda x: gc.min(x, axis=1, keepdims=True), [(4, 5)]),
    ("sum axes (0, 2)", lambda x: gc.sum(x, axis=(0, 2)), [(2, 3, 4)]),
    ("mean axis -1", lambda x: gc.mean(x, axis=-1), [(3, 4)]),
    ("add (3,) (3,)", gc.add, [(3,), (3,)]),
    ("add (3,) (2, 3)", gc.add, [(3,), (2, 3)]),
    ("add (1, 3) (2, 3)", gc.add, [(1, 3), (2, 3)]),
    ("add (1, 2, 1) (4, 2, 3)", gc.add, [(1, 2, 1), (4, 2, 3)]),
    ("multiply (2, 1) (1, 3)", gc.multiply, [(2, 1), (1, 3)]),
    ("logsumexp axis 1", lambda x: gc.logsumexp(x, axis=1), [(3, 4)]),
    ("softmax axis 0", lambda x: gc.softmax(x, 0), [(3, 4)]),
    ("tanh of a product", lambda a, b: gc.tanh(a * b), [(3, 4), (4,)]),
]


def _loss(name: str, fn: Callable[..., Any], xs: list[Any]) -> Any:
    y = fn(*xs)
    w = np.cos(np.arange(int(np.prod(y.shape))) + len(name)).reshape(y.shape) + 0.5
    return gc.sum(y * w)


@pytest.fixture(scope="module")
def native() -> tuple[list[Any], list[Any], list[Any], list[np.ndarray], list[np.ndarray]]:
    """Every case's placeholders, loss, gradients and Hessian-vector products, one native program."""
    rng = np.random.default_rng(0)
    phs, losses, outs, feeds, directions = [], [], [], [], []
    for k, (name, fn, shapes) in enumerate(CASES):
        xs = [gc.placeholder(s, "float64", name=f"c{k}x{i}") for i, s in enumerate(shapes)]
        loss = _loss(name, fn, xs)
        vs = [rng.standard_normal(s) for s in shapes]
        phs.append(xs)
        losses.append(loss)
        outs += gc.grad(loss, xs) + gc.hvp(loss, xs, vs)
        # Distinct values: no ties in max/min, so finite differences see a smooth function.
        feeds += [rng.permutation(int(np.prod(s))).reshape(s) * 0.37 - 1.0 + rng.uniform(-0.05, 0.05, s)
                  for s in shapes]
        directions += vs
    f = gc.compile([p for xs in phs for p in xs], outs)
    return phs, losses, f(*feeds), feeds, directions


def _numeric_grad(fn: Callable[[list[np.ndarray]], float], xs: list[np.ndarray], i: int, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(xs[i])
    for j in np.ndindex(xs[i].shape):
        up = [x.copy() for x in xs]
        down = [x.copy() for x in xs]
        up[i][j] += eps
        down[i][j] -= eps
        g[j] = (fn(up) - fn(down)) / (2 * eps)
    return g


@pytest.mark.parametrize("k", range(len(CASES)), ids=[c[0] for c in CASES])
def test_first_and_second_order_match_finite_differences(native, k: int) -> None:  # type: ignore[no-untyped-def]
    phs, losses, got, feeds, directions = native
    start = sum(len(xs) for xs in phs[:k])
    xs, n = phs[k], len(phs[k])
    at = 2 * start
    grads, hvps = got[at:at + n], got[at + n:at + 2 * n]
    mine, vs = feeds[start:start + n], directions[start:start + n]
    loss_graph = Graph(xs, [losses[k]])
    grad_graph = Graph(xs, gc.grad(losses[k], xs))

    def loss(values: list[np.ndarray]) -> float:
        return float(evaluate(loss_graph, dict(zip(xs, values)))[0])

    for i in range(n):
        np.testing.assert_allclose(grads[i], _numeric_grad(loss, mine, i), rtol=1e-5, atol=1e-6)
        # The Hessian times v, by differences of the gradient along v.
        eps = 1e-5
        plus = evaluate(grad_graph, dict(zip(xs, [x + eps * v for x, v in zip(mine, vs)])))[i]
        minus = evaluate(grad_graph, dict(zip(xs, [x - eps * v for x, v in zip(mine, vs)])))[i]
        np.testing.assert_allclose(hvps[i], (plus - minus) / (2 * eps), rtol=1e-4, atol=1e-5)


def test_tangents_and_cotangents_pair_with_their_tensors_by_key() -> None:
    # as jax.jvp and jax.vjp: a dict's meaning is its keys, whatever order it was written in
    a, b = gc.variable(np.float64(2.0), name="a"), gc.variable(np.float64(3.0), name="b")
    y = a * a * 10.0 + b * b * 1000.0  # dy/da = 40, dy/db = 6000
    xs = {"a": a, "b": b}
    ys = {"u": a * 1.0, "v": b * 1.0}
    jv = gc.jvp(y, xs, {"b": 0.0, "a": 1.0})
    vj = gc.vjp(ys, [a, b], {"v": 1.0, "u": 0.0})
    hv = gc.hvp(y, xs, {"b": 0.0, "a": 1.0})
    got = gc.compile([], [jv, *vj, hv["a"], hv["b"]], backend="numpy")()
    assert [float(v) for v in got] == [40.0, 0.0, 1.0, 20.0, 0.0]
    with pytest.raises(gc.ShapeError, match=r"structure \{'a': f64\[\], 'b': f64\[\]\}, got \{'p'"):
        gc.jvp(y, xs, {"p": 1.0, "q": 0.0})
    with pytest.raises(gc.ShapeError, match="vjp cotangents: expected values in the structure"):
        gc.vjp(ys, [a, b], [1.0, 0.0])  # a list for a dict: which is which?
