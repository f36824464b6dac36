"""The differentiation API: grad, vjp, jvp, hvp and jacobian over graph tensors.

Each builds graph nodes by running a differentiation pass, so results can be differentiated
again, to any order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import eager
from .builder import lift
from .control import scan
from .dtypes import is_float, type_string
from .errors import GraphError, ShapeError
from .ir import Graph, Node
from .ops import full, loop, one_hot, reshape, stack, transpose
from .passes import forward_mode, reverse_mode
from .passes.forward_mode import push_forward
from .passes.reverse_mode import backpropagate
from .recipes import replayable
from .tree import describe, flatten, layout, reorder_like, unflatten

eager.use_engine(backpropagate)
loop.use_sweeps(backpropagate, push_forward)

def _tensors(structure: Any, what: str) -> tuple[list[Node], Any]:
    leaves, tree = flatten(structure)
    for leaf in leaves:
        if eager.is_eager(leaf):
            raise GraphError(
                f"{what}: gc.grad and friends take graph tensors; an eager tensor differentiates"
                f" with .backward()"
            )
        if not isinstance(leaf, Node):
            raise GraphError(f"{what}: expected graph tensors, got {leaf!r}")
    return leaves, tree


def _matching(values: Any, like: list[Node], tree: Any, what: str) -> list[Node]:
    """`values` (tensors or arrays, in the structure `tree` of the tensors `like`: dicts paired
    by key, lists and tuples alike) as tensors of matching type."""
    leaves, got = flatten(reorder_like(values, tree))
    if layout(got) != layout(tree):
        given = [type_string(v.shape, v.dtype) if isinstance(v, Node) else type(v).__name__ for v in leaves]
        raise ShapeError(
            f"{what}: expected values in the structure {describe(tree, [type_string(t.shape, t.dtype) for t in like])},"
            f" got {describe(got, given)}"
        )
    out = []
    for v, t in zip(leaves, like):
        if not isinstance(v, Node):
            try:
                if v is None:  # JAX's empty subtree: no value where a tensor needs one
                    raise TypeError("None")
                (v,) = lift(np.asarray(v, dtype=t.dtype))
            except (TypeError, ValueError) as exc:
                raise ShapeError(f"{what}: expected a tensor or an array for {t.name} ({t.type}), got {v!r}") from exc
        if v.shape != t.shape:
            raise ShapeError(
                f"{what}: expected shape {t.shape} to match {t.name}, got {type_string(v.shape, v.dtype)}"
            )
        out.append(v)
    return out


@replayable
def vjp(ys: Any, xs: Any, cotangents: Any) -> Any:
    """Cotangents of `xs` (in the structure of `xs`) given `cotangents` of `ys`."""
    y_list, y_tree = _tensors(ys, "vjp")
    x_list, x_tree = _tensors(xs, "vjp")
    cts = _matching(cotangents, y_list, y_tree, "vjp cotangents")
    result = reverse_mode(Graph.of(y_list), x_list, cts)
    return unflatten(x_tree, list(result.graph.outputs))


@replayable
def grad(y: Any, xs: Any) -> Any:
    """d y / d xs for a scalar `y`, in the structure of `xs`; zeros where y does not depend.
    An integer or bool x gets zeros of its dtype: it carries no gradient."""
    (y_node,), _ = _tensors([y], "grad")
    if y_node.size != 1 or y_node.ndim:
        raise GraphError(
            f"grad: expected a scalar y, got {y_node.name} of shape {y_node.shape}; use gc.vjp with"
            f" cotangents, or reduce y first"
        )
    if not is_float(y_node.dtype):
        raise GraphError(f"grad: y must be a float tensor, got {y_node.dtype.name}")
    return vjp(y_node, xs, full(y_node.shape, 1, y_node.dtype))


@replayable
def jvp(ys: Any, xs: Any, tangents: Any) -> Any:
    """Tangents of `ys` (in the structure of `ys`) given `tangents` of `xs` (forward mode)."""
    y_list, y_tree = _tensors(ys, "jvp")
    x_list, x_tree = _tensors(xs, "jvp")
    ts = _matching(tangents, x_list, x_tree, "jvp tangents")
    result = forward_mode(Graph.of(y_list), x_list, ts)
    return unflatten(y_tree, list(result.graph.outputs))


@replayable
def hvp(y: Any, xs: Any, vs: Any) -> Any:
    """The Hessian of scalar `y` times `vs`, in the structure of `xs`: forward over reverse."""
    return jvp(grad(y, xs), xs, vs)


@replayable
def jacobian(y: Any, x: Any, mode: str = "rev") -> Any:
    """The full Jacobian d y / d x, of shape y.shape + x.shape (x a list, tuple or dict of
    tensors: one each, in that structure); `mode` "rev" (a vjp per element of y) or "fwd" (a jvp
    per element of x). Up to 16 of them (`WRITTEN_OUT`) are built one by one;
    more run as a loop over the basis vectors, whose body (one vjp or jvp) is built and compiled
    once: a conv's 200-row Jacobian was 200 copies of its backward pass."""
    ys, _ = _tensors(y, "jacobian")
    xs, x_tree = _tensors(x, "jacobian")
    if len(ys) != 1 or not isinstance(y, Node):
        raise GraphError(f"jacobian: y must be one tensor, got {y!r}")
    if mode not in ("rev", "fwd"):
        raise GraphError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")
    if not isinstance(x, Node):  # a list, tuple or dict of tensors: a Jacobian each, in that structure
        return unflatten(x_tree, [jacobian(y, one, mode) for one in xs])
    (y_node,), (x_node,) = ys, xs
    if not is_float(y_node.dtype):
        raise GraphError(f"jacobian: y must be a float tensor, got {y_node.dtype.name}")
    shape = y_node.shape + x_node.shape
    if y_node.size == 0 or x_node.size == 0:
        return full(shape, 0, y_node.dtype)
    seeded = y_node if mode == "rev" else x_node

    def line(e: Any) -> Any:  # a row (the vjp of a basis vector) or a column (the jvp of one)
        return vjp(y_node, x_node, e) if mode == "rev" else jvp(y_node, x_node, e)

    if seeded.size <= WRITTEN_OUT:
        lines = stack([line(_basis(seeded, i)) for i in range(seeded.size)], 0)
    else:
        def step(carry: Any, i: Any) -> tuple[Any, Any]:  # the i-th basis vector, made in the step
            return carry, line(reshape(one_hot(i, seeded.size, seeded.dtype), seeded.shape))

        _, lines = scan(step, np.zeros((), seeded.dtype), np.arange(seeded.size, dtype=np.int64))
    if mode == "fwd":  # columns: the basis axis goes last
        lines = transpose(lines, (*range(1, lines.ndim), 0))
    return reshape(lines, shape)


WRITTEN_OUT = 16  # the most rows (or columns) of a Jacobian built one by one rather than as a loop


def _basis(t: Node, i: int) -> np.ndarray:
    e = np.zeros(t.size, t.dtype)
    e[i] = 1
    return e.reshape(t.shape)
