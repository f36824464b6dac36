"""Rematerialization: forward values the backward pass reads, recomputed there instead of kept.

A node is *late* when it belongs to the backward pass proper: differentiation made it and it
reads a cotangent flowing in from another forward node's derivative, or it reads a late node
(an optimizer's update reads the gradient). The others are the forward pass, with the parts of
derivatives that read forward values alone (a tanh's 1 - y**2), which the scheduler could
otherwise compute early and keep. A forward value a late node reads stays
alive from the forward pass to its last reader: what makes training take more memory than
inference. `rematerialize` gives the late readers of each forward node chosen for recomputation
a copy of it, computed from the values kept and read through `barrier`s that wait for a late
value computed just before the copy's first reader (in the schedule of the graph as given).
So the copies run when the backward pass gets there, and the originals die after the forward
pass. A copy of a random node keeps its seed and stream and draws what the original drew: the
results are bit-identical to the graph as given.

`chosen_by_min_cut` picks what to recompute: a minimum cut between the forward pass and the
backward pass (as PyTorch's min-cut partitioner), where keeping a value costs its bytes and
recomputing one costs `price` per element it reads and writes. Matrix products and
convolutions are recomputed only when asked (`products`), and nodes reading leaves alone (a
weight's transpose, a dropout draw) never. `segment_boundaries` lists the layer inputs at which a network can
be cut into segments, each recomputed in the backward pass from the boundary kept before it.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection

import networkx as nx

from graphc.checkpointing import BARRIER, CHECKPOINT
from graphc.errors import GraphError
from graphc.ir import Graph, Node, schedule
from graphc.ops import getitem, reshape
from graphc.ops.conv import CONV2D, CONV2D_FILTER_GRAD, CONV_TRANSPOSE2D
from graphc.ops.linalg import MATMUL
from graphc.source import derived_from

from .base import PassResult

NEVER_RECOMPUTED = (MATMUL, CONV2D, CONV_TRANSPOSE2D, CONV2D_FILTER_GRAD, BARRIER, CHECKPOINT)


def late_nodes(graph: Graph) -> set[int]:
    """Ids of the backward pass proper: the nodes differentiation made that read what it made for
    another forward node (a cotangent flowing in), and every node reading one of these. The
    rest of what it made reads forward values alone (a tanh's 1 - y**2): computable as early as
    the forward pass, so kept or recomputed like forward values."""
    late: set[int] = set()
    for n in graph.nodes:
        if n.op.leaf is not None:
            continue
        if any(id(x) in late for x in n.inputs) or n.grad_of is not None and any(
                x.grad_of is not None and x.grad_of != n.grad_of and x.op.leaf is None for x in n.inputs):
            late.add(id(n))
    return late


PRODUCTS = (MATMUL, CONV2D, CONV_TRANSPOSE2D, CONV2D_FILTER_GRAD)


def _recomputable(n: Node, products: bool = False) -> bool:
    """Whether a copy of `n` may be made: not a leaf, not banned, and reading a computed value
    (a copy of a function of leaves alone, a weight's transpose say, would copy the leaves)."""
    banned = n.op in NEVER_RECOMPUTED and not (products and n.op in PRODUCTS) or n.op.kind == "control"  # loops kept
    # A view or a reshuffle of a kept value costs nothing to keep, and a copy of it would read its
    # input through a barrier, made real: only worth it in segments, whose inputs are copies too.
    moves = n.op.view or n.op.kind == "shape"
    return n.op.leaf is None and not banned and (products or not moves) and any(x.op.leaf is None for x in n.inputs)


def segment_boundaries(graph: Graph) -> list[int]:
    """Ids of the forward values (the user's, not derivatives') a forward matrix product or
    convolution reads (a layer's input, typically), in the order they are computed: where a
    network can be cut into segments recomputed one at a time."""
    found: list[int] = []
    for n in graph.nodes:
        if n.grad_of is None and n.op in PRODUCTS:
            found += [id(x) for x in n.inputs if x.op.leaf is None and x.grad_of is None and id(x) not in found]
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    return sorted(found, key=order.__getitem__)


def _bytes(n: Node) -> int:
    return n.size * n.dtype.itemsize


def chosen_by_min_cut(graph: Graph, price: float, keep: Collection[int] = (), products: bool = False) -> set[int]:
    """Ids of the forward nodes to recompute: the sink side of a minimum cut where keeping a
    forward value for the backward pass costs its bytes and recomputing a node costs `price`
    per element it reads and writes (`price` 0: recompute all it can; large: nothing). Nodes in
    `keep` are never recomputed; with `products`, matrix products and convolutions may be."""
    keep = set(keep)
    late = late_nodes(graph)
    flow = nx.DiGraph()
    flow.add_node("source")
    flow.add_node("sink")
    for n in graph.nodes:
        if id(n) in late or n.op.leaf is not None:
            continue
        key = id(n)
        flow.add_edge(("in", key), ("out", key), capacity=_bytes(n))
        if _recomputable(n, products) and id(n) not in keep:
            cost = n.size + sum(x.size for x in n.inputs)
            flow.add_edge("source", ("in", key), capacity=price * cost)
        else:
            flow.add_edge("source", ("in", key))  # no capacity: infinite, always in the forward pass
        for x in n.inputs:
            if x.op.leaf is None:
                flow.add_edge(("out", id(x)), ("in", key))
    for n in graph.nodes:
        if id(n) in late:
            for x in n.inputs:
                if x.op.leaf is None and id(x) not in late:
                    flow.add_edge(("out", id(x)), "sink")
    _, (_, sink_side) = nx.minimum_cut(flow, "source", "sink")
    return {key for side, key in (k for k in sink_side if isinstance(k, tuple)) if side == "in"}


def rematerialize(graph: Graph, recompute: Collection[int]) -> PassResult:
    """`graph` with the forward nodes whose ids are in `recompute` computed again for their late
    readers; counts `nodes_recomputed` and `barriers`."""
    late = late_nodes(graph)
    chosen = {id(n) for n in graph.nodes if id(n) in recompute and id(n) not in late and _recomputable(n, True)}
    if graph.groups:
        raise GraphError("rematerialize runs before fusion: the graph given has fused groups")
    order = [u for u in schedule(graph) if isinstance(u, Node)]
    position = {id(n): i for i, n in enumerate(order)}  # no groups yet: every unit is a node
    by_id = {id(n): n for n in graph.nodes}
    # first[r]: the earliest position at which a copy of r is read, by a late node or by the
    # copy of another chosen node (inputs come after their readers in the reversed order).
    first: dict[int, int] = {}
    for n in reversed(order):
        for x in n.inputs:
            if id(x) in chosen:
                reader = position[id(n)] if id(n) in late else first.get(id(n))
                if reader is not None:
                    first[id(x)] = min(first.get(id(x), reader), reader)
    # Which copies each late node (and each copy) will read, directly or not (bits): a gate must
    # not wait for the copy it orders. Forward nodes read the originals, never a copy.
    bit = {key: 1 << i for i, key in enumerate(first)}
    depends: dict[int, int] = {}
    for n in graph.nodes:
        if id(n) in first:
            mask = bit[id(n)]
            for x in n.inputs:
                mask |= depends.get(id(x), 0) if id(x) in first else 0
        elif id(n) in late:
            mask = 0
            for x in n.inputs:
                mask |= depends.get(id(x), 0) if id(x) in first or id(x) in late else 0
        else:
            continue
        depends[id(n)] = mask
    # Gates: late nodes that are not outputs nor in a chain of single-reader nodes under one (an
    # update's gradient is fused into the update, which a barrier's read would take out of place).
    outputs = {id(o) for o in graph.outputs}
    readers: dict[int, list[Node]] = {}
    for n in graph.nodes:
        for x in n.inputs:
            readers.setdefault(id(x), []).append(n)
    feeding = set(outputs)  # outputs, and the chains of single-reader nodes under them: an update's gradient
    stack = list(graph.outputs)
    while stack:
        for x in stack.pop().inputs:
            if id(x) not in feeding and len(readers.get(id(x), ())) == 1:
                feeding.add(id(x))
                stack.append(x)
    late_in_order = [n for n in order if id(n) in late and id(n) not in feeding]
    late_positions = [position[id(n)] for n in late_in_order]
    gate_of: dict[int, Node | None] = {}
    for key, at in first.items():
        # The latest late node scheduled before the first reader that does not need this copy.
        i = bisect.bisect_left(late_positions, at) - 1
        while i >= 0 and (depends.get(id(late_in_order[i]), 0) & bit[key] or late_in_order[i].size == 0):
            i -= 1
        gate_of[key] = late_in_order[i] if i >= 0 else None

    new: dict[int, Node] = {}
    copies: dict[int, Node] = {}
    afters: dict[int, Node] = {}
    stats = {"nodes_recomputed": 0, "barriers": 0}

    def after(gate: Node) -> Node:
        """A scalar of `gate`'s value: what a barrier waits for."""
        if id(gate) not in afters:
            g = new[id(gate)]
            with derived_from(g.location, g.grad_of):
                afters[id(gate)] = getitem(reshape(g, (-1,)), 0)
        return afters[id(gate)]

    def copy(key: int) -> Node:
        if key in copies:
            return copies[key]
        r = by_id[key]
        gate = gate_of[key]
        inputs = []
        for x in r.inputs:
            if id(x) in first:
                inputs.append(copy(id(x)))
            elif gate is None or x.op.leaf == "literal":
                inputs.append(new[id(x)])
            else:
                with derived_from(r.location, None):
                    inputs.append(Node(BARRIER, (new[id(x)], after(gate)), {}, x.shape, x.dtype, r.location))
                stats["barriers"] += 1
        copies[key] = Node(r.op, tuple(inputs), r.attrs, r.shape, r.dtype, r.location, None, None)
        stats["nodes_recomputed"] += 1
        return copies[key]

    for n in order:
        if id(n) in late:
            inputs = tuple(copy(id(x)) if id(x) in first else new[id(x)] for x in n.inputs)
        else:
            inputs = tuple(new[id(x)] for x in n.inputs)
        new[id(n)] = n if all(a is b for a, b in zip(inputs, n.inputs)) else \
            Node(n.op, inputs, n.attrs, n.shape, n.dtype, n.location, n.label, n.grad_of)
    result = Graph(graph.inputs, [new[id(o)] for o in graph.outputs])
    counts: dict[str, int] = {}
    for k in copies:  # by op and the user's line, as the report page's pictures name nodes
        n = by_id[k]
        where = n.label or f"{'∂' if n.grad_of is not None else ''}{n.op.name}@{n.location.line}"
        counts[where] = counts.get(where, 0) + 1
    recomputed = [f"{where} x{k}" if k > 1 else where for where, k in sorted(counts.items())]
    notes = (f"recomputed in the backward pass: {', '.join(recomputed)}",) if recomputed else ()
    return PassResult(result, stats, notes)
