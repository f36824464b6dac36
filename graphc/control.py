"""Loops and conditionals over tensors: `scan`, `fori_loop` and `cond`, in the manner of
`jax.lax`.

`scan` traces its body once, on placeholders of a step's carry and x, into one `loop` node
(`graphc.ops.loop`): the program holds the body once whatever the step count, and compiles to
a native loop around it. A body drawing random numbers (each step draws its own) is unrolled
instead, as is any scan asked to (`unroll=True`): n copies of the body, by the ordinary
passes. Eagerly, a scan is a Python loop. `fori_loop` gives its body the step as a Python int
(a different graph each step), so it is unrolled.

`cond` traces both branches into one `cond` node (`graphc.ops.conditional`) that runs only the
branch taken; eagerly, only the branch taken is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import eager
from .builder import is_tensor, lift
from .dtypes import type_string
from .errors import GraphcError, GraphError
from .ir import Node, nodes_created
from .ops import constant, placeholder, stack
from .ops.conditional import make_cond
from .ops.loop import make_loop
from .ops.random import advance_streams, stream_position
from .recipes import record, replayable
from .tree import describe, flatten, reorder_like, unflatten


def _tensors(structure: Any, what: str) -> tuple[list[Any], Any]:
    leaves, tree = flatten(structure)
    lifted = []
    for leaf in leaves:
        if leaf is None:
            raise GraphError(f"{what}: None is not a tensor (a carry or an output must hold tensors)")
        lifted.append(lift(leaf)[0])
    return lifted, tree


def _signature(leaves: list[Any]) -> list[tuple[tuple[int, ...], np.dtype]]:
    return [(tuple(x.shape), np.dtype(x.dtype)) for x in leaves]


def _pair(out: Any, what: str = "scan") -> Any:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        got = _describe(out) if is_tensor(out) or isinstance(out, (tuple, list, dict)) else type(out).__name__
        raise GraphError(f"{what}: fn must return a pair (carry, y), got {got}")
    return out


def _checked_carry(out: Any, carry_tree: Any, expected: list[Any], what: str = "scan") -> list[Any]:
    """The leaves of the carry `out` a step returned (its dicts in the init's key order), checked
    against the init's structure `carry_tree` and leaf types `expected`."""
    new_leaves, new_tree = _tensors(reorder_like(out, carry_tree), what)
    got = _signature(new_leaves)
    if new_tree != carry_tree or got != expected:
        def text(tree: Any, sig: list[Any]) -> str:
            return describe(tree, [type_string(shape, dtype) for shape, dtype in sig])

        hint = ""
        if new_tree == carry_tree and [s for s, _ in got] == [s for s, _ in expected] and any(
                e == np.float32 and g == np.float64 for (_, e), (_, g) in zip(expected, got)):
            hint = (" (a Python number in init is float32 unless the tensors it meets say otherwise: give it its"
                    " dtype, e.g. gc.constant(0.0, 'float64'))")
        raise GraphError(f"{what}: fn changed the carry from {text(carry_tree, expected)} to {text(new_tree, got)};"
                         f" the carry keeps its structure, shapes and dtypes{hint}")
    return new_leaves


RECORD: Any = object()  # what `_as_loop` returns for a body whose results are recipes


def _as_loop(fn: Callable[[Any, Any], tuple[Any, Any]], carry_leaves: list[Any], carry_tree: Any, xs: Any,
             x_leaves: list[Any], x_tree: Any, n: int, reverse: bool) -> Any:
    """The scan as one loop node, its body traced once; None if the body draws random numbers,
    RECORD if it reads a tensor of sizes given at call time (recorded, not computed)."""
    streams = stream_position()
    c_in = [placeholder(c.shape, c.dtype) for c in carry_leaves]
    x_in = [placeholder(x.shape[1:], x.dtype) for x in x_leaves]
    try:
        out = _pair(fn(unflatten(carry_tree, c_in), unflatten(x_tree, x_in) if xs is not None else None))
    except GraphcError:  # an eager tensor read beside a step's placeholders, say: unrolled (which
        advance_streams(streams)  # raises again, step by step, whatever else was wrong)
        return None
    c_out = _checked_carry(out[0], carry_tree, _signature(carry_leaves))
    y_leaves, y_tree = flatten(out[1]) if out[1] is not None else ([], None)
    y_out = [lift(y)[0] for y in y_leaves if y is not None]  # a None among the ys stays None
    if any(v.op.leaf == "recipe" for v in (*c_out, *y_out)):
        return RECORD
    drew = stream_position() != streams  # each draw made a stream its own, read or not: one per step
    if any(eager.is_eager(v) for v in (*c_out, *y_out)) or drew:
        advance_streams(streams)  # the trace is dropped, and the streams its draws took with it
        return None  # each step draws its own random numbers: unrolled
    results = make_loop(carry_leaves, x_leaves, c_in, x_in, c_out, y_out, n, reverse)
    carry = unflatten(carry_tree, results[:len(c_out)])
    stacked = iter(results[len(c_out):])
    return carry, (unflatten(y_tree, [None if y is None else next(stacked) for y in y_leaves]) if out[1] is not None else None)


@replayable
def scan(fn: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: bool = False) -> tuple[Any, Any]:
    """`(carry, ys)` of `fn(carry, x) -> (carry, y)` over the leading axis of `xs` (a tensor, or
    a list/tuple/dict of them; None with `length`), as `jax.lax.scan`: the final carry (the
    structure, shapes and dtypes of `init`) and the ys stacked along a new leading axis. With
    `reverse=True` the steps run from the last slice to the first, and ys[t] still belongs to
    step t. In a graph, `fn` is traced once into a loop node; `unroll=True` traces it once per
    step instead (the same values, a program as long as the loop)."""
    if not callable(fn):
        raise GraphError(f"scan: fn must be callable, got {type(fn).__name__}")
    carry_leaves, carry_tree = _tensors(init, "scan")
    x_leaves, x_tree = flatten(xs) if xs is not None else ([], None)
    x_leaves = [lift(x)[0] for x in x_leaves]
    lengths = {int(x.shape[0]) for x in x_leaves if x.ndim}
    if any(x.ndim == 0 for x in x_leaves):
        raise GraphError("scan: every xs tensor needs a leading axis to scan over, got a 0-d tensor")
    if length is not None:
        if not isinstance(length, (int, np.integer)) or length < 0:
            raise GraphError(f"scan: length must be a non-negative int, got {length!r}")
        lengths.add(int(length))
    if len(lengths) != 1:
        raise GraphError(f"scan: xs must share one leading length (and agree with length=), got {sorted(lengths) or 'none'}")
    n = lengths.pop()
    expected = _signature(carry_leaves)
    if n and not unroll and not any(eager.is_eager(v) for v in (*carry_leaves, *x_leaves)):
        looped = _as_loop(fn, carry_leaves, carry_tree, xs, x_leaves, x_tree, n, reverse)
        if looped is RECORD:  # replayed at the sizes given at call time, a loop then
            return record(scan.__wrapped__, (fn, init, xs, length, reverse, unroll), {})  # type: ignore[attr-defined]
        if looped is not None:
            return looped
    carry = unflatten(carry_tree, carry_leaves)
    ys: list[Any] = [None] * n
    y_tree: Any = None  # the ys' structure (None also stands for a lone tensor: see `y_given`)
    y_given: bool | None = None  # whether fn returns ys, once known
    first_t = 0  # the first step run (whose ys' structure the others keep)
    for t in (range(n - 1, -1, -1) if reverse else range(n)):
        x_t = unflatten(x_tree, [x[t] for x in x_leaves]) if xs is not None else None
        out = _pair(fn(carry, x_t))
        carry = unflatten(carry_tree, _checked_carry(out[0], carry_tree, expected))
        given = out[1] is not None
        y_leaves, tree = flatten(reorder_like(out[1], y_tree) if y_given else out[1]) if given else ([], None)
        if y_given is not None and (given != y_given or tree != y_tree):
            def text(t: Any, leaves: list[Any]) -> str:
                return _describe(unflatten(t, leaves)) if leaves else "None"

            raise GraphError(f"scan: fn returned ys {text(tree, y_leaves)} at one step and"
                             f" {text(y_tree, ys[first_t])} at another; ys keep one structure")
        if y_given is None:
            first_t = t
        y_given, y_tree, ys[t] = given, tree, [None if y is None else lift(y)[0] for y in y_leaves]
    if n == 0:  # as jax.lax.scan: fn traced once for the ys' types, which come out empty
        define_by_run = any(eager.is_eager(v) for v in (*carry_leaves, *x_leaves))

        def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
            return eager.tensor(np.zeros(shape, dtype)) if define_by_run else lift(np.zeros(shape, dtype))[0]

        probe = unflatten(x_tree, [zeros(x.shape[1:], x.dtype) for x in x_leaves]) if xs is not None else None
        out = _pair(fn(carry, probe))
        if out[1] is None:
            return carry, None
        y_leaves, tree = flatten(out[1])
        empty = [None if y is None else zeros((0, *lift(y)[0].shape), lift(y)[0].dtype) for y in y_leaves]
        return carry, unflatten(tree, empty)
    if not y_given:  # fn returns no ys
        return carry, None
    stacked = [None if ys[0][k] is None else stack([ys[t][k] for t in range(n)], 0) for k in range(len(ys[0]))]
    return carry, unflatten(y_tree, stacked)


@replayable
def fori_loop(lower: int, upper: int, fn: Callable[[int, Any], Any], init: Any) -> Any:
    """`fn(i, carry) -> carry` for i from `lower` up to `upper` (exclusive), as
    `jax.lax.fori_loop`: the final carry. `i` is a Python int (the bounds are static)."""
    for bound in (lower, upper):
        if not isinstance(bound, (int, np.integer)) or isinstance(bound, bool):
            raise GraphError(f"fori_loop: the bounds must be ints (a static graph knows its loop count), got {bound!r}")
    if not callable(fn):
        raise GraphError(f"fori_loop: fn must be callable, got {type(fn).__name__}")
    leaves, tree = _tensors(init, "fori_loop")
    expected, carry = _signature(leaves), unflatten(tree, leaves)
    for i in range(int(lower), int(upper)):
        carry = unflatten(tree, _checked_carry(fn(i, carry), tree, expected, "fori_loop"))
    return carry


@replayable
def cond(pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], *operands: Any) -> Any:
    """`true_fn(*operands)` where the scalar bool `pred` holds, else `false_fn(*operands)`, as
    `jax.lax.cond`: both must return the same structure, shapes and dtypes (a Python number
    facing a tensor takes the tensor's dtype). In a graph both are traced into one cond node,
    and only the branch taken runs; a predicate known now (a Python or NumPy bool, an eager
    tensor) calls only the branch it picks. A NaN, an infinity or a bad index in the branch not
    taken reaches neither the value nor any gradient."""
    for fn in (true_fn, false_fn):
        if not callable(fn):
            raise GraphError(f"cond: the branches must be callable, got {type(fn).__name__}")
    (p,) = lift(pred if is_tensor(pred) else np.asarray(pred))
    if p.shape != () or p.dtype != np.bool_:
        raise GraphError(f"cond: the predicate must be a scalar bool, got {p!r}")
    if not isinstance(pred, Node):  # known now (a Python or NumPy bool, an eager tensor): only the branch it picks runs
        return (true_fn if bool(p.data if eager.is_eager(p) else np.asarray(pred)) else false_fn)(*operands)
    ops, tree = flatten(list(operands))
    ops = [lift(o)[0] for o in ops]
    first = nodes_created()
    true_out, false_out = true_fn(*unflatten(tree, ops)), false_fn(*unflatten(tree, ops))
    t_leaves, f_leaves, out_tree = _branch_results(true_out, false_out)
    outputs = [(a, b) for a, b in zip(t_leaves, f_leaves) if a is not None]
    leaves = [*(a for a, _ in outputs), *(b for _, b in outputs)]
    if any(v.op.leaf == "recipe" for v in leaves):  # a branch read a tensor of sizes given at call time:
        return record(cond.__wrapped__, (pred, true_fn, false_fn, *operands), {})  # type: ignore[attr-defined]
    if any(eager.is_eager(v) for v in leaves):
        # Eager mode, the predicate computed from constants or draws alone: it is known now (and
        # when it needs a feed, `to_eager` says which).
        return (true_fn if bool(eager.to_eager(pred).data) else false_fn)(*operands)
    results = iter(make_cond(p, [a for a, _ in outputs], [b for _, b in outputs], first))
    return unflatten(out_tree, [next(results) if a is not None else None for a in t_leaves])


def _branch_results(true_out: Any, false_out: Any) -> tuple[list[Any], list[Any], Any]:
    """The leaves of the two branches' results as tensors (None where both hold None; a Python
    number facing a tensor made of the tensor's dtype), and their common structure; a GraphError
    if the structures or the types differ."""
    t_raw, t_tree = flatten(true_out)
    f_raw, f_tree = flatten(reorder_like(false_out, t_tree))
    t_leaves: list[Any] = []
    f_leaves: list[Any] = []
    if t_tree == f_tree:
        for a, b in zip(t_raw, f_raw):
            if a is None or b is None:
                t_leaves.append(None if a is None and b is None else a)
                f_leaves.append(None if a is None and b is None else b)
                continue
            a_number, b_number = not is_tensor(a) and np.ndim(a) == 0, not is_tensor(b) and np.ndim(b) == 0
            t_leaves.append(lift(a)[0] if not (a_number and is_tensor(b)) else constant(a, lift(b)[0].dtype))
            f_leaves.append(lift(b)[0] if not (b_number and is_tensor(a)) else constant(b, t_leaves[-1].dtype))
    pairs = [(a, b) for a, b in zip(t_leaves, f_leaves) if a is not None or b is not None]
    if t_tree != f_tree or any(a is None or b is None for a, b in pairs) or \
            _signature([a for a, _ in pairs]) != _signature([b for _, b in pairs]):
        raise GraphError(f"cond: the branches return different structures or types: {_describe(true_out)} and"
                         f" {_describe(false_out)}")
    return t_leaves, f_leaves, t_tree


def _describe(structure: Any) -> str:
    """A structure of tensors as text: containers by kind (and keys), tensors by type (`f32[2]`)."""
    leaves, tree = flatten(structure)
    types = []
    for leaf in leaves:
        x = lift(leaf)[0] if leaf is not None else None
        types.append("None" if x is None else type_string(x.shape, x.dtype))
    return describe(tree, types)
