"""Dead-node elimination.

A graphc graph is defined by its outputs: its nodes are exactly those they reach, so a node
that a rewrite leaves without users is gone as soon as the rewritten graph exists (and a node
the user built but never used was never in it). What remains dead are inputs: placeholders the
user listed that, after simplification, no output reads. This pass drops them from the
program, which is then not handed data it never uses (the function still checks every feed),
and the per-step outputs of loops that nothing reads (`prune_loops`).
"""

from __future__ import annotations

from graphc.ir import Graph

from .base import PassResult
from .loops import prune_loops


def eliminate_dead_nodes(graph: Graph) -> PassResult:
    """`graph` without the inputs no output reads and loops' unread outputs; counts
    `inputs_dropped` and `loop_parts_dropped`."""
    graph, parts = prune_loops(graph)
    used = {id(n) for n in graph.nodes}
    inputs = [p for p in graph.inputs if id(p) in used]
    stats = {"inputs_dropped": len(graph.inputs) - len(inputs)}
    if parts:
        stats["loop_parts_dropped"] = parts
    return PassResult(Graph(inputs, graph.outputs), stats)
