"""The Numba lowering of every op, and of random graphs, against the NumPy reference executor.

Each registry case compiles its forward values and gradients to native code; float64 results
must match the reference to rounding (reductions may sum in another order), integers and bools
exactly. float32 cases use float32 tolerances.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc.opdef import REGISTRY

from .ops.cases import CASES, FLOAT_KINDS, Case, make_value, placeholder_for
from .test_random_graphs import random_case


def outputs_of(case: Case, dtype: str = "float64"):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    kinds = [k for _, k in case.inputs]
    phs = [placeholder_for(s, k, i) if k not in FLOAT_KINDS else gc.placeholder(s, dtype, name=f"in{i}")
           for i, (s, k) in enumerate(case.inputs)]
    vals = [make_value(s, k, rng) for s, k in case.inputs]
    vals = [v.astype(dtype) if k in FLOAT_KINDS else v for v, k in zip(vals, kinds)]
    out = case.build(*phs)
    outs = [out]
    wrt = [phs[i] for i, k in enumerate(kinds) if k in FLOAT_KINDS]
    if REGISTRY[case.op].differentiable and wrt and out.dtype.kind == "f":
        weights = gc.constant(rng.standard_normal(out.shape).astype(out.dtype))
        outs += gc.grad(gc.sum(out * weights), wrt)
    return phs, vals, outs


def assert_same(got: list[np.ndarray], want: list[np.ndarray], rtol: float) -> None:
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
        else:
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("case", [c for c in CASES if c.inputs], ids=lambda c: c.id)
def test_native_matches_reference(case: Case) -> None:
    phs, vals, outs = outputs_of(case)
    native = gc.compile(phs, outs)(*vals)
    reference = gc.compile(phs, outs, backend="numpy")(*vals)
    assert_same(native, reference, rtol=1e-12)


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "gelu", "softplus", "softmax", "log_softmax",
                                "logsumexp", "softmax_cross_entropy", "matmul", "sum", "divide", "pow"])
def test_native_matches_reference_in_float32(op: str) -> None:
    case = next(c for c in CASES if c.op == op and c.inputs)
    phs, vals, outs = outputs_of(case, "float32")
    native = gc.compile(phs, outs)(*vals)
    reference = gc.compile(phs, outs, backend="numpy")(*vals)
    assert_same(native, reference, rtol=2e-5)


def test_leaves_and_random_draws_match_reference() -> None:
    gc.set_seed(11)
    outs = [gc.random_normal((3, 4), dtype="float64"), gc.random_uniform((5,)), gc.random_normal((2,)),
            gc.ops.full((2, 2), 1.5, "float64"), gc.constant(np.arange(4.0)), gc.constant(2.0)]
    native, reference = gc.compile([], outs), gc.compile([], outs, backend="numpy")
    for _ in range(3):  # every call draws anew, identically in both
        got, want = native(), reference()
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_match_reference(seed: int) -> None:
    values, phs, y, _ = random_case(seed, 1000 + seed)
    outs = [y, *gc.grad(y, phs)]
    assert_same(gc.compile(phs, outs)(*values), gc.compile(phs, outs, backend="numpy")(*values), 1e-11)


def _edge_programs():  # type: ignore[no-untyped-def]
    x = gc.placeholder((0, 3), name="x")
    yield "zero-size", [x], [x * 2, gc.sum(x, 0), gc.sum(x)], [np.zeros((0, 3), np.float32)]
    a, b = gc.placeholder((2, 3), "int64", name="a"), gc.placeholder((3, 2), "int64", name="b")
    yield "integers", [a, b], [a @ b, gc.sum(a, 1), gc.max(a)], [np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2)]
    c = gc.placeholder((3,), "bool", name="c")
    yield "bools", [c], [c & ~c, c | c, gc.cast(c, "float32") + 1, gc.where(c, 1.0, -1.0)], [np.array([True, False, True])]
    f = gc.placeholder((4,), "float64", name="f")
    yield "nan", [f], [gc.max(f), gc.argmax(f), gc.min(f)], [np.array([1.0, np.nan, 3.0, 2.0])]
    yield "0-d", [f], [gc.sum(f) * 2.0, f[2]], [np.arange(4.0)]
    m = gc.placeholder((2,), "int32", name="m")
    yield "mixed dtypes", [f, m], [gc.concatenate([f, gc.cast(m, "float64")]), f[:2] + m], [np.arange(4.0), np.array([5, 6], np.int32)]
    yield "overflow", [f], [gc.sigmoid(f), gc.softplus(f), gc.exp(f)], [np.array([-1000.0, -30.0, 30.0, 1000.0])]


@pytest.mark.parametrize("name,inputs,outputs,values", list(_edge_programs()), ids=lambda v: v if isinstance(v, str) else "")
def test_edge_cases_match_reference_exactly(name, inputs, outputs, values) -> None:  # type: ignore[no-untyped-def]
    native = gc.compile(inputs, outputs)(*values)
    reference = gc.compile(inputs, outputs, backend="numpy")(*values)
    for got, want in zip(native, reference):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,axes", [((128, 512), None), ((3, 40, 33), (0, 2, 1)), ((17, 17), None), ((16, 40), None),
                                        ((2, 3, 20, 50), (0, 1, 3, 2)), ((20, 30, 4), (1, 0, 2))])
def test_transposes_copied_in_blocks_or_element_by_element_are_exact(shape: tuple[int, ...], axes: Any) -> None:
    """Matrices (or batches of them) larger than a block are copied block by block, with partial
    blocks at the edges; other permutations element by element."""
    x = gc.placeholder(shape, "float32")
    f = gc.compile([x], gc.transpose(x * 2.0, axes) + 1.0)
    data = np.random.default_rng(0).random(shape, np.float32)
    np.testing.assert_array_equal(f(data), np.transpose(data * 2, axes) + 1)
