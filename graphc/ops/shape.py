"""Ops that move data without arithmetic: reshape, transpose, broadcast, concatenate, indexing.

Basic indexing is normalized before a node is made: each input axis gets either an int (the
axis is removed) or a (start, stop, step) triple with concrete bounds; `None` (new axes) and
`...` are resolved by the public `getitem` into a reshape around it.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..builder import apply, check_shape, is_tensor, lift
from ..dtypes import as_dtype, is_int, result_type
from ..errors import DTypeError, FeedError, GraphError, ShapeError
from ..opdef import OpDef, register
from .elementwise import cast, promote, where
from .leaves import zeros_like

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


def _one_hot_rule(labels: Any, n: int, dtype: np.dtype, checked: bool = False) -> tuple[tuple[int, ...], np.dtype]:
    if labels.dtype.kind not in "iu":
        raise ShapeError(f"labels must be integers, got {labels.dtype.name}")
    return labels.shape + (n,), dtype


def label_out_of_range(value: int, n: int) -> str:
    """The message for a label outside [0, n), the same from every back end (cross-entropy's
    labels, in its value and in its gradient's one-hot rows)."""
    return f"softmax_cross_entropy: label {value} is out of range for {n} classes"


def check_labels(labels: np.ndarray, n: int) -> None:
    """FeedError naming the first label outside [0, n), if any."""
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise FeedError(label_out_of_range(labels[(labels < 0) | (labels >= n)].flat[0], n))


def _one_hot_ref(labels: np.ndarray, n: int, dtype: np.dtype, checked: bool = False) -> np.ndarray:
    if checked:
        check_labels(labels, n)
    return (labels[..., None] == np.arange(n)).astype(dtype)



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
        lambda x, axes: np.transpose(x, axes).copy(order="C"),
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
        _one_hot_ref,
        None,
        None,
        doc="1 at each label's position along a new last axis, else 0 (`checked`: a label out of range"
            " is a FeedError, as cross-entropy's)",
    )
)



def take_out_of_range(value: int, size: int, axis: int) -> str:
    """The message for an index outside an axis, the same from every back end."""
    return f"take: index {value} is out of range for axis {axis} of size {size}"


def _take_rule(x: Any, idx: Any, axis: int) -> tuple[tuple[int, ...], np.dtype]:
    if idx.dtype.kind not in "iu":
        raise ShapeError(f"indices must be integers, got {idx.dtype.name}")
    if x.shape[axis] == 0 and idx.size:
        raise ShapeError(f"cannot take from axis {axis} of size 0")
    return x.shape[:axis] + idx.shape + x.shape[axis + 1 :], x.dtype


def _checked_indices(idx: np.ndarray, size: int, axis: int) -> np.ndarray:
    """`idx` with negative indices counted from the end, or FeedError naming one out of range."""
    idx = idx.astype(np.int64)
    bad = (idx < -size) | (idx >= size)
    if bad.any():
        raise FeedError(take_out_of_range(int(idx[bad].flat[0]), size, axis))
    return np.where(idx < 0, idx + size, idx)


def _take_ref(x: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    return np.take(x, _checked_indices(idx, x.shape[axis], axis), axis=axis)


def _scatter_add_rule(g: Any, idx: Any, axis: int, size: int) -> tuple[tuple[int, ...], np.dtype]:
    if idx.dtype.kind not in "iu":
        raise ShapeError(f"indices must be integers, got {idx.dtype.name}")
    if g.shape[axis : axis + idx.ndim] != idx.shape:
        raise ShapeError(f"updates of shape {g.shape} do not hold indices of shape {idx.shape} at axis {axis}")
    return g.shape[:axis] + (size,) + g.shape[axis + idx.ndim :], g.dtype


def _scatter_add_ref(g: np.ndarray, idx: np.ndarray, axis: int, size: int) -> np.ndarray:
    shape = g.shape[:axis] + (size,) + g.shape[axis + idx.ndim :]
    out = np.zeros(shape, g.dtype)
    flat = _checked_indices(idx, size, axis).reshape(-1)
    rows = g.reshape(g.shape[:axis] + (flat.size,) + g.shape[axis + idx.ndim :])
    at: Any = (slice(None),) * axis + (flat,)
    np.add.at(out, at, rows)  # in index order, as the lowering adds
    return out


TAKE: OpDef = register(
    OpDef(
        "take",
        "shape",
        2,
        _take_rule,
        _take_ref,
        (lambda g, out, x, idx, axis: apply(SCATTER_ADD, (g, idx), axis=axis, size=x.shape[axis]), None),
        (lambda t, out, x, idx, axis: apply(TAKE, (t, idx), axis=axis), None),
        doc="x's entries at integer indices along an axis (NumPy's take; negative indices count from the end)",
    )
)
SCATTER_ADD: OpDef = register(
    OpDef(
        "scatter_add",
        "shape",
        2,
        _scatter_add_rule,
        _scatter_add_ref,
        (lambda g, out, x, idx, axis, size: apply(TAKE, (g, idx), axis=axis), None),
        (lambda t, out, x, idx, axis, size: apply(SCATTER_ADD, (t, idx), axis=axis, size=size), None),
        doc="zeros with x's slices added at integer indices along an axis (the transpose of take)",
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
    """x with a new shape of the same size (one dimension may be -1). None at position i keeps
    x's size there: `x.reshape(x.shape[0], -1)` where that size is given at call time."""
    (x,) = lift(x)
    if isinstance(shape, (tuple, list)) and any(d is None for d in shape):
        shape = tuple(x.shape[i] if d is None and i < x.ndim else d for i, d in enumerate(shape))
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
    xs = promote(*xs)
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


def take(x: Any, idx: Any, axis: int | None = 0) -> Any:
    """x's entries at the integer indices `idx` (an array, a list or an int tensor) along `axis`:
    shape x.shape[:axis] + idx.shape + x.shape[axis + 1:], as NumPy's take (axis None: of the
    flattened x). Negative indices count from the end; a constant index out of range is a
    ShapeError here, a fed one a FeedError when the program runs. The gradient adds up at
    repeated indices."""
    constant = None if is_tensor(idx) else _index_array(idx)
    x, idx = lift(x, idx if constant is None else constant)
    if axis is None:
        x, axis = reshape(x, (x.size,)), 0
    if x.ndim == 0:
        raise ShapeError("take: a 0-d tensor has no axis to take from")
    axis = axis_index(axis, x.ndim, "take")
    if constant is not None and constant.size:  # known now: out of range is an error here
        n = x.shape[axis]
        bad = constant[(constant < -n) | (constant >= n)]
        if bad.size:
            raise ShapeError(take_out_of_range(int(bad[0]), n, axis))
    return apply(TAKE, (x, idx), axis=axis)


def _index_array(idx: Any) -> np.ndarray:
    array = np.asarray(idx)
    if array.dtype == np.bool_:
        raise ShapeError("take: indices must be integers, got bools (use gc.where for a mask)")
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)  # [] is an empty list of indices
    if array.dtype.kind not in "iu":
        raise ShapeError(f"take: indices must be integers, got {array.dtype.name}")
    return array.astype(np.int64)


def squeeze(x: Any, axis: Any = None) -> Any:
    """x without axes of size 1: all of them (axis None) or those named, which must be 1."""
    (x,) = lift(x)
    if axis is None:
        axes = {a for a, d in enumerate(x.shape) if d == 1}
    else:
        named = [axis_index(a, x.ndim, "squeeze") for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
        axes = set(named)
        if len(axes) != len(named):
            raise ShapeError(f"squeeze: repeated axis in {axis!r}")
        wide = sorted(a for a in axes if x.shape[a] != 1)
        if wide:
            raise ShapeError(f"squeeze: axis {wide[0]} of shape {x.shape} has size {x.shape[wide[0]]}, not 1")
    return reshape(x, tuple(d for a, d in enumerate(x.shape) if a not in axes))


def expand_dims(x: Any, axis: Any) -> Any:
    """x with new axes of size 1 at the positions `axis` (an int or a tuple) of the result."""
    (x,) = lift(x)
    named = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = x.ndim + len(named)
    axes = {axis_index(a, ndim, "expand_dims") for a in named}
    if len(axes) != len(named):
        raise ShapeError(f"expand_dims: repeated axis in {axis!r}")
    dims = iter(x.shape)
    return reshape(x, tuple(1 if a in axes else next(dims) for a in range(ndim)))


def _axes_of(axis: Any, ndim: int, what: str) -> list[int]:
    named = list(range(ndim)) if axis is None else list(axis) if isinstance(axis, (tuple, list)) else [axis]
    axes = [axis_index(a, ndim, what) for a in named]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{what}: repeated axis in {axis!r}")
    return axes


def flip(x: Any, axis: Any = None) -> Any:
    """x reversed along `axis` (an int, a tuple, or None: every axis), as NumPy."""
    (x,) = lift(x)
    axes = _axes_of(axis, x.ndim, "flip")
    return getitem(x, tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim)))


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """x with two axes exchanged."""
    (x,) = lift(x)
    a, b = axis_index(axis1, x.ndim, "swapaxes"), axis_index(axis2, x.ndim, "swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = b, a
    return transpose(x, tuple(perm))


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    """x with the axes `source` moved to the positions `destination` (ints or sequences), as NumPy."""
    (x,) = lift(x)
    src, dst = _axes_of(source, x.ndim, "moveaxis"), _axes_of(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ShapeError(f"moveaxis: {len(src)} source axes but {len(dst)} destinations")
    rest = [a for a in range(x.ndim) if a not in src]
    for d, a in sorted(zip(dst, src)):
        rest.insert(d, a)
    return transpose(x, tuple(rest))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """x cut along `axis` into equal sections (an int that divides the axis) or at the given
    indices, as NumPy's split."""
    (x,) = lift(x)
    axis = axis_index(axis, x.ndim, "split")
    n = x.shape[axis]
    if is_int(indices_or_sections):
        k = int(indices_or_sections)
        if k < 1 or n % k:
            raise ShapeError(f"split: {k} sections do not divide axis {axis} of size {n} equally")
        cuts = [n // k * i for i in range(1, k)]
    else:
        cuts = [int(c) for c in indices_or_sections]
    bounds = [0, *[min(max(c + n if c < 0 else c, 0), n) for c in cuts], n]
    lead = (slice(None),) * axis
    return [getitem(x, (*lead, slice(a, max(a, b)))) for a, b in zip(bounds[:-1], bounds[1:])]


def _numpy_pad_value(value: Any, dtype: np.dtype) -> np.ndarray:
    """The value NumPy's pad writes into an array of `dtype` for `value` (its own conversion:
    -1 becomes 255 in uint8, 0.5 becomes 0 in int8), or a DTypeError where NumPy refuses it."""
    try:
        return np.pad(np.zeros(1, dtype), 1, constant_values=value)[:1].reshape(())
    except (TypeError, ValueError, OverflowError) as exc:
        raise DTypeError(f"pad: constant_values {value!r} cannot pad a {dtype.name} tensor ({exc})") from None


def pad(x: Any, pad_width: Any, constant_values: Any = 0) -> Any:
    """x surrounded by `constant_values` (NumPy's pad, constant mode): pad_width an int, a
    (before, after) pair, or one pair per axis; the value takes x's dtype, as NumPy's does (0.5
    pads an int tensor with 0)."""
    (x,) = lift(x)
    constant_values = cast(constant_values, x.dtype) if is_tensor(constant_values) else \
        _numpy_pad_value(constant_values, x.dtype)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                             np.full((1, 2), pad_width, np.int64), (x.ndim, 2)) if x.ndim else np.zeros((0, 2), np.int64)
    if (widths < 0).any():
        raise ShapeError(f"pad: widths must be non-negative, got {pad_width!r}")
    shape = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, widths))
    key = tuple((int(a), int(a) + d, 1) for d, (a, _) in zip(x.shape, widths))
    out = apply(SCATTER_INDEX, (x,), shape=shape, key=key)
    if is_tensor(constant_values) or constant_values != 0 or np.signbit(constant_values):
        border = np.ones(shape, bool)
        border[tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, widths))] = False
        out = where(border, constant_values, out)
    return out


def tile(x: Any, reps: Any) -> Any:
    """x repeated `reps` times along each axis (NumPy's tile)."""
    (x,) = lift(x)
    reps = (int(reps),) if is_int(reps) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: repetitions must be non-negative, got {reps}")
    ndim = max(x.ndim, len(reps))
    reps = (1,) * (ndim - len(reps)) + reps
    x = reshape(x, (1,) * (ndim - x.ndim) + x.shape)
    spread = reshape(x, tuple(v for d in x.shape for v in (1, d)))
    big = broadcast_to(spread, tuple(v for r, d in zip(reps, x.shape) for v in (r, d)))
    return reshape(big, tuple(r * d for r, d in zip(reps, x.shape)))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Each element of x repeated `repeats` times (an int, or one count per element) along
    `axis` (None: of the flattened x), as NumPy's repeat."""
    (x,) = lift(x)
    if axis is None:
        x, axis = reshape(x, (x.size,)), 0
    axis = axis_index(axis, x.ndim, "repeat")
    n = x.shape[axis]
    try:
        given = np.asarray(repeats)
    except ValueError:  # a ragged list
        given = np.asarray(None)
    if given.dtype.kind not in "iu" or given.ndim > 1 or given.ndim == 1 and given.size not in (1, n):
        raise ShapeError(f"repeat: expected an int or {n} ints (a count per element along axis {axis}),"
                         f" got {repeats!r}")
    counts = np.broadcast_to(given.astype(np.int64), (n,))
    if (counts < 0).any():
        raise ShapeError(f"repeat: counts must be non-negative, got {repeats!r}")
    if counts.sum(dtype=np.float64) * builtins.max(x.size // builtins.max(n, 1), 1) >= 2.0**62:
        raise ShapeError(f"repeat: counts {repeats!r} make more elements than an array can hold")
    return take(x, np.repeat(np.arange(x.shape[axis]), counts), axis)


def _triangle(x: Any, k: int, upper: bool, what: str) -> Any:
    (x,) = lift(x)
    if x.ndim < 2:
        raise ShapeError(f"{what}: needs a tensor of 2 or more dimensions, got shape {x.shape}")
    if not is_int(k):
        raise ShapeError(f"{what}: k must be an int, got {k!r}")
    rows, cols = x.shape[-2:]
    keep = np.ones((rows, cols), bool)
    keep = np.triu(keep, int(k)) if upper else np.tril(keep, int(k))
    return where(keep, x, zeros_like(x))


def triu(x: Any, k: int = 0) -> Any:
    """x with the entries below the k-th diagonal of its last two axes set to 0 (as NumPy)."""
    return _triangle(x, k, True, "triu")


def tril(x: Any, k: int = 0) -> Any:
    """x with the entries above the k-th diagonal of its last two axes set to 0 (as NumPy)."""
    return _triangle(x, k, False, "tril")


def _is_array_index(e: Any) -> bool:
    if is_tensor(e):
        return e.dtype.kind in "iub"
    return isinstance(e, (list, range, np.ndarray)) and not isinstance(e, (bool, np.bool_))


def getitem(x: Any, key: Any) -> Any:
    """Indexing: ints, slices, `...`, None (new axes) and integer arrays (arrays, lists or int
    tensors; a constant bool array stands for its true positions, over as many axes as it has),
    as NumPy: several arrays broadcast together and pick one element each (`x[rows, cols]`)."""
    (x,) = lift(x)
    entries = _masks_split(x, key if isinstance(key, tuple) else (key,))
    arrays = [i for i, e in enumerate(entries) if _is_array_index(e)]
    if len(arrays) > 1:
        return _getitem_arrays(x, entries)
    if arrays:
        return _getitem_array(x, entries)
    return _getitem_basic(x, entries)


def _is_mask(e: Any) -> bool:
    return not is_tensor(e) and isinstance(e, (list, np.ndarray)) and np.asarray(e).dtype == np.bool_


def _masks_split(x: Any, entries: tuple[Any, ...]) -> tuple[Any, ...]:
    """`entries` with each constant bool mask of k dimensions written as the k arrays of its
    true positions (NumPy's meaning), the mask checked against the k axes it covers."""
    if not any(_is_mask(e) for e in entries):
        return entries
    used = builtins.sum(np.ndim(e) if _is_mask(e) else 1 for e in entries if e is not None and e is not Ellipsis)
    out: list[Any] = []
    axis = 0
    for e in entries:
        if e is None or e is Ellipsis:
            out.append(e)
            axis += x.ndim - used if e is Ellipsis else 0
        elif _is_mask(e):
            mask = np.asarray(e)
            covered = x.shape[axis : axis + mask.ndim]
            if not mask.ndim or mask.shape != covered:
                raise ShapeError(f"a bool index must be as long as its axis (or axes) {covered} of {x.shape},"
                                 f" got shape {mask.shape}")
            out.extend(np.nonzero(mask))
            axis += mask.ndim
        else:
            out.append(e)
            axis += 1
    return tuple(out)


def _expanded(x: Any, entries: tuple[Any, ...]) -> tuple[Any, ...]:
    """`entries` with `...` written out as full slices (a ShapeError for too many indices)."""
    if builtins.sum(b is Ellipsis for b in entries) > 1:
        raise ShapeError("an index can have only one ellipsis ('...')")
    used = builtins.sum(b is not None and b is not Ellipsis for b in entries)
    if used > x.ndim:
        raise ShapeError(f"too many indices ({used}) for a tensor of shape {x.shape}")
    return tuple(s for b in entries for s in ((slice(None),) * (x.ndim - used) if b is Ellipsis else (b,)))


def _integer_index(e: Any) -> Any:
    """An array index, refused if it is a bool tensor: only data can tell how many positions it
    holds (constant masks are positions already, `_masks_split`)."""
    if is_tensor(e) and e.dtype == np.bool_:
        raise GraphError("a bool tensor index has a data-dependent shape; use gc.where(mask, x, 0) instead")
    return e


def _getitem_arrays(x: Any, entries: tuple[Any, ...]) -> Any:
    """x[entries] with several integer arrays (NumPy's advanced indexing): the arrays and the
    ints beside them broadcast to one shape B, whose axes replace the indexed ones where those
    stand together, else go first. Computed as one take along the indexed axes moved to the
    front and merged, at the flat index sum(i_k * stride_k); each array is first taken from
    arange(its axis's size), which counts negative indices from the end and stops an index out
    of its own axis (one out of its axis could still land inside the merged one)."""
    full = _expanded(x, entries)
    advanced = [i for i, b in enumerate(full) if _is_array_index(b) or isinstance(b, (int, np.integer))]
    basic = _getitem_basic(x, tuple(slice(None) if i in advanced else b for i, b in enumerate(full)))
    axis_of = {i: builtins.sum(1 for b in full[:i] if b is not None) for i in advanced}  # in x
    flat: Any = None
    stride = 1
    for i in reversed(advanced):
        n = x.shape[axis_of[i]]
        e = _integer_index(full[i])
        ramp = np.arange(n, dtype=np.int64).reshape((1,) * axis_of[i] + (n,))  # its axis where x's is
        index = take(ramp, e if is_tensor(e) else _index_array(e), axis_of[i])
        index = reshape(index, index.shape[axis_of[i]:])
        try:
            np.broadcast_shapes(index.shape, () if flat is None else flat.shape)
        except ValueError:
            raise ShapeError(f"the integer arrays of an index do not broadcast together: shapes {index.shape}"
                             f" and {flat.shape}") from None
        term = index * stride if stride != 1 else index
        flat = term if flat is None else term + flat
        stride *= n
    order = advanced + [a for a in range(basic.ndim) if a not in advanced]
    moved = transpose(basic, tuple(order)) if order != list(range(basic.ndim)) else basic
    merged = reshape(moved, (stride,) + moved.shape[len(advanced):])
    result = take(merged, flat, 0)
    together = advanced[-1] - advanced[0] + 1 == len(advanced)
    if together and advanced[0]:  # B's axes where the indexed ones stood
        b = flat.ndim
        result = transpose(result, tuple(range(b, b + advanced[0])) + tuple(range(b)) + tuple(range(b + advanced[0], result.ndim)))
    return result


def _getitem_array(x: Any, entries: tuple[Any, ...]) -> Any:
    """x[entries] where one entry is an integer array: the basic index with that entry a full
    slice, then a take along the axis it became (NumPy's shape for a single array index)."""
    full = _expanded(x, entries)
    at = next(i for i, b in enumerate(full) if _is_array_index(b))
    e = _integer_index(full[at])
    # Where the array's axis lands: what comes before it in the basic result.
    axis = builtins.sum(1 for b in full[:at] if b is None or isinstance(b, slice))
    result = take(_getitem_basic(x, full[:at] + (slice(None),) + full[at + 1 :]), e, axis)
    # As NumPy: ints index alongside the array; if a slice or None stands between them, the
    # array's axes go first.
    advanced = [i for i, b in enumerate(full) if i == at or isinstance(b, (int, np.integer))]
    if advanced[-1] - advanced[0] + 1 != len(advanced) and axis:
        moved = list(range(axis, axis + np.ndim(e) if not is_tensor(e) else axis + e.ndim))
        result = transpose(result, tuple(moved + [a for a in range(result.ndim) if a not in moved]))
    return result


def _getitem_basic(x: Any, entries: tuple[Any, ...]) -> Any:
    entries = _expanded(x, entries)
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
            raise GraphError(f"an index must be an int, a slice, ..., None or an integer array, got {e!r}")
    result = apply(INDEX, (x,), key=tuple(normalized)) if normalized else x
    if new_axes:
        shape = list(result.shape)
        for pos in new_axes:
            shape.insert(pos, 1)
        result = reshape(result, tuple(shape))
    return result


__all__ = [
    "reshape", "transpose", "broadcast_to", "concatenate", "stack", "one_hot", "getitem", "take", "squeeze",
    "expand_dims", "triu", "tril", "flip", "swapaxes", "moveaxis", "split", "pad", "tile", "repeat",
]
