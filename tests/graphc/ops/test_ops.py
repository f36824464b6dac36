"""Every op of the registry: its shape rule against its NumPy reference, its VJP and JVP against
central finite differences in float64 (as PyTorch's gradcheck: eps 1e-6, atol 1e-5, rtol 1e-3),
its second derivatives, and eager mode against graph mode.

These check the op declarations, so graphs run on the NumPy reference executor; the Numba
lowering of every op is checked against that reference in test_lowering.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.opdef import REGISTRY

from .cases import CASES, FLOAT_KINDS, Case, make_value, placeholder_for

EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-3


def build(case: Case, seed: int = 0) -> tuple[list[Any], list[np.ndarray], Any, np.random.Generator]:
    rng = np.random.default_rng(seed)
    phs = [placeholder_for(s, k, i) for i, (s, k) in enumerate(case.inputs)]
    vals = [make_value(s, k, rng) for s, k in case.inputs]
    return phs, vals, case.build(*phs), rng


def float_inputs(case: Case) -> list[int]:
    return [i for i, (_, k) in enumerate(case.inputs) if k in FLOAT_KINDS]


DIFFERENTIABLE = [c for c in CASES if REGISTRY[c.op].differentiable and float_inputs(c)]


def central_difference(f: Callable[[list[np.ndarray]], np.ndarray], vals: list[np.ndarray], i: int,
                       direction: np.ndarray | None = None) -> np.ndarray:
    """d f / d vals[i] (every element), or the directional derivative along `direction`."""
    def shifted(delta: np.ndarray) -> np.ndarray:
        moved = list(vals)
        moved[i] = vals[i] + delta
        return np.asarray(f(moved), dtype=np.float64)

    if direction is not None:
        return (shifted(EPS * direction) - shifted(-EPS * direction)) / (2 * EPS)
    x = vals[i]
    out = None
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = EPS
        col = (shifted(e.reshape(x.shape)) - shifted(-e.reshape(x.shape))) / (2 * EPS)
        if out is None:
            out = np.zeros(col.shape + (x.size,))
        out[..., j] = col
    return out.reshape(out.shape[:-1] + x.shape) if out is not None else np.zeros(x.shape)


def test_registry_is_covered() -> None:
    tuples = {name for name, op in REGISTRY.items() if op.tuple_value}  # read through their items' cases
    untested = sorted(set(REGISTRY) - {c.op for c in CASES} - tuples)
    assert not untested, f"ops without test cases in cases.py: {untested}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_op_declares_every_field(name: str) -> None:
    op = REGISTRY[name]
    assert op.name == name and op.doc, "an op needs a name and a one-line doc"
    assert callable(op.infer)
    assert op.numpy is not None or name in ("placeholder", "variable")
    assert (op.vjp is None) == (op.jvp is None), "VJP and JVP rules come together"
    if op.vjp is not None and op.arity is not None:
        assert len(op.vjp) == op.arity
        if not callable(op.jvp):
            assert len(op.jvp) == op.arity


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_shape_rule_matches_reference(case: Case) -> None:
    phs, vals, out, _ = build(case)
    assert out.op.name == case.op
    if out.op.numpy is None:  # placeholders and variables: their shape is what they were given
        assert out.shape == (2, 3)
        return
    # The op's inputs (placeholders, or what a case computes from them: a constant, a slice).
    arrays = gc.compile(phs, list(out.inputs), backend="numpy")(*vals) if out.inputs and not out.op.item else []
    if out.op.item:  # an element of a loop's results: the loop's own reference on its inputs
        loop = out.inputs[0]
        arrays = [loop.op.numpy(*gc.compile(phs, list(loop.inputs), backend="numpy")(*vals), **loop.attrs)]
    extra = {"step": 0} if out.op.needs_step else {}
    with np.errstate(all="ignore"):
        ref = np.asarray(out.op.numpy(*arrays, **out.attrs, **extra))
    assert ref.shape == out.shape
    assert ref.dtype == out.dtype


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_vjp_matches_finite_differences(case: Case) -> None:
    phs, vals, out, rng = build(case)
    weights = gc.constant(rng.standard_normal(out.shape))
    loss = gc.sum(out * weights)
    wrt = float_inputs(case)
    grads = gc.grad(loss, [phs[i] for i in wrt])
    f = gc.compile(phs, [loss, *grads], backend="numpy")
    got = f(*vals)[1:]
    for i, g in zip(wrt, got):
        numeric = central_difference(lambda v: f(*v)[0], vals, i)
        np.testing.assert_allclose(g, numeric, rtol=RTOL, atol=ATOL, err_msg=f"input {i}")


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_jvp_matches_finite_differences(case: Case) -> None:
    phs, vals, out, rng = build(case)
    wrt = float_inputs(case)
    directions = [rng.standard_normal(vals[i].shape) for i in wrt]
    tangent = gc.jvp(out, [phs[i] for i in wrt], [gc.constant(d) for d in directions])
    f = gc.compile(phs, [out, tangent], backend="numpy")
    got = f(*vals)[1]
    numeric = 0.0
    for i, d in zip(wrt, directions):
        numeric = numeric + central_difference(lambda v: f(*v)[0], vals, i, d)
    np.testing.assert_allclose(got, numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_second_order_matches_finite_differences(case: Case) -> None:
    phs, vals, out, rng = build(case)
    wrt = float_inputs(case)
    xs = [phs[i] for i in wrt]
    loss = gc.sum(out * gc.constant(rng.standard_normal(out.shape)))
    grads = gc.grad(loss, xs)
    # Reverse over reverse: the gradient of a projection of the gradient.
    projection = sum(gc.sum(g * gc.constant(rng.standard_normal(g.shape))) for g in grads)
    second = gc.grad(projection, xs)
    # Forward over reverse: a Hessian-vector product.
    vs = [rng.standard_normal(vals[i].shape) for i in wrt]
    hv = gc.hvp(loss, xs, [gc.constant(v) for v in vs])
    f = gc.compile(phs, [projection, *second, *grads, *hv], backend="numpy")
    n = len(wrt)
    got = f(*vals)
    for k, i in enumerate(wrt):
        numeric = central_difference(lambda v: f(*v)[0], vals, i)
        np.testing.assert_allclose(got[1 + k], numeric, rtol=RTOL, atol=ATOL, err_msg="reverse over reverse")
    for k in range(n):
        numeric = 0.0
        for i, v in zip(wrt, vs):
            numeric = numeric + central_difference(lambda x, k=k: f(*x)[1 + n + k], vals, i, v)
        np.testing.assert_allclose(got[1 + 2 * n + k], numeric, rtol=RTOL, atol=ATOL, err_msg="hvp")


@pytest.mark.parametrize("case", [c for c in CASES if c.inputs], ids=lambda c: c.id)
def test_eager_matches_graph(case: Case) -> None:
    phs, vals, out, rng = build(case)
    weights = rng.standard_normal(out.shape)
    wrt = float_inputs(case) if REGISTRY[case.op].differentiable else []
    graph_outs = [out]
    if wrt and out.dtype.kind == "f":
        graph_outs += gc.grad(gc.sum(out * gc.constant(weights)), [phs[i] for i in wrt])
    expected = gc.compile(phs, graph_outs, backend="numpy")(*vals)
    tensors = [eager.tensor(v, requires_grad=i in wrt) for i, v in enumerate(vals)]
    result = case.build(*tensors)
    np.testing.assert_array_equal(result.data, expected[0])
    assert result.dtype == expected[0].dtype
    if len(graph_outs) > 1:
        gc.sum(result * weights).backward()
        for i, g in zip(wrt, expected[1:]):
            np.testing.assert_allclose(tensors[i].grad.data, g, rtol=1e-12, atol=1e-14)


def test_stop_gradient_blocks_the_gradient() -> None:
    x = gc.placeholder((3,), "float64")
    y = gc.sum(x * gc.stop_gradient(x))
    (g,) = gc.compile([x], [gc.grad(y, x)])(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
