"""Binary ops under every broadcasting pattern, in the manner of autograd's systematic tests
(`test_systematic.py`: each NumPy function checked over combinations of argument shapes, first
and second order, against finite differences), written for graphc.

The oracle is NumPy itself: the loss sum(op(a, b) * W) is computed by NumPy's twin of each op,
and its central differences (first order) and second differences along a direction (second
order: v.H.v) are compared with graphc's gradient and Hessian-vector product, all cases built
into one graph and compiled once natively, once on the NumPy back end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc

# (name, graphc's op, NumPy's twin, inputs drawn positive): smooth where the inputs are drawn
OPS: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any], bool]] = [
    ("add", lambda a, b: a + b, np.add, False),
    ("subtract", lambda a, b: a - b, np.subtract, False),
    ("multiply", lambda a, b: a * b, np.multiply, False),
    ("divide", lambda a, b: a / b, np.divide, True),
    ("pow", gc.pow, np.power, True),
    ("maximum", gc.maximum, np.maximum, False),
    ("minimum", gc.minimum, np.minimum, False),
    ("arctan2", gc.arctan2, np.arctan2, False),
    ("hypot", gc.hypot, np.hypot, False),
    ("logaddexp", gc.logaddexp, np.logaddexp, False),
    ("where", lambda a, b: gc.where(a > b, a * b, gc.sin(a + b)), lambda a, b: np.where(a > b, a * b, np.sin(a + b)), False),
]
# the shape pairs autograd's broadcasting combinations cover: scalars, size-1 axes on either side,
# a missing leading axis, both sides stretched at once
SHAPES = [((), (3,)), ((1,), (2, 3)), ((3,), (2, 3)), ((1, 3), (2, 1)), ((2, 1, 3), (3,)), ((2, 3), (2, 1, 3)),
          ((2, 3), ())]


def _inputs(rng: np.random.Generator, shape: tuple[int, ...], positive: bool) -> np.ndarray:
    """Values away from the ops' kinks and ties: magnitudes in [0.5, 2], distinct."""
    size = int(np.prod(shape))
    magnitudes = rng.permutation(np.linspace(0.5, 2.0, max(size, 1)))[:size] + rng.uniform(0, 0.01, size)
    signs = 1.0 if positive else rng.choice([-1.0, 1.0], size)
    return (magnitudes * signs).reshape(shape)


def _cases() -> list[tuple[str, Callable[..., Any], Callable[..., Any], list[np.ndarray], np.ndarray, list[np.ndarray]]]:
    rng = np.random.default_rng(7)
    cases = []
    for name, ours, twin, positive in OPS:
        for sa, sb in SHAPES:
            a, b = _inputs(rng, sa, positive), _inputs(rng, sb, positive)
            if name in ("maximum", "minimum", "where"):
                b = np.asarray(b + 0.123)  # no ties between a and b, where the derivative jumps
            out_shape = np.broadcast_shapes(sa, sb)
            w = np.asarray(rng.normal(size=out_shape))
            direction = [np.asarray(rng.normal(size=sa)), np.asarray(rng.normal(size=sb))]
            cases.append((f"{name} {sa} {sb}", ours, twin, [a, b], w, direction))
    return cases


CASES = _cases()


def _loss(twin: Callable[..., Any], xs: list[np.ndarray], w: np.ndarray) -> float:
    return float(np.sum(twin(*xs) * w))


@pytest.fixture(scope="module", params=["numba", "numpy"])
def computed(request: pytest.FixtureRequest) -> list[list[np.ndarray]]:
    """Per case: the value, both gradients, both halves of the Hessian-vector product; one
    program for every case."""
    inputs, outputs = [], []
    for _, ours, _, xs, w, direction in CASES:
        a, b = (gc.placeholder(x.shape, "float64") for x in xs)
        inputs += [a, b]
        loss = gc.sum(ours(a, b) * w)
        outputs += [ours(a, b), *gc.grad(loss, [a, b]), *gc.hvp(loss, [a, b], direction)]
    f = gc.compile(inputs, outputs, backend=request.param)
    got = f(*[x for case in CASES for x in case[3]])
    return [got[5 * k:5 * k + 5] for k in range(len(CASES))]


@pytest.mark.parametrize("k", range(len(CASES)), ids=[c[0] for c in CASES])
def test_values_gradients_and_second_order_match_numpy_and_finite_differences(computed, k: int) -> None:  # type: ignore[no-untyped-def]
    name, _, twin, xs, w, direction = CASES[k]
    value, ga, gb, ha, hb = computed[k]
    np.testing.assert_allclose(value, twin(*xs), rtol=1e-14, atol=1e-15)
    step = 1e-6
    for x, got in zip(xs, (ga, gb)):
        want = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            saved = x[i]
            x[i] = saved + step
            up = _loss(twin, xs, w)
            x[i] = saved - step
            down = _loss(twin, xs, w)
            x[i] = saved
            want[i] = (up - down) / (2 * step)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)
    # v.H.v by a second difference of NumPy's loss along v
    h = 1e-4
    along = [[x + s * h * v for x, v in zip(xs, direction)] for s in (1, -1)]
    curvature = (_loss(twin, along[0], w) - 2 * _loss(twin, xs, w) + _loss(twin, along[1], w)) / h**2
    ours = float(np.sum(ha * direction[0]) + np.sum(hb * direction[1]))
    assert ours == pytest.approx(curvature, rel=1e-4, abs=1e-5), name
