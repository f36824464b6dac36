"""Functions built from other ops (var, std, layer_norm, einsum, squeeze, triu, pooling, integer-array
indexing, ...): each against NumPy's own function, its gradient and tangent against finite
differences, its second derivative, native against the reference, and eager against graph."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager

from .cases import make_value, placeholder_for
from .test_ops import ATOL, RTOL, central_difference


def _pool(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], reduce: Callable[..., Any]) -> np.ndarray:
    ho, wo = (x.shape[2] - k[0]) // s[0] + 1, (x.shape[3] - k[1]) // s[1] + 1
    out = np.empty(x.shape[:2] + (ho, wo))
    for r in range(ho):
        for q in range(wo):
            out[:, :, r, q] = reduce(x[:, :, r * s[0] : r * s[0] + k[0], q * s[1] : q * s[1] + k[1]], axis=(2, 3))
    return out


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b


@dataclass(frozen=True)
class Composite:
    name: str
    build: Callable[..., Any]
    reference: Callable[..., Any]
    inputs: tuple[tuple[tuple[int, ...], str], ...]

    @property
    def id(self) -> str:
        return self.name


COMPOSITES = [
    Composite("var", lambda x: gc.var(x, 1), lambda x: np.var(x, 1), (((3, 4), "real"),)),
    Composite("var-all-ddof1-keep", lambda x: gc.var(x, None, True, 1), lambda x: np.var(x, None, keepdims=True, ddof=1),
              (((3, 4), "real"),)),
    Composite("std", lambda x: gc.std(x, (0, 2)), lambda x: np.std(x, (0, 2)), (((2, 3, 4), "real"),)),
    Composite("square", gc.square, np.square, (((2, 3), "real"),)),
    Composite("reciprocal", gc.reciprocal, np.reciprocal, (((2, 3), "positive"),)),
    Composite("squeeze", gc.squeeze, np.squeeze, (((1, 3, 1, 2), "real"),)),
    Composite("squeeze-axis", lambda x: gc.squeeze(x, -2), lambda x: np.squeeze(x, -2), (((1, 3, 1, 2), "real"),)),
    Composite("expand_dims", lambda x: gc.expand_dims(x, (0, -1)), lambda x: np.expand_dims(x, (0, -1)),
              (((2, 3), "real"),)),
    Composite("triu", lambda x: gc.triu(x, 1), lambda x: np.triu(x, 1), (((2, 3, 4), "real"),)),
    Composite("tril", lambda x: gc.tril(x, -1), lambda x: np.tril(x, -1), (((4, 3), "real"),)),
    Composite("einsum-matmul", lambda a, b: gc.einsum("ij,jk->ik", a, b), lambda a, b: np.einsum("ij,jk->ik", a, b),
              (((2, 3), "real"), ((3, 4), "real"))),
    Composite("einsum-attention", lambda a, b: gc.einsum("bhqd,bhkd->bhqk", a, b),
              lambda a, b: np.einsum("bhqd,bhkd->bhqk", a, b), (((2, 2, 3, 4), "real"), ((2, 2, 5, 4), "real"))),
    Composite("einsum-three", lambda a, b, c: gc.einsum("abc,cd,de", a, b, c),
              lambda a, b, c: np.einsum("abc,cd,de", a, b, c), (((2, 3, 4), "real"), ((4, 5), "real"), ((5, 2), "real"))),
    Composite("einsum-outer-trace-free", lambda a, b: gc.einsum("i,j", a, b), lambda a, b: np.einsum("i,j", a, b),
              (((3,), "real"), ((4,), "real"))),
    Composite("einsum-ellipsis", lambda a, b: gc.einsum("...ij,...jk->...ik", a, b),
              lambda a, b: np.einsum("...ij,...jk->...ik", a, b), (((2, 2, 3), "real"), ((2, 3, 2), "real"))),
    Composite("einsum-elementwise", lambda a, b: gc.einsum("ij,ij->ij", a, b), lambda a, b: a * b,
              (((2, 3), "real"), ((2, 3), "real"))),
    Composite("matmul-folded-batch", lambda a, b: a @ b, np.matmul, (((2, 3, 4), "real"), ((4, 5), "real"))),
    Composite("einsum-sum", lambda a: gc.einsum("ijk->j", a), lambda a: np.einsum("ijk->j", a), (((2, 3, 4), "real"),)),
    Composite("take-axis1", lambda x, i: gc.take(x, i, 1), lambda x, i: np.take(x, i, 1),
              (((3, 4, 2), "real"), ((2, 3), "int:4"))),
    Composite("take-flat", lambda x: gc.take(x, [5, 0, 5], None), lambda x: np.take(x, [5, 0, 5]), (((2, 3), "real"),)),
    Composite("getitem-array", lambda x: x[1:, [0, -1, 0]], lambda x: x[1:, [0, -1, 0]], (((3, 4), "real"),)),
    Composite("getitem-int-tensor", lambda x, i: x[i], lambda x, i: x[i], (((5, 2), "real"), ((3,), "int:5"))),
    Composite("getitem-mask", lambda x: x[:, np.array([True, False, True])], lambda x: x[:, [True, False, True]],
              (((2, 3), "real"),)),
    Composite("getitem-after-int", lambda x: x[1, ..., [2, 0]], lambda x: x[1, ..., [2, 0]], (((2, 3, 4), "real"),)),
    Composite("flip", lambda x: gc.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2)), (((2, 3, 2), "real"),)),
    Composite("swapaxes", lambda x: gc.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), (((2, 3, 4), "real"),)),
    Composite("moveaxis", lambda x: gc.moveaxis(x, [0, 1], [-1, 0]), lambda x: np.moveaxis(x, [0, 1], [-1, 0]),
              (((2, 3, 4), "real"),)),
    Composite("split", lambda x: gc.split(x, [1, 3], 1)[1], lambda x: np.split(x, [1, 3], 1)[1], (((2, 4), "real"),)),
    Composite("pad", lambda x: gc.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
              lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5), (((2, 3), "real"),)),
    Composite("tile", lambda x: gc.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), (((2, 3), "real"),)),
    Composite("repeat", lambda x: gc.repeat(x, [2, 0, 1], 1), lambda x: np.repeat(x, [2, 0, 1], 1), (((2, 3), "real"),)),
    Composite("cumsum", lambda x: gc.cumsum(x, 1), lambda x: np.cumsum(x, 1), (((2, 5), "real"),)),
    Composite("cumsum-flat", gc.cumsum, np.cumsum, (((2, 3), "real"),)),
    Composite("layer_norm", gc.layer_norm, _layer_norm, (((2, 3, 5), "real"), ((5,), "real"), ((5,), "real"))),
    Composite("gelu-exact", lambda x: gc.gelu(x, approximate="none"),
              lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2))), (((2, 3), "real"),)),
    Composite("max_pool2d", lambda x: gc.max_pool2d(x, 2), lambda x: _pool(x, (2, 2), (2, 2), np.max),
              (((2, 2, 5, 4), "distinct"),)),
    Composite("max_pool2d-overlapping", lambda x: gc.max_pool2d(x, (2, 3), 1), lambda x: _pool(x, (2, 3), (1, 1), np.max),
              (((1, 2, 4, 5), "distinct"),)),
    Composite("avg_pool2d", lambda x: gc.avg_pool2d(x, 3, 2), lambda x: _pool(x, (3, 3), (2, 2), np.mean),
              (((2, 2, 7, 6), "real"),)),
]


def _setup(case: Composite, seed: int = 0) -> tuple[list[Any], list[np.ndarray], Any, np.random.Generator]:
    rng = np.random.default_rng(seed)
    phs = [placeholder_for(s, k, i) for i, (s, k) in enumerate(case.inputs)]
    vals = [make_value(s, k, rng) for s, k in case.inputs]
    return phs, vals, case.build(*phs), rng


def _floats(case: Composite) -> list[int]:
    return [i for i, (_, k) in enumerate(case.inputs) if not k.startswith("int")]


@pytest.mark.parametrize("case", COMPOSITES, ids=lambda c: c.id)
def test_value_matches_numpy(case: Composite) -> None:
    phs, vals, out, _ = _setup(case)
    want = case.reference(*vals)
    for backend in ("numpy", "numba"):
        (got,) = gc.compile(phs, [out], backend=backend)(*vals)
        assert got.shape == np.shape(want) and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=backend)


@pytest.mark.parametrize("case", COMPOSITES, ids=lambda c: c.id)
def test_gradients_match_finite_differences(case: Composite) -> None:
    phs, vals, out, rng = _setup(case)
    wrt = _floats(case)
    loss = gc.sum(out * gc.constant(rng.standard_normal(out.shape)))
    grads = gc.grad(loss, [phs[i] for i in wrt])
    directions = [rng.standard_normal(vals[i].shape) for i in wrt]
    tangent = gc.jvp(loss, [phs[i] for i in wrt], [gc.constant(d) for d in directions])
    hv = gc.hvp(loss, [phs[i] for i in wrt], [gc.constant(d) for d in directions])
    f = gc.compile(phs, [loss, tangent, *grads, *hv], backend="numpy")
    got = f(*vals)
    numeric_tangent = 0.0
    for k, i in enumerate(wrt):
        np.testing.assert_allclose(got[2 + k], central_difference(lambda v: f(*v)[0], vals, i), rtol=RTOL, atol=ATOL)
        numeric_tangent = numeric_tangent + central_difference(lambda v: f(*v)[0], vals, i, directions[k])
    np.testing.assert_allclose(got[1], numeric_tangent, rtol=RTOL, atol=ATOL)
    n = len(wrt)
    for k in range(n):  # the Hessian-vector product against differences of the gradient
        numeric = sum(central_difference(lambda v, k=k: f(*v)[2 + k], vals, i, d) for i, d in zip(wrt, directions))
        np.testing.assert_allclose(got[2 + n + k], numeric, rtol=RTOL, atol=ATOL, err_msg="hvp")
    native = gc.compile(phs, [loss, *grads])(*vals)
    for a, b in zip(native, [got[0], *got[2 : 2 + n]]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", COMPOSITES, ids=lambda c: c.id)
def test_eager_matches_graph(case: Composite) -> None:
    phs, vals, out, rng = _setup(case)
    wrt = _floats(case)
    weights = rng.standard_normal(out.shape)
    expected = gc.compile(phs, [out, *gc.grad(gc.sum(out * gc.constant(weights)), [phs[i] for i in wrt])],
                          backend="numpy")(*vals)
    tensors = [eager.tensor(v, requires_grad=i in wrt) for i, v in enumerate(vals)]
    result = case.build(*tensors)
    np.testing.assert_allclose(result.data, expected[0], rtol=1e-14, atol=1e-15)
    gc.sum(result * weights).backward()
    for i, g in zip(wrt, expected[1:]):
        np.testing.assert_allclose(tensors[i].grad.data, g, rtol=1e-12, atol=1e-14)
