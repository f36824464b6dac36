"""Forward-mode differentiation: tangents flow from the given inputs forward to the outputs.

A graph transform of its own (not reverse mode applied twice): one sweep in topological order
calls each op's JVP rule for the inputs that carry a tangent and adds the contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphc.dtypes import is_float
from graphc.ir import Graph, Node, nodes_created, placeholders_among
from graphc.ops import broadcast_to, cast, full_like
from graphc.source import derived_from

from .base import PassResult


def _tangent_of(n: Node, tangents: list[Any]) -> Any:
    """The tangent of `n` from its inputs' tangents (None where an input has none)."""
    jvp = n.op.jvp
    if callable(jvp):
        full = [t if t is not None else full_like(x, 0) for t, x in zip(tangents, n.inputs)]
        return jvp(full, n, *n.inputs, **n.attrs)
    total = None
    for rule, t in zip(jvp, tangents):
        if t is None or rule is None:
            continue
        part = rule(t, n, *n.inputs, **n.attrs)
        total = part if total is None else total + part
    return total


def push_forward(order: Sequence[Node], xs: Sequence[Node], tangents: Sequence[Node]) -> dict[int, Any]:
    """Tangents (by `id`) of every float node of `order` (topologically sorted) that depends on `xs`."""
    tan: dict[int, Any] = {id(x): t for x, t in zip(xs, tangents) if is_float(x.dtype)}
    seeds = set(tan)
    for n in order:
        if id(n) in seeds or n.op.jvp is None or not (is_float(n.dtype) or n.op.tuple_value):
            continue
        ts = [tan.get(id(x)) for x in n.inputs]
        if all(t is None for t in ts):
            continue
        if n.op.item:  # an element of a tuple value's tangents (a list, None where zero)
            t = ts[0][n.attrs["index"]]  # type: ignore[index]
            if t is not None:
                tan[id(n)] = t
            continue
        with derived_from(n.location, n.id):
            if n.op.tuple_value:
                tan[id(n)] = n.op.jvp(ts, n, *n.inputs, **n.attrs)
                continue
            t = _tangent_of(n, ts)
            if t is None:
                continue
            if t.shape != n.shape:
                t = broadcast_to(t, n.shape)
            tan[id(n)] = t if t.dtype == n.dtype else cast(t, n.dtype)
    return tan


def forward_mode(graph: Graph, wrt: Sequence[Node], tangents: Sequence[Node]) -> PassResult:
    """A graph whose outputs are the tangents of `graph.outputs` given `tangents` of `wrt`.

    An output that does not depend on `wrt` gets zeros.
    """
    first = nodes_created()
    tan = push_forward(graph.nodes, wrt, tangents)
    outs = [tan[id(y)] if id(y) in tan else full_like(y, 0) for y in graph.outputs]
    stats = {"nodes_before": len(graph), "nodes_added": nodes_created() - first - 1, "tangents": len(tan)}
    return PassResult(Graph(graph.inputs + placeholders_among(tangents, graph.inputs), outs), stats)
