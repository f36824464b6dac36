"""Reductions over axes: sum, mean, max, min, logsumexp, argmax; and summing back to a shape.

`axis` is normalized to a sorted tuple of non-negative axes (None means all) before the node is
made, so equal reductions have equal attributes. Ties in max/min split the gradient evenly.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from ..builder import apply, lift
from ..dtypes import is_int
from ..errors import ShapeError
from ..opdef import OpDef, Rule, register
from . import elementwise as ew
from . import shape as sh
from .leaves import full_like, zeros_like


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a sequence) as a sorted tuple of distinct axes in [0, ndim)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes: tuple[Any, ...] = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise ShapeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not is_int(a):
            raise ShapeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a!r} is out of range for a tensor of {ndim} dimensions")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def reduced_shape(shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    """The shape after reducing `axis` of `shape`."""
    if keepdims:
        return tuple(1 if i in axis else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axis)


def _reduce(x: Any, axis: tuple[int, ...], keepdims: bool) -> tuple[tuple[int, ...], np.dtype]:
    dtype = np.dtype("int64") if x.dtype.kind in "biu" else x.dtype
    return reduced_shape(x.shape, axis, keepdims), dtype


def _reduce_extremum(x: Any, axis: tuple[int, ...], keepdims: bool) -> tuple[tuple[int, ...], np.dtype]:
    if any(x.shape[a] == 0 for a in axis):
        raise ShapeError(f"cannot take the max/min over an empty axis of shape {x.shape}")
    return reduced_shape(x.shape, axis, keepdims), x.dtype


def _logsumexp_rule(x: Any, axis: tuple[int, ...], keepdims: bool) -> tuple[tuple[int, ...], np.dtype]:
    if x.dtype.kind != "f":
        raise ShapeError(f"logsumexp needs a float tensor, got {x.dtype.name}")
    return reduced_shape(x.shape, axis, keepdims), x.dtype


def _logsumexp_ref(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # an empty axis: log(0) = -inf
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _argmax_rule(x: Any, axis: int | None) -> tuple[tuple[int, ...], np.dtype]:
    if x.size == 0:
        raise ShapeError("argmax of an empty tensor")
    shape = () if axis is None else reduced_shape(x.shape, (axis,), False)
    return shape, np.dtype("int64")




def keep_axes(g: Any, x_shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> Any:
    """`g` (a reduction's result or cotangent) reshaped so it broadcasts against the input."""
    return g if keepdims else sh.reshape(g, reduced_shape(x_shape, axis, True))


def _spread(g: Any, x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return sh.broadcast_to(keep_axes(g, x.shape, axis, keepdims), x.shape)


def _extremum_share(x: Any, out: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    # Each tied extremum gets an equal share: mask / count.
    hit = ew.cast(x == keep_axes(out, x.shape, axis, keepdims), out.dtype)
    return hit / sum(hit, axis, keepdims=True)


def _softmax_of(x: Any, out: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return ew.exp(x - keep_axes(out, x.shape, axis, keepdims))


def _reduction(op: OpDef, x: Any, axis: Any, keepdims: bool) -> Any:
    (x,) = lift(x)
    return apply(op, (x,), axis=normalize_axes(axis, x.ndim), keepdims=bool(keepdims))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - the API's name
    """Sum over `axis` (None: all)."""
    return _reduction(SUM, x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over `axis` (None: all): the sum divided by the count; integers summed in float64,
    as NumPy (an int64 sum would wrap)."""
    (x,) = lift(x)
    if x.dtype.kind in "iub":
        x = ew.cast(x, "float64")
    axes = normalize_axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return sum(x, axes, keepdims) / count


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over `axis` (None: all), as NumPy (integers in int64)."""
    return _reduction(PROD, x, axis, keepdims)


def _running(x: Any, axis: int, combine: Callable[[Any, Any], Any], identity: Any) -> Any:
    """The inclusive running `combine` of x along `axis`: log2(n) rounds of combining x with a
    copy shifted by 1, 2, 4, ... and led by `identity` (Hillis and Steele)."""
    n, shift = x.shape[axis], 1
    lead = [slice(None)] * axis
    while shift < n:
        head = full_like(x, identity, shape=x.shape[:axis] + (shift,) + x.shape[axis + 1:])
        x = combine(x, sh.concatenate([head, sh.getitem(x, (*lead, slice(0, n - shift)))], axis))
        shift *= 2
    return x


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Running sums along `axis` (None: of the flattened x), as NumPy: log2(n) rounds of adding
    a shifted copy, so float sums are grouped differently from a running sum's: they may round
    differently, and overflow where a running sum does not, or the other way round."""
    (x,) = lift(x)
    if axis is None:
        x, axis = sh.reshape(x, (x.size,)), 0
    axis = sh.axis_index(axis, x.ndim, "cumsum")
    out = ew.cast(x, _reduce(x, (axis,), False)[1])
    zero = -0.0 if out.dtype.kind == "f" else 0  # v + -0.0 is v exactly, signed zeros and infinities alike
    return _running(out, axis, ew.add, zero)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over `axis` (None: all), as NumPy: the mean squared deviation from the mean, the
    sum divided by count - ddof."""
    (x,) = lift(x)
    if not is_int(ddof) or ddof < 0:
        raise ShapeError(f"var: ddof must be a non-negative int, got {ddof!r}")
    if x.dtype.kind in "iub":  # in float64, as NumPy
        x = ew.cast(x, "float64")
    axes = normalize_axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    deviation = x - mean(x, axes, keepdims=True)
    return sum(deviation * deviation, axes, keepdims) / builtins.max(count - int(ddof), 0)  # as NumPy: inf past the count


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over `axis`: the square root of `var` (NumPy's arguments). Where the
    values are all equal its gradient is 0 (as PyTorch), not 0 * inf: the square root's branch
    reads 1 there ("double where")."""
    v = var(x, axis, keepdims, ddof)
    flat = v == 0
    return ew.where(flat, 0.0, ew.sqrt(ew.where(flat, 1.0, v)))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - the API's name
    """Maximum over `axis` (None: all); tied maxima share the gradient."""
    return _reduction(MAX, x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - the API's name
    """Minimum over `axis` (None: all); tied minima share the gradient."""
    return _reduction(MIN, x, axis, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) over `axis`, stable for large inputs."""
    return _reduction(LOGSUMEXP, x, axis, keepdims)


def argmax(x: Any, axis: int | None = None) -> Any:
    """Index of the first maximum along `axis` (int64; None: into the flattened tensor)."""
    (x,) = lift(x)
    ax = None if axis is None else sh.axis_index(axis, x.ndim, "argmax", "one int or None (the flattened tensor)")
    return apply(ARGMAX, (x,), axis=ax)


def sum_to_shape(g: Any, shape: tuple[int, ...]) -> Any:
    """`g` summed over the dimensions that broadcasting added to reach it from `shape`."""
    if tuple(g.shape) == tuple(shape):
        return g
    lead = len(g.shape) - len(shape)
    if lead < 0:
        raise ShapeError(f"cannot sum shape {g.shape} down to {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
    )
    return sh.reshape(sum(g, axes), shape)


SUM = register(
    OpDef(
        "sum",
        "reduction",
        1,
        _reduce,
        lambda x, axis, keepdims: np.sum(
            x, axis=axis, keepdims=keepdims, dtype=_reduce(x, axis, keepdims)[1]
        ),
        (lambda g, out, x, axis, keepdims: _spread(g, x, axis, keepdims),),
        (lambda t, out, x, axis, keepdims: sum(t, axis, keepdims),),
        doc="sum over axes",
    )
)


def _prod_of_others(x: Any, axis: tuple[int, ...]) -> Any:
    """For each element, the product of the others in its group: the running product of those
    before it times that of those after it, so exact whatever the group holds (zeros,
    infinities, NaN, values whose total overflows), and its own derivatives too."""
    kept = tuple(a for a in range(x.ndim) if a not in axis)
    order = kept + axis
    n = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
    if n == 0:
        return zeros_like(x)
    moved = order != tuple(range(x.ndim))
    rows = sh.reshape(sh.transpose(x, order) if moved else x, tuple(x.shape[a] for a in kept) + (n,))
    last = rows.ndim - 1

    def exclusive(r: Any) -> Any:  # the product of the elements before each one
        ones = full_like(r, 1, shape=r.shape[:-1] + (1,))
        return sh.concatenate([ones, _running(sh.getitem(r, (..., slice(0, n - 1))), last, ew.multiply, 1)], last)

    others = exclusive(rows) * sh.flip(exclusive(sh.flip(rows, last)), last)
    others = sh.reshape(others, tuple(x.shape[a] for a in order))
    return sh.transpose(others, tuple(int(a) for a in np.argsort(order))) if moved else others


PROD = register(
    OpDef(
        "prod",
        "reduction",
        1,
        _reduce,
        lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims, dtype=_reduce(x, axis, keepdims)[1]),
        (lambda g, out, x, axis, keepdims: keep_axes(g, x.shape, axis, keepdims) * _prod_of_others(x, axis),),
        (lambda t, out, x, axis, keepdims: sum(t * _prod_of_others(x, axis), axis, keepdims),),
        doc="product over axes (its derivative exact where elements are 0)",
    )
)


def _first_extremum(x: np.ndarray, axis: tuple[int, ...], keepdims: bool, position: Rule) -> np.ndarray:
    """The extremum over `axis` that comes first in the array's order among equal ones (0.0
    before -0.0, or after), as the native kernels and PyTorch's reductions along axes take it;
    NaN where any element is. (NumPy's own pick among tied zeros depends on its vector loops.)"""
    kept = [a for a in range(x.ndim) if a not in axis]
    n = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
    rows = np.transpose(x, kept + list(axis)).reshape([x.shape[a] for a in kept] + [n])
    first = np.take_along_axis(rows, position(rows, axis=-1)[..., None], -1)[..., 0]
    return first.reshape(reduced_shape(x.shape, axis, keepdims))


def _declare_extremum(kind: str, position: Rule) -> OpDef:
    """max or min over axes (`position`: np.argmax or np.argmin, the first extremum's place):
    the same rules, tied extrema sharing the gradient evenly."""
    return register(
        OpDef(
            kind,
            "reduction",
            1,
            _reduce_extremum,
            lambda x, axis, keepdims: _first_extremum(x, axis, keepdims, position),
            (
                lambda g, out, x, axis, keepdims: (
                    keep_axes(g, x.shape, axis, keepdims) * _extremum_share(x, out, axis, keepdims)
                ),
            ),
            (
                lambda t, out, x, axis, keepdims: sum(
                    t * _extremum_share(x, out, axis, keepdims), axis, keepdims
                ),
            ),
            doc=f"{kind}imum over axes (NaN if any element is); tied extrema share the gradient evenly",
        )
    )


MAX = _declare_extremum("max", np.argmax)
MIN = _declare_extremum("min", np.argmin)
LOGSUMEXP = register(
    OpDef(
        "logsumexp",
        "reduction",
        1,
        _logsumexp_rule,
        _logsumexp_ref,
        (
            lambda g, out, x, axis, keepdims: (
                keep_axes(g, x.shape, axis, keepdims) * _softmax_of(x, out, axis, keepdims)
            ),
        ),
        (lambda t, out, x, axis, keepdims: sum(t * _softmax_of(x, out, axis, keepdims), axis, keepdims),),
        doc="log(sum(exp(x))) over axes, computed without overflow",
    )
)
ARGMAX = register(
    OpDef(
        "argmax",
        "reduction",
        1,
        _argmax_rule,
        lambda x, axis: np.asarray(np.argmax(x, axis=axis), dtype=np.int64),
        None,
        None,
        doc="index of the first maximum (flat index when axis is None)",
    )
)
