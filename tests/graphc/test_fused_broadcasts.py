"""Regressions: a per-row value broadcast along a new trailing axis inside a fused loop.

A fused "rows" loop read a per-row input of shape (n,) through a reshape to (n, 1) as if it
were (1, n): every row got row 0's value (or NaN). These patterns run natively with every pass
(one compiled function per dtype holds all of them) and must equal the NumPy reference on the
graph as built: values, first and second derivatives.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _patterns(dt: str) -> tuple[list[gc.Node], list[object], list[np.ndarray]]:
    u = gc.placeholder((2,), dt, name="u")
    v = gc.placeholder((3,), dt, name="v")
    x = gc.placeholder((2, 3), dt, name="x")
    z = gc.placeholder((4, 2, 3), dt, name="z")
    ones = np.ones((2, 3), dt)
    weights = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dt)
    outs = [
        gc.broadcast_to(u[:, None], (2, 3)),
        gc.reshape(u, (2, 1)) * ones,
        x - gc.mean(x, axis=1)[:, None],
        x / gc.sum(x, axis=1)[:, None],
        u[:, None] * v[None, :],
        gc.exp(z - gc.max(z, axis=2)[:, :, None]),
    ]
    for reduce in (gc.sum, gc.mean, gc.logsumexp, gc.max, gc.min):
        y = gc.sum(reduce(x, axis=1) * np.array([1.0, 2.0], dt))
        g = gc.grad(y, x)
        outs += [g, gc.grad(gc.sum(g * weights), x)]  # first and second order
    loss = gc.sum(gc.tanh(x - gc.mean(x, axis=1)[:, None]) * weights) + gc.sum(gc.sigmoid(u[:, None] * v[None, :]))
    grads = gc.grad(loss, [x, u, v])
    outs += grads + gc.hvp(loss, [x, u, v], [weights, np.ones(2, dt), np.ones(3, dt)])
    feeds = [np.array([1.0, 2.0], dt), np.array([3.0, -1.0, 2.0], dt), np.array([[0.0, 5, 2], [7, 1, 3]], dt),
             np.arange(24, dtype=dt).reshape(4, 2, 3) % 5]
    return [u, v, x, z], outs, feeds


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_per_row_values_broadcast_along_a_new_last_axis(dt: str) -> None:
    inputs, outs, feeds = _patterns(dt)
    want = gc.compile(inputs, outs, backend="numpy", optimize=False)(*feeds)
    f = gc.compile(inputs, outs)
    assert any(g.kind == "rows" for g in f.graph.groups), "the patterns must run in fused rows loops"
    got = f(*feeds)
    rtol = 1e-12 if dt == "float64" else 2e-5
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"output {k}")


def test_the_reported_reproducers() -> None:
    u = gc.placeholder((2,), "float64")
    assert gc.compile([u], gc.broadcast_to(u[:, None], (2, 3)))(np.array([1.0, 2.0])).tolist() == [[1.0] * 3, [2.0] * 3]
    x = gc.placeholder((2, 3), "float64")
    g = gc.grad(gc.sum(gc.max(x, axis=1)), x)
    got = gc.compile([x], g)(np.array([[0.0, 5, 2], [7, 1, 3]]))
    assert got.tolist() == [[0, 1, 0], [1, 0, 0]]
