"""The back-end seam: an op declared with semantics only (shape rule, NumPy reference, VJP)
runs on the NumPy back end and differentiates there; the Numba back end says it cannot lower
it. Each back end registers its own lowerings: the op library holds none."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import lowerings
from graphc.builder import apply, lift
from graphc.opdef import REGISTRY, OpDef, register
from graphc.ops import elementwise


def _cube_root_op() -> OpDef:
    name = "test_cube_root"
    if name in REGISTRY:
        return REGISTRY[name]
    return register(OpDef(
        name, "elementwise", 1, lambda x: (x.shape, x.dtype), np.cbrt,
        (lambda g, out, x: g / (3.0 * out * out),), doc="a test op with no Numba lowering", pointwise=True))


def test_the_numpy_back_end_needs_no_numba_rule() -> None:
    op = _cube_root_op()
    x = gc.placeholder((3,), "float64", name="x")
    y = apply(op, tuple(lift(x)))
    f = gc.compile([x], [y, gc.grad(gc.sum(y), x)], backend="numpy")
    value, grad = f(np.array([1.0, 8.0, 27.0]))
    np.testing.assert_allclose(value, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(grad, [1 / 3, 1 / 12, 1 / 27])
    assert f.memory is None and "no native program" in f.report()
    with pytest.raises(gc.GraphError, match="no lowering for op 'test_cube_root'.*backend='numpy'"):
        gc.compile([x], y)


def test_every_op_of_the_library_has_a_numba_lowering() -> None:
    leaves = {"placeholder", "variable", "constant", "full"}
    for op in REGISTRY.values():
        if op.name in leaves or op.name.startswith("test_"):
            continue
        table = lowerings.VIEW if op.view else lowerings.SCALAR if op.pointwise else lowerings.KERNEL
        assert op in table, f"{op.name} has no Numba lowering"


def test_op_declarations_hold_no_lowering() -> None:
    assert not hasattr(elementwise.TANH, "scalar") and not hasattr(elementwise.TANH, "kernel")
    assert elementwise.TANH.pointwise and elementwise.TANH in lowerings.SCALAR
