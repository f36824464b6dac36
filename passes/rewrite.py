"""The sweep every rewriting pass shares: nodes visited inputs first, each rebuilt on its
(possibly replaced) inputs, then offered to the pass's rule.

A rule gets the node as rebuilt and returns a node computing the same value (itself when it
has nothing to do). Nodes a rule creates carry the replaced node's source line and `grad_of`,
so printouts and error messages still point at the user's code.
"""

from __future__ import annotations

from collections.abc import Callable

from graphc.ir import Graph, Node
from graphc.source import derived_from

Rule = Callable[[Node], Node]


def with_inputs(n: Node, inputs: tuple[Node, ...]) -> Node:
    """`n` on `inputs` (the same node when they are unchanged)."""
    if all(a is b for a, b in zip(inputs, n.inputs)):
        return n
    return Node(n.op, inputs, n.attrs, n.shape, n.dtype, n.location, n.label, n.grad_of)


def rewrite(graph: Graph, rule: Rule) -> Graph:
    """`graph` with `rule` applied to every node, inputs first (one sweep)."""
    new: dict[int, Node] = {}
    for n in graph.nodes:
        rebuilt = with_inputs(n, tuple(new[id(x)] for x in n.inputs))
        with derived_from(n.location, n.grad_of):
            out = rule(rebuilt)
        assert out.shape == n.shape and out.dtype == n.dtype, f"a rule changed the type of {n!r} to {out.type}"
        new[id(n)] = out
    return Graph(graph.inputs, [new[id(o)] for o in graph.outputs])
