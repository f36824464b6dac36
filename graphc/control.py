"""Loops and conditionals over tensors: `scan`, `fori_loop` and `cond`, in the manner of
`jax.lax`.

A static graph knows its loop counts, so today each is traced into the graph step by step: a
scan of n steps is n copies of its body (the kernels of equal steps are equal, so each compiles
once), differentiable to any order by the ordinary passes, on every back end and eagerly. A
structured loop node, whose body is compiled once and run by a native loop, is the next step
(it changes the cost of long loops, not their results).

`cond` computes both branches in graphs and selects (in eager mode it runs only the branch
taken); each branch reads its operands through a gate that passes gradients only when its
branch is the one taken, so a NaN or infinity in the branch not taken reaches neither the
values nor the gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import eager
from .builder import is_tensor, lift
from .errors import GraphError
from .ops import stack, stop_gradient, where
from .recipes import replayable
from .tree import flatten, unflatten


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


def _pair(out: Any) -> Any:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise GraphError(f"scan: fn must return a pair (carry, y), got {type(out).__name__}")
    return out


@replayable
def scan(fn: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False) -> tuple[Any, Any]:
    """`(carry, ys)` of `fn(carry, x) -> (carry, y)` over the leading axis of `xs` (a tensor, or
    a list/tuple/dict of them; None with `length`), as `jax.lax.scan`: the final carry (the
    structure, shapes and dtypes of `init`) and the ys stacked along a new leading axis. With
    `reverse=True` the steps run from the last slice to the first, and ys[t] still belongs to
    step t."""
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
    carry = unflatten(carry_tree, carry_leaves)
    ys: list[Any] = [None] * n
    y_tree: Any = None  # the ys' structure (None also stands for a lone tensor: see `y_given`)
    y_given: bool | None = None  # whether fn returns ys, once known
    for t in (range(n - 1, -1, -1) if reverse else range(n)):
        x_t = unflatten(x_tree, [x[t] for x in x_leaves]) if xs is not None else None
        out = _pair(fn(carry, x_t))
        new_leaves, new_tree = _tensors(out[0], "scan")
        if new_tree != carry_tree or _signature(new_leaves) != expected:
            raise GraphError(f"scan: fn changed the carry from {expected} to {_signature(new_leaves)}; the carry"
                             " keeps its structure, shapes and dtypes")
        carry = unflatten(carry_tree, new_leaves)
        given = out[1] is not None
        y_leaves, tree = flatten(out[1]) if given else ([], None)
        if y_given is not None and (given != y_given or tree != y_tree):
            raise GraphError("scan: fn returned ys of another structure at another step")
        y_given, y_tree, ys[t] = given, tree, [lift(y)[0] for y in y_leaves]
    if n == 0:  # as jax.lax.scan: fn traced once for the ys' types, which come out empty
        probe = unflatten(x_tree, [lift(np.zeros(x.shape[1:], x.dtype))[0] for x in x_leaves]) if xs is not None else None
        out = _pair(fn(carry, probe))
        if out[1] is None:
            return carry, None
        y_leaves, tree = flatten(out[1])
        empty = [lift(np.zeros((0, *lift(y)[0].shape), lift(y)[0].dtype))[0] for y in y_leaves]
        return carry, unflatten(tree, empty)
    if not y_given:  # fn returns no ys
        return carry, None
    stacked = [stack([ys[t][k] for t in range(n)], 0) for k in range(len(ys[0]))]
    return carry, unflatten(y_tree, stacked)


@replayable
def fori_loop(lower: int, upper: int, fn: Callable[[int, Any], Any], init: Any) -> Any:
    """`fn(i, carry) -> carry` for i from `lower` up to `upper` (exclusive), as
    `jax.lax.fori_loop`: the final carry. `i` is a Python int (the bounds are static)."""
    for bound in (lower, upper):
        if not isinstance(bound, (int, np.integer)) or isinstance(bound, bool):
            raise GraphError(f"fori_loop: the bounds must be ints (a static graph knows its loop count), got {bound!r}")
    leaves, tree = _tensors(init, "fori_loop")
    expected, carry = _signature(leaves), unflatten(tree, leaves)
    for i in range(int(lower), int(upper)):
        new_leaves, new_tree = _tensors(fn(i, carry), "fori_loop")
        if new_tree != tree or _signature(new_leaves) != expected:
            raise GraphError(f"fori_loop: fn changed the carry from {expected} to {_signature(new_leaves)}; the"
                             " carry keeps its structure, shapes and dtypes")
        carry = unflatten(tree, new_leaves)
    return carry


@replayable
def cond(pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], *operands: Any) -> Any:
    """`true_fn(*operands)` where the scalar bool `pred` holds, else `false_fn(*operands)`, as
    `jax.lax.cond`: both must return the same structure, shapes and dtypes. A NaN or infinity in
    the branch not taken reaches neither the value nor any gradient."""
    (p,) = lift(pred if is_tensor(pred) else np.asarray(pred))
    if p.shape != () or p.dtype != np.bool_:
        raise GraphError(f"cond: the predicate must be a scalar bool, got {p!r}")
    if eager.is_eager(p):  # define-by-run: only the branch taken runs
        return (true_fn if bool(p.data) else false_fn)(*operands)
    ops, tree = flatten(list(operands))
    ops = [lift(o)[0] for o in ops]

    def gated(taken: Any) -> list[Any]:
        # The value of each float operand, through a gate letting gradients in only when this
        # branch is taken: where(taken, x, stop_gradient(x)).
        return [where(taken, o, stop_gradient(o)) if o.dtype.kind == "f" else o for o in ops]

    true_out = true_fn(*unflatten(tree, gated(p)))
    false_out = false_fn(*unflatten(tree, gated(~p)))
    t_leaves, t_tree = _tensors(true_out, "cond")
    f_leaves, f_tree = _tensors(false_out, "cond")
    if t_tree != f_tree or _signature(t_leaves) != _signature(f_leaves):
        raise GraphError(f"cond: the branches return different structures or types: {_describe(true_out)} and"
                         f" {_describe(false_out)}")
    return unflatten(t_tree, [where(p, a, b) for a, b in zip(t_leaves, f_leaves)])


def _describe(structure: Any) -> str:
    """A structure of tensors as text: containers by kind (and keys), tensors by type."""
    if isinstance(structure, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in structure.items()) + "}"
    if isinstance(structure, (list, tuple)):
        inner = ", ".join(_describe(v) for v in structure)
        return f"[{inner}]" if isinstance(structure, list) else f"({inner}{',' if len(structure) == 1 else ''})"
    x = lift(structure)[0]
    return f"{x.dtype.name}{list(x.shape)}"
