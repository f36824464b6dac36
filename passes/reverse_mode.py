"""Reverse-mode differentiation: cotangents flow from outputs back to the wanted tensors.

`backpropagate` is the sweep itself, shared by the symbolic pass and the eager tape: it works
on any objects with `op`, `inputs`, `attrs`, `shape` and `dtype`. It visits nodes in reverse
topological order (no recursion), calls each op's VJP rule only for inputs that need a
cotangent, sums broadcast dimensions back to each input's shape, and adds up the contributions
of a tensor used more than once. A tuple-valued node (a loop) gets the cotangents of its
elements together, once every reader of an element has given its part.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from graphc.dtypes import is_float
from graphc.ir import Graph, Node, nodes_created, placeholders_among, topological_order
from graphc.ops import broadcast_to, cast, full_like, sum_to_shape
from graphc.source import derived_from

from .base import PassResult

Scope = Callable[[Any], contextlib.AbstractContextManager[Any]]


def fit(c: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Cotangent `c` brought to `shape` and `dtype`: broadcast axes summed back (the one place
    where that happens), a smaller cotangent broadcast up."""
    if tuple(c.shape) != tuple(shape):
        grown = len(c.shape) >= len(shape) and all(
            d in (1, e) for d, e in zip(shape, c.shape[len(c.shape) - len(shape):])
        )
        c = sum_to_shape(c, shape) if grown else broadcast_to(c, shape)
    return c if c.dtype == dtype else cast(c, dtype)


def carries_gradient(n: Any, active: set[int]) -> bool:
    """Whether float tensor `n` gets a cotangent: some input is active and its rule exists."""
    return (is_float(n.dtype) or n.op.tuple_value) and any(
        id(x) in active and n.op.vjp_rule(i) is not None for i, x in enumerate(n.inputs)
    )


def backpropagate(
    ys: Sequence[Any],
    cotangents: Sequence[Any],
    wanted: Sequence[Any] | None,
    on_final: Callable[[Any, Any], Any] | None = None,
    scope: Scope | None = None,
    order: Sequence[Any] | None = None,
) -> dict[int, Any]:
    """Cotangents (by `id`) of every tensor between `wanted` and `ys`.

    `wanted` None means every tensor with `requires_grad` (the eager tape). `on_final(t, g)` sees
    each tensor's complete cotangent before it flows on and may replace it (eager hooks).
    `order`, if given, is the topological order of everything `ys` depend on.
    """
    if order is None:
        order = topological_order(ys)
    if wanted is None:
        active = {id(n) for n in order if n.requires_grad}
    else:
        active = {id(w) for w in wanted if is_float(w.dtype)}
        for n in order:
            if id(n) not in active and carries_gradient(n, active):
                active.add(id(n))
    enter = scope or (lambda n: contextlib.nullcontext())
    ct: dict[int, Any] = {}
    for y, c in zip(ys, cotangents):
        if id(y) in active:
            ct[id(y)] = c if id(y) not in ct else ct[id(y)] + c
    for n in reversed(order):
        g = ct.get(id(n))
        if g is None:
            continue
        if on_final is not None:
            g = ct[id(n)] = on_final(n, g)
        if not n.inputs:  # a leaf (an eager one has no op)
            continue
        if n.op.item:  # an element of a tuple value: its cotangent joins the others, by index
            x, k = n.inputs[0], n.attrs["index"]
            if id(x) in active:
                parts = ct.setdefault(id(x), {})
                parts[k] = g if k not in parts else parts[k] + g
            continue
        if n.op.tuple_value:  # every element's cotangent at once, every input's in one rule
            with enter(n):
                found = n.op.vjp[0](g, n, *n.inputs, active=[id(x) in active for x in n.inputs], **n.attrs)
                for x, c in zip(n.inputs, found):
                    if c is not None and id(x) in active:
                        c = fit(c, x.shape, x.dtype)
                        ct[id(x)] = c if id(x) not in ct else ct[id(x)] + c
            continue
        for i, x in enumerate(n.inputs):
            rule = n.op.vjp_rule(i) if id(x) in active else None
            if rule is None:
                continue
            with enter(n):
                c = fit(rule(g, n, *n.inputs, **n.attrs), x.shape, x.dtype)
                ct[id(x)] = c if id(x) not in ct else ct[id(x)] + c
    return ct


def reverse_mode(graph: Graph, wrt: Sequence[Node], cotangents: Sequence[Node]) -> PassResult:
    """A graph whose outputs are the cotangents of `wrt`, given `cotangents` of `graph.outputs`.

    A tensor the outputs do not depend on gets zeros.
    """
    first = nodes_created()
    ct = backpropagate(
        graph.outputs, cotangents, wrt, scope=lambda n: derived_from(n.location, n.id), order=graph.nodes
    )
    grads = [ct[id(x)] if id(x) in ct else full_like(x, 0) for x in wrt]
    stats = {"nodes_before": len(graph), "nodes_added": nodes_created() - first - 1, "cotangents": len(ct)}
    return PassResult(Graph(graph.inputs + placeholders_among(cotangents, graph.inputs), grads), stats)
