"""Ops that move data without arithmetic: reshape, transpose, broadcast, concatenate, indexing.

Basic indexing is normalized before a node is made: each input axis gets either an int (the
axis is removed) or a (start, stop, step) triple with concrete bounds; `None` (new axes) and
`...` are resolved by the public `getitem` into a reshape around it.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..builder import apply, check_shape, lift
from ..dtypes import as_dtype, is_int, result_type
from ..errors import GraphError, ShapeError
from ..opdef import OpDef, register

IndexKey = tuple[Any, ...]  # per input axis: int, or (start, stop, step)


def _reshape_rule(x: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], np.dtype]:
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape {x.size} elements of shape {x.shape} into {shape}")
    return shape, x.dtype


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    dims = [int(d) for d in shape]
    if dims.count(-1) > 1:
        raise ShapeError(f"reshape: at most one -1 in {tuple(dims)}")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {size} elements into {tuple(dims)}")
        dims[dims.index(-1)] = size // known
    return check_shape(dims, "reshape")


def _transpose_rule(x: Any, axes: tuple[int, ...]) -> tuple[tuple[int, ...], np.dtype]:
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"axes {axes} are not a permutation of the {x.ndim} axes")
    return tuple(x.shape[a] for a in axes), x.dtype


def _broadcast_rule(x: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], np.dtype]:
    lead = len(shape) - x.ndim
    if lead < 0 or any(d not in (1, shape[lead + i]) for i, d in enumerate(x.shape)):
        raise ShapeError(f"cannot broadcast shape {x.shape} to {shape}")
    return shape, x.dtype


def _concatenate_rule(*xs: Any, axis: int) -> tuple[tuple[int, ...], np.dtype]:
    if not xs:
        raise ShapeError("needs at least one tensor")
    first = xs[0]
    for x in xs[1:]:
        if x.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis
        ):
            raise ShapeError(f"shapes {[t.shape for t in xs]} differ off axis {axis}")
    shape = list(first.shape)
    shape[axis] = builtins.sum(x.shape[axis] for x in xs)
    return tuple(shape), result_type(*(x.dtype for x in xs))


def _indexed_shape(shape: tuple[int, ...], key: IndexKey) -> tuple[int, ...]:
    return tuple(len(range(*k)) for k in key if not isinstance(k, int)) + shape[len(key) :]


def _as_slices(key: IndexKey) -> tuple[Any, ...]:
    # A stop of -1 with a negative step means "through index 0", which a slice spells None.
    return tuple(k if isinstance(k, int) else slice(k[0], None if k[1] < 0 else k[1], k[2]) for k in key)


def _index_ref(x: np.ndarray, key: IndexKey) -> np.ndarray:
    return np.array(x[_as_slices(key)])


def _scatter_ref(g: np.ndarray, shape: tuple[int, ...], key: IndexKey) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    out[_as_slices(key)] = g
    return out


def _scatter_rule(g: Any, shape: tuple[int, ...], key: IndexKey) -> tuple[tuple[int, ...], np.dtype]:
    if _indexed_shape(shape, key) != g.shape:
        raise ShapeError(f"a {g.shape} tensor does not fill {key} of shape {shape}")
    return shape, g.dtype


def _one_hot_rule(labels: Any, n: int, dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype]:
    if labels.dtype.kind not in "iu":
        raise ShapeError(f"labels must be integers, got {labels.dtype.name}")
    return labels.shape + (n,), dtype



def _concat_vjp(g: Any, out: Any, *xs: Any, axis: int, index: int) -> Any:
    start = builtins.sum(x.shape[axis] for x in xs[:index])
    key = tuple((0, d, 1) for d in g.shape[:axis]) + ((start, start + xs[index].shape[axis], 1),)
    return apply(INDEX, (g,), key=key)


def _concat_jvp(ts: list[Any], out: Any, *xs: Any, axis: int) -> Any:
    return concatenate(ts, axis)


RESHAPE: OpDef = register(
    OpDef(
        "reshape",
        "shape",
        1,
        _reshape_rule,
        lambda x, shape: np.reshape(x, shape),
        (lambda g, out, x, shape: reshape(g, x.shape),),
        (lambda t, out, x, shape: reshape(t, shape),),
        doc="the same elements in another shape (row-major)",
        view=True,
    )
)
TRANSPOSE: OpDef = register(
    OpDef(
        "transpose",
        "shape",
        1,
        _transpose_rule,
        lambda x, axes: np.ascontiguousarray(np.transpose(x, axes)),
        (lambda g, out, x, axes: transpose(g, tuple(np.argsort(axes).tolist())),),
        (lambda t, out, x, axes: transpose(t, axes),),
        doc="axes permuted",
    )
)
BROADCAST_TO: OpDef = register(
    OpDef(
        "broadcast_to",
        "shape",
        1,
        _broadcast_rule,
        lambda x, shape: np.array(np.broadcast_to(x, shape)),
        # The differentiation pass sums the broadcast dimensions back, so the rule passes g along.
        (lambda g, out, x, shape: g,),
        (lambda t, out, x, shape: broadcast_to(t, shape),),
        doc="x repeated along new or size-1 axes",
        pointwise=True,
    )
)
CONCATENATE: OpDef = register(
    OpDef(
        "concatenate",
        "shape",
        None,
        _concatenate_rule,
        lambda *xs, axis: np.concatenate(xs, axis=axis),
        (_concat_vjp,),
        _concat_jvp,
        doc="tensors joined along an existing axis",
    )
)
INDEX: OpDef = register(
    OpDef(
        "index",
        "shape",
        1,
        lambda x, key: (_indexed_shape(x.shape, key), x.dtype),
        _index_ref,
        (lambda g, out, x, key: apply(SCATTER_INDEX, (g,), shape=x.shape, key=key),),
        (lambda t, out, x, key: apply(INDEX, (t,), key=key),),
        doc="basic indexing: ints and slices",
    )
)
SCATTER_INDEX: OpDef = register(
    OpDef(
        "scatter_index",
        "shape",
        1,
        _scatter_rule,
        _scatter_ref,
        (lambda g, out, x, shape, key: apply(INDEX, (g,), key=key),),
        (lambda t, out, x, shape, key: apply(SCATTER_INDEX, (t,), shape=shape, key=key),),
        doc="zeros of `shape` with x written at `key` (the transpose of index)",
    )
)
ONE_HOT: OpDef = register(
    OpDef(
        "one_hot",
        "shape",
        1,
        _one_hot_rule,
        lambda labels, n, dtype: (labels[..., None] == np.arange(n)).astype(dtype),
        None,
        None,
        doc="1 at each label's position along a new last axis, else 0",
    )
)


def axis_index(axis: Any, ndim: int, what: str, expected: str = "an int") -> int:
    """`axis` (an int in [-ndim, ndim)) as a non-negative axis, or ShapeError."""
    if not is_int(axis):
        raise ShapeError(f"{what}: axis must be {expected}, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{what}: axis {axis} is out of range for {ndim} dimensions")
    return int(axis) % ndim


def reshape(x: Any, shape: Any) -> Any:
    """x with a new shape of the same size (one dimension may be -1)."""
    (x,) = lift(x)
    return apply(RESHAPE, (x,), shape=_resolve_shape(shape, x.size))


def transpose(x: Any, axes: Any = None) -> Any:
    """x with its axes permuted (reversed when `axes` is None)."""
    (x,) = lift(x)
    if axes is None:
        perm = tuple(range(x.ndim))[::-1]
    elif isinstance(axes, (tuple, list)):
        perm = tuple(axis_index(a, x.ndim, "transpose") for a in axes)
    else:
        raise ShapeError(f"transpose: axes must be None or a tuple of ints, got {axes!r}")
    return apply(TRANSPOSE, (x,), axes=perm)


def broadcast_to(x: Any, shape: Any) -> Any:
    """x broadcast to `shape`."""
    (x,) = lift(x)
    return apply(BROADCAST_TO, (x,), shape=check_shape(shape, "broadcast_to"))


def concatenate(xs: Any, axis: int = 0) -> Any:
    """Tensors joined along `axis`."""
    xs = lift(*xs)
    if not xs:
        raise ShapeError("concatenate: needs at least one tensor")
    ndim = xs[0].ndim
    if ndim == 0:
        raise ShapeError("concatenate: 0-d tensors have no axis to join along; use stack")
    return apply(CONCATENATE, tuple(xs), axis=axis_index(axis, ndim, "concatenate"))


def stack(xs: Any, axis: int = 0) -> Any:
    """Tensors of one shape joined along a new `axis`."""
    xs = lift(*xs)
    if not xs:
        raise ShapeError("stack: needs at least one tensor")
    ndim = xs[0].ndim + 1
    axis = axis_index(axis, ndim, "stack")
    if any(x.shape != xs[0].shape for x in xs):
        raise ShapeError(f"stack: tensors have different shapes {[x.shape for x in xs]}")
    expanded = [reshape(x, x.shape[:axis] + (1,) + x.shape[axis:]) for x in xs]
    return concatenate(expanded, axis)


def one_hot(labels: Any, n: int, dtype: Any = "float32") -> Any:
    """One-hot rows for integer `labels`: shape labels.shape + (n,). Out-of-range labels give 0s."""
    (labels,) = lift(labels)
    if not is_int(n) or n < 1:
        raise ShapeError(f"one_hot: the number of classes must be a positive int, got {n!r}")
    return apply(ONE_HOT, (labels,), n=int(n), dtype=as_dtype(dtype))


def getitem(x: Any, key: Any) -> Any:
    """Basic indexing: ints, slices, `...` and None (new axes)."""
    (x,) = lift(x)
    entries = key if isinstance(key, tuple) else (key,)
    if builtins.sum(e is Ellipsis for e in entries) > 1:
        raise ShapeError("an index can have only one ellipsis ('...')")
    used = builtins.sum(e is not None and e is not Ellipsis for e in entries)
    if used > x.ndim:
        raise ShapeError(f"too many indices ({used}) for a tensor of shape {x.shape}")
    if any(e is Ellipsis for e in entries):
        at = next(i for i, e in enumerate(entries) if e is Ellipsis)
        entries = entries[:at] + (slice(None),) * (x.ndim - used) + entries[at + 1 :]
    normalized: list[Any] = []
    new_axes: list[int] = []  # positions of None in the result
    axis, out_axis = 0, 0
    for e in entries:
        if e is None:
            new_axes.append(out_axis)
            out_axis += 1
        elif isinstance(e, slice):
            if e.step == 0:
                raise ShapeError(f"slice step cannot be zero (axis {axis} of {x.shape})")
            try:
                normalized.append(e.indices(x.shape[axis]))
            except TypeError:
                raise ShapeError(f"slice bounds must be ints or None, got {e!r}") from None
            axis, out_axis = axis + 1, out_axis + 1
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            n = x.shape[axis]
            if not -n <= e < n:
                raise ShapeError(f"index {e} is out of range for axis {axis} of size {n}")
            normalized.append(int(e) % n)
            axis += 1
        else:
            raise GraphError(f"only basic indexing (ints, slices, ..., None) is supported, got {e!r}")
    result = apply(INDEX, (x,), key=tuple(normalized)) if normalized else x
    if new_axes:
        shape = list(result.shape)
        for pos in new_axes:
            shape.insert(pos, 1)
        result = reshape(result, tuple(shape))
    return result


__all__ = ["reshape", "transpose", "broadcast_to", "concatenate", "stack", "one_hot", "getitem"]
