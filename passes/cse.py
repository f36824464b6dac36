"""Common-subexpression elimination: nodes with the same op, the same inputs (after merging) and
the same attributes compute the same value, so one of them serves every user. A loop's body
and a cond's branches are compared by what they compute (two derivatives of one scan or cond,
built apart, are one).

Placeholders and variables are never merged (their identity is their meaning). A random draw
is a function of its seed, its stream and the call, all in its attributes, so equal draws merge
too: the copies of a checkpointed block that differentiating it makes, one per input, are then
one copy. A draw made while differentiating (a recomputation's) merges only with those made for
the same forward node, never with the forward pass's own, so the forward's draws still die
after it. Constants merge by dtype, shape and bytes.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from graphc.ir import Graph, Node, topological_order
from graphc.ops.conditional import Branches
from graphc.ops.loop import Body

from .base import PassResult
from .loops import merge_conds, merge_loops


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Body):
        return ("body", _structure(value.graph), value.carries, value.xs, value.length, value.reverse)
    if isinstance(value, Branches):
        return ("branches", _structure(value.true), _structure(value.false))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    if isinstance(value, float) and value != value:
        return ("nan",)
    return value


def _structure(graph: Graph) -> Hashable:
    """What `graph` computes, as a key: its nodes in order, each by op, inputs (placeholders by
    position), type and attributes; a node that is its own value (a placeholder from outside, a
    variable, a random draw) by identity. Two graphs with the same key compute the same."""
    index: dict[int, Hashable] = {id(p): ("input", k) for k, p in enumerate(graph.inputs)}
    rows: list[Hashable] = []
    for n in topological_order(graph.outputs):
        if id(n) in index:
            continue
        if n.op.leaf in ("fed", "state") or n.op.needs_step:
            rows.append(("own", id(n)))
        else:
            rows.append((n.op.name, tuple(index[id(x)] for x in n.inputs), n.dtype.str, n.shape,
                         tuple(sorted((k, _hashable(v)) for k, v in n.attrs.items()))))
        index[id(n)] = len(rows) - 1
    return tuple(rows), tuple(index[id(o)] for o in graph.outputs)


def cse(graph: Graph) -> PassResult:
    """The graph with duplicate computations merged (loops and conds too: see `merge_loops` and
    `merge_conds`); counts
    `nodes_merged`."""
    graph, loops = merge_loops(graph, lambda body: cse(body).graph)
    graph, conds = merge_conds(graph, lambda branch: cse(branch).graph)
    seen: dict[Hashable, Node] = {}
    new: dict[int, Node] = {}
    merged = 0
    for n in graph.nodes:
        inputs = tuple(new[id(x)] for x in n.inputs)
        if n.op.leaf in ("fed", "state"):  # each its own value
            new[id(n)] = n
            continue
        key = (n.op, tuple(id(x) for x in inputs), n.dtype.str, n.shape,
               tuple(sorted((k, _hashable(v)) for k, v in n.attrs.items())), n.grad_of if n.op.needs_step else None)
        if key in seen:
            new[id(n)] = seen[key]
            merged += 1
            continue
        same_inputs = all(a is b for a, b in zip(inputs, n.inputs))
        kept = n if same_inputs else Node(n.op, inputs, n.attrs, n.shape, n.dtype, n.location, n.label, n.grad_of)
        seen[key] = new[id(n)] = kept
    return PassResult(Graph(graph.inputs, [new[id(o)] for o in graph.outputs]), {"nodes_merged": merged + loops + conds})
