"""Creating tensors: applying an op to inputs, and lifting Python and NumPy values to tensors.

`apply` is the one place where a node is made from an op: it infers shape and dtype (raising
ShapeError at the user's line) or, when any input is an eager tensor, hands over to eager mode.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import eager, recipes
from .dtypes import array_of, as_dtype, is_int, is_weak_scalar, result_type, scalar_dtype
from .errors import DTypeError, GraphError, ShapeError
from .ir import Node
from .opdef import OpDef, register
from .source import current_grad_of, user_location

MAX_ELEMENTS = 2**59  # so that a size in bytes (up to 8 per element) fits in an int64


# The literal: declared here, where literals are made (every op of the library builds on it).
CONSTANT = register(
    OpDef(
        "constant",
        "leaf",
        0,
        lambda value, weak=None: (value.shape, value.dtype),
        lambda value, weak=None: value,
        doc="a literal array (`weak`: the Python scalar a weak constant stands for)",
        leaf="literal",
    )
)


def is_tensor(value: Any) -> bool:
    """A graph node or an eager tensor."""
    return isinstance(value, Node) or eager.is_eager(value)


class _Substitutes(threading.local):
    table: dict[int, Any] | None = None


_substitutes = _Substitutes()


@contextlib.contextmanager
def substituting(table: dict[int, Any]) -> Iterator[None]:
    """Nodes made inside read table[id(x)] wherever they would read x (a recomputation reading
    the tensors a block closed over through barriers: see graphc.checkpointing)."""
    saved = _substitutes.table
    _substitutes.table = {**(saved or {}), **table}
    try:
        yield
    finally:
        _substitutes.table = saved


def substitutes() -> dict[int, Any]:
    """The substitutions in force (id of a tensor read -> the tensor read instead)."""
    return dict(_substitutes.table or {})


def apply(op: OpDef, inputs: tuple[Any, ...], label: str | None = None, **attrs: Any) -> Any:
    """`op` applied to tensors `inputs`: a new node, or an eager result if any input is eager."""
    table = _substitutes.table
    if table:
        inputs = tuple(table.get(id(x), x) for x in inputs)
    inputs = recipes.resolved(inputs)
    if any(eager.is_eager(x) for x in inputs):
        return eager.apply(op, tuple(eager.to_eager(x) for x in inputs), attrs)
    location = user_location()
    for x in inputs:
        if not isinstance(x, Node):
            raise GraphError(f"{op.name}: expected a tensor input, got {x!r}")
        if x.op.leaf == "recipe":
            raise GraphError(
                f"{op.name}: {x!r} has sizes given at call time, and reached graphc code that needs them now"
                " (a tensor of unknown size captured by a function given to scan, cond or checkpoint? pass"
                " it as an argument instead)"
            )
    try:
        shape, dtype = op.infer(*inputs, **attrs)
    except ShapeError as exc:
        types = ", ".join(x.type for x in inputs)
        raise ShapeError(f"{op.name}({types}): {exc.detail}") from None
    return Node(op, inputs, attrs, shape, dtype, location, label, current_grad_of())


def weak_value(value: Any) -> Any:
    """The Python scalar `value` stands for if it is weak, else None: Python and NumPy scalars,
    and weak constants (an elementwise function of scalars alone, such as gc.sin(2.0))."""
    if is_weak_scalar(value):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, Node) and value.op is CONSTANT and "weak" in value.attrs:
        return value.attrs["weak"]
    return None


def _as_array(value: Any) -> np.ndarray:
    """`value` (a list, an array) as an array, or ShapeError (ragged lists, objects)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ShapeError(f"expected a tensor, a number or an array, got {value!r} ({exc})") from None
    if array.dtype == object:
        raise ShapeError(f"expected a tensor, a number or an array, got {value!r}")
    return array


def lift(*values: Any) -> list[Any]:
    """Tensors for `values`: tensors pass through, other values become constants.

    Python and NumPy scalars are weak (they take the dtype the tensors promote to, as in
    PyTorch), and so are weak constants; NumPy arrays and lists keep their own dtype.
    """
    values = recipes.resolved(values)
    weak = [weak_value(v) for v in values]
    tensors = [v for v, w in zip(values, weak) if w is None and is_tensor(v)]
    eager_mode = any(eager.is_eager(v) for v in tensors)
    strong = [v.dtype for v in tensors]
    strong += [as_dtype(_as_array(v).dtype) for v, w in zip(values, weak) if w is None and not is_tensor(v)]
    out = []
    for v, w in zip(values, weak):
        if w is None and is_tensor(v) or (not strong and not eager_mode and isinstance(v, Node)):
            out.append(v)
            continue
        dtype = None
        try:
            if w is not None:
                dtype = result_type(*strong, w) if strong else scalar_dtype(v if isinstance(v, np.generic) else w)
                v = w
            else:
                dtype = as_dtype(_as_array(v).dtype)
            out.append(eager.tensor(v, dtype=dtype) if eager_mode else constant(v, dtype))
        except OverflowError:
            meets = f" (the dtype of the tensors it meets: {dtype.name})" if strong and dtype is not None else ""
            raise DTypeError(f"{v!r} does not fit in {getattr(dtype, 'name', 'a supported dtype')}{meets}; cast first") from None
    return out


def constant(value: Any, dtype: Any = None, weak: Any = None) -> Node:
    """A literal. Scalars default to bool, int64 or float32; arrays keep their dtype. `weak`, a
    Python scalar, makes it a weak constant: meeting tensors, it is that scalar."""
    if is_tensor(value):
        raise GraphError(f"constant() takes a value, got the tensor {value!r}")
    if dtype is None:
        dtype = scalar_dtype(value) if is_weak_scalar(value) else _as_array(value).dtype
    dt = as_dtype(dtype)
    array = array_of(value, dt, "constant")
    array.flags.writeable = False
    location = user_location()
    attrs = {"value": array} if weak is None else {"value": array, "weak": weak}
    return Node(CONSTANT, (), attrs, array.shape, dt, location, None, current_grad_of())


def check_shape(shape: Any, what: str) -> tuple[int, ...]:
    """`shape` as a tuple of non-negative ints, or ShapeError."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        hint = ""
        if isinstance(shape, (tuple, list)) and any(d is None for d in shape):
            hint = ("; None marks a size given at call time, which this shape cannot hold: make it inside a function"
                    " decorated with graphc.recipes.replayable, given the tensor whose shape it takes")
        raise ShapeError(f"{what}: expected a shape (a tuple of ints), got {shape!r}{hint}") from None
    if any(d < 0 for d in dims) or any(not is_int(d) for d in shape):
        raise ShapeError(f"{what}: expected a shape of non-negative ints, got {shape!r}")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ShapeError(f"{what}: shape {dims} has {math.prod(dims)} elements, more than an array can hold")
    return dims

