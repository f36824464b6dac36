"""Leaf ops: placeholders (fed), variables (state), constants and fills (literals)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import eager, recipes
from ..builder import check_shape, constant
from ..dtypes import array_of, as_dtype, is_int
from ..errors import GraphError
from ..ir import Node, Variable
from ..opdef import OpDef, register
from ..source import current_grad_of, user_location


def _no_inputs(**attrs: Any) -> tuple[tuple[int, ...], np.dtype]:
    return attrs["shape"], attrs["dtype"]


PLACEHOLDER = register(OpDef("placeholder", "leaf", 0, _no_inputs, None, doc="a value fed at run time", leaf="fed"))
VARIABLE = register(OpDef("variable", "leaf", 0, _no_inputs, None, doc="a stateful parameter", leaf="state"))
FULL = register(
    OpDef(
        "full",
        "leaf",
        0,
        lambda shape, dtype, value: (shape, np.dtype(array_of(value, dtype, "full").dtype)),  # a value the dtype holds
        lambda shape, dtype, value: np.full(shape, value, dtype),
        doc="an array of one repeated value",
        leaf="literal",
    )
)


def placeholder(shape: Any, dtype: Any = "float32", name: str | None = None) -> Node:
    """A value fed at run time, of `shape` and `dtype`. A dimension None (or -1) is given at call
    time: the placeholder is then a recipe (see `graphc.recipes`), and a compiled function builds
    a program for each size it is called with."""
    if isinstance(shape, (tuple, list)) and any(d is None or (is_int(d) and d == -1) for d in shape):
        unknown = tuple(None if d is None or d == -1 else d for d in shape)
        check_shape(tuple(1 if d is None else d for d in unknown), "placeholder")
        return recipes.declared(unknown, placeholder, as_dtype(dtype), name)
    dims = check_shape(shape, "placeholder")
    dt = as_dtype(dtype)
    return Node(PLACEHOLDER, (), {"shape": dims, "dtype": dt}, dims, dt, user_location(), name)


def variable(value: Any, name: str | None = None) -> Variable:
    """A stateful parameter holding a copy of `value` (its shape and dtype)."""
    if isinstance(value, Node):
        raise GraphError(f"variable() takes an array, got the tensor {value!r}")
    # Always C-contiguous: native code updates the flat data in place.
    array = np.array(eager.tensor(value).data if eager.is_eager(value) else value, order="C")
    array = array.astype(as_dtype(array.dtype), copy=False)  # big-endian data in this machine's order
    return Variable(VARIABLE, array, user_location(), name)


def full(shape: tuple[int, ...], value: Any, dtype: Any) -> Node:
    """An array of `shape` filled with `value` (always a graph node)."""
    dims, dt = check_shape(shape, "full"), as_dtype(dtype)
    return Node(
        FULL,
        (),
        {"shape": dims, "dtype": dt, "value": value},
        dims,
        dt,
        user_location(),
        None,
        current_grad_of(),
    )


def full_like(x: Any, value: Any, dtype: Any = None, shape: tuple[int, ...] | None = None) -> Any:
    """A fill with `x`'s shape and dtype (unless given), in `x`'s mode (graph or eager)."""
    dims = x.shape if shape is None else shape
    dt = x.dtype if dtype is None else as_dtype(dtype)
    if eager.is_eager(x):
        return eager.Tensor(np.full(dims, value, dt))
    return full(dims, value, dt)


def zeros_like(x: Any) -> Any:
    """Zeros of `x`'s shape and dtype."""
    return full_like(x, 0, None)


__all__ = ["placeholder", "variable", "constant", "full", "full_like", "zeros_like"]
