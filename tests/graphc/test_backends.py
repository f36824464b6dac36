"""The back-end seam: an op declared with semantics only (shape rule, NumPy reference, VJP)
runs on the NumPy back end and differentiates there, in both modes; the Numba back end says it
cannot lower it. Each back end registers its own lowerings: the op library holds none."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import lowerings
from graphc.builder import apply, lift
from graphc.opdef import REGISTRY, OpDef, register
from graphc.ops import elementwise


@pytest.fixture
def cube_root() -> Iterator[OpDef]:
    """An op of this test alone, with no Numba lowering (removed from the registry after)."""
    op = register(OpDef(
        "test_cube_root", "elementwise", 1, lambda x: (x.shape, x.dtype), np.cbrt,
        (lambda g, out, x: g / (3.0 * out * out),), doc="a test op with no Numba lowering", pointwise=True))
    yield op
    del REGISTRY[op.name]


@pytest.fixture
def flat_view() -> Iterator[OpDef]:
    op = register(OpDef("test_flat_view", "shape", 1, lambda x: ((x.size,), x.dtype), lambda x: x.reshape(-1),
                        (lambda g, out, x: gc.reshape(g, x.shape),), (lambda t, out, x: gc.reshape(t, (-1,)),),
                        doc="a view with no Numba lowering", view=True))
    yield op
    del REGISTRY[op.name]


def test_the_numpy_back_end_needs_no_numba_rule(cube_root: OpDef) -> None:
    x = gc.placeholder((3,), "float64", name="x")
    y = apply(cube_root, tuple(lift(x)))
    tangent = np.array([1.0, 1.0, 2.0])
    f = gc.compile([x], [y, gc.grad(gc.sum(y), x), gc.jvp(y, x, tangent)], backend="numpy")
    value, grad, forward = f(np.array([1.0, 8.0, 27.0]))
    np.testing.assert_allclose(value, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(grad, [1 / 3, 1 / 12, 1 / 27])
    np.testing.assert_allclose(forward, grad * tangent)  # a pointwise op's VJP rules serve as its JVP
    assert f.memory is None and "no native program" in f.report()
    with pytest.raises(gc.GraphError, match="no lowering for op 'test_cube_root'.*backend='numpy'"):
        gc.compile([x], y)


def test_a_view_without_a_numba_rule_runs_on_numpy(flat_view: OpDef) -> None:
    x = gc.placeholder((2, 3), "float64", name="x")
    y = apply(flat_view, tuple(lift(x))) * 2.0
    np.testing.assert_array_equal(gc.compile([x], y, backend="numpy")(np.ones((2, 3))), np.full(6, 2.0))
    with pytest.raises(gc.GraphError, match="no lowering for op 'test_flat_view'"):
        gc.compile([x], y)


def test_every_op_of_the_library_has_a_numba_lowering() -> None:
    for op in REGISTRY.values():
        if op.kind in ("leaf", "control"):  # loops: lowered by the lowering itself, around their bodies
            continue
        table = lowerings.VIEW if op.view else lowerings.SCALAR if op.pointwise else lowerings.KERNEL
        assert op in table, f"{op.name} has no Numba lowering"


def test_op_declarations_hold_no_lowering() -> None:
    assert not hasattr(elementwise.TANH, "scalar") and not hasattr(elementwise.TANH, "kernel")
    assert elementwise.TANH.pointwise and elementwise.TANH in lowerings.SCALAR


def test_derivative_rules_come_for_both_modes_or_neither() -> None:
    with pytest.raises(AssertionError, match="both modes"):
        register(OpDef("test_half_derivative", "shape", 1, lambda x: (x.shape, x.dtype), lambda x: x,
                       (lambda g, out, x: g,), None))
    assert "test_half_derivative" not in REGISTRY
