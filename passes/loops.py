"""Passes and loops: every pass runs inside loops' bodies too, and loops are merged and pruned.

- `inside_loops(run)` is pass `run` applied to the body of each loop of a graph and to both
  branches of each cond (and theirs, nested; innermost first, so that the graph's own pass sees
  them as they will be), a node whose graphs changed rebuilt on the same inputs, then to the graph. A body keeps its
  placeholders whatever the pass does: they are its loop's interface (`prune_loops` drops the
  ones it no longer reads, with the loop's inputs they stand for).
- `merge_loops` makes one loop of loops running the same body's steps on the same inputs (a
  loop and the copy its derivative made to stack its carries), with the union of their
  outputs. Part of CSE.
- `merge_conds` likewise makes one cond of conds on the same inputs with the same branch
  placeholders (a cond and the copy its derivative made to return what it reads), with the
  union of their results. Part of CSE.
- `prune_loops` drops the ys no one reads from a loop's body, then the xs and captured values
  the body no longer reads; and from a cond, the results no one reads, then the values neither
  branch reads any more. Part of dead-node elimination.
- `products_out_of_loops` turns a carry that only sums a product of per-step values (a weight's
  gradient through time, `dw <- dw + h[t].T @ dz[t]`) into one product after the loop of the
  two stacked operands (`H.T @ DZ`, contracting over steps and rows at once): one large BLAS call
  runs at full speed where many thin ones did not. Part of simplification.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any

import graphc.ops as ops
from graphc.builder import apply
from graphc.ir import Graph, Node, consumers, topological_order
from graphc.ops.conditional import COND
from graphc.ops.elementwise import ADD
from graphc.ops.leaves import FULL
from graphc.ops.linalg import MATMUL
from graphc.ops.loop import LOOP, LOOP_OUTPUT
from graphc.ops.shape import TRANSPOSE
from graphc.source import derived_from

from .base import PassResult
from .rewrite import rewrite, with_inputs

Pass = Callable[[Graph], PassResult]


def _with_body(n: Node, inputs: tuple[Node, ...], body: Any) -> Node:
    return Node(n.op, inputs, {**n.attrs, "body": body}, n.shape, n.dtype, n.location, n.label, n.grad_of)


def _item(n: Node, loop: Node, index: int) -> Node:
    return Node(n.op, (loop,), {**n.attrs, "index": index}, n.shape, n.dtype, n.location, n.label, n.grad_of)


def inside_loops(run: Pass) -> Pass:
    """Pass `run` applied inside each loop's body (innermost first), then to the graph; counters
    summed."""

    def everywhere(graph: Graph) -> PassResult:
        if not any(n.op.tuple_value for n in graph.nodes):
            return run(graph)
        stats: dict[str, int] = {}

        def into_body(n: Node) -> Node:
            if not n.op.tuple_value:
                return n
            body = n.attrs["body"]
            graphs = []
            for g in body.graphs:  # a loop's body, or a cond's two branches
                inner = everywhere(g)
                for k, v in inner.stats.items():
                    if k != "inputs_dropped":  # a body keeps its placeholders (below): none is dropped
                        stats[k] = stats.get(k, 0) + v
                graphs.append(g if inner.graph is g else Graph(g.inputs, inner.graph.outputs, inner.graph.groups))
            if all(a is b for a, b in zip(graphs, body.graphs)):
                return n
            return _with_body(n, n.inputs, body.with_graphs(*graphs))

        rebuilt = rewrite(graph, into_body)
        result = run(Graph(rebuilt.inputs, rebuilt.outputs, _regrouped(graph, rebuilt)))
        for k, v in result.stats.items():
            stats[k] = stats.get(k, 0) + v
        return PassResult(result.graph, stats, result.notes)

    return everywhere


def _regrouped(before: Graph, after: Graph) -> tuple[Any, ...]:
    """`before`'s fusion groups, if `after` still holds every member."""
    if not before.groups:
        return ()
    present = {id(n) for n in after.nodes}
    return before.groups if all(id(m) in present for g in before.groups for m in g.members) else ()


def merge_loops(graph: Graph, tidy: Callable[[Graph], Graph]) -> tuple[Graph, int]:
    """`graph` with loops on the same inputs and the same body placeholders made one, whose ys
    are all of theirs, its body passed through `tidy` (CSE: the bodies merged were optimized
    apart); the number of loops merged away."""
    families: dict[Hashable, list[Node]] = {}
    for n in graph.nodes:
        if n.op is LOOP:
            body = n.attrs["body"]
            key = (tuple(map(id, n.inputs)), tuple(map(id, body.graph.inputs)), body.carries, body.xs, body.length,
                   body.reverse)
            families.setdefault(key, []).append(n)
    chosen: dict[int, tuple[Node, dict[int, int]]] = {}  # loop id -> the first of its family, index map
    merged_bodies: dict[int, Any] = {}
    for family in families.values():
        if len(family) < 2:
            continue
        first = family[0]
        body = first.attrs["body"]
        outputs = list(body.graph.outputs)
        for n in family:
            index: dict[int, int] = {}
            for k, o in enumerate(n.attrs["body"].graph.outputs):
                if k < body.carries:
                    index[k] = k
                    continue
                found = next((j for j, p in enumerate(outputs) if j >= body.carries and p is o), None)
                if found is None:
                    found = len(outputs)
                    outputs.append(o)
                index[k] = found
            chosen[id(n)] = (first, index)
        tidied = tidy(Graph(body.graph.inputs, outputs))
        merged_bodies[id(first)] = body.with_graph(Graph(body.graph.inputs, tidied.outputs))
    return _merged(graph, chosen, merged_bodies)


def merge_conds(graph: Graph, tidy: Callable[[Graph], Graph]) -> tuple[Graph, int]:
    """`graph` with conds on the same inputs whose branches have the same placeholders made one,
    returning all of their results (a cond and the copy its derivative made to also return what
    the derivative reads), each branch passed through `tidy`; the number of conds merged away."""
    families: dict[Hashable, list[Node]] = {}
    for n in graph.nodes:
        if n.op is COND:
            families.setdefault((tuple(map(id, n.inputs)), tuple(map(id, n.attrs["body"].true.inputs))), []).append(n)
    chosen: dict[int, tuple[Node, list[int]]] = {}  # cond id -> the first of its family, its results' new indices
    merged_bodies: dict[int, Any] = {}
    for family in families.values():
        if len(family) < 2:
            continue
        first = family[0]
        pairs: list[tuple[Node, Node]] = []
        for n in family:
            body = n.attrs["body"]
            index = []
            for t, f in zip(body.true.outputs, body.false.outputs):
                found = next((j for j, (a, b) in enumerate(pairs) if _same_value(a, t) and _same_value(b, f)), None)
                if found is None:
                    found = len(pairs)
                    pairs.append((t, f))
                index.append(found)
            chosen[id(n)] = (first, index)
        phs = first.attrs["body"].true.inputs
        branches = [Graph(phs, tidy(Graph(phs, [pair[k] for pair in pairs])).outputs) for k in (0, 1)]
        merged_bodies[id(first)] = first.attrs["body"].with_graphs(*branches)
    return _merged(graph, chosen, merged_bodies)


def _merged(graph: Graph, chosen: dict[int, tuple[Node, Any]], bodies: dict[int, Any]) -> tuple[Graph, int]:
    """`graph` with each control node of `chosen` (id -> (the first of its family, the new index
    of each of its results)) made the first of its family, on the body `bodies` holds for it,
    and their item nodes reading the new indices; the number of nodes merged away."""
    if not chosen:
        return graph, 0
    new: dict[int, Node] = {}
    for n in graph.nodes:
        inputs = tuple(new[id(x)] for x in n.inputs)
        if id(n) in chosen:
            first = chosen[id(n)][0]
            if id(first) not in new:
                new[id(first)] = _with_body(first, inputs, bodies[id(first)])
            new[id(n)] = new[id(first)]
        elif n.op.item and id(n.inputs[0]) in chosen:
            new[id(n)] = _item(n, inputs[0], chosen[id(n.inputs[0])][1][n.attrs["index"]])
        else:
            new[id(n)] = with_inputs(n, inputs)
    return Graph(graph.inputs, [new[id(o)] for o in graph.outputs]), len(chosen) - len(bodies)


def _same_value(a: Node, b: Node) -> bool:
    """Whether `a` and `b` are one node, or fills of one value and type."""
    return a is b or (a.op is FULL and b.op is FULL and a.type == b.type and a.attrs == b.attrs)


def prune_loops(graph: Graph) -> tuple[Graph, int]:
    """`graph` with each loop's unread ys dropped, and the xs and captured values its body then
    no longer reads; the number of loop outputs and inputs dropped."""
    users = consumers(graph)
    new: dict[int, Node] = {}
    moved: dict[int, dict[int, int]] = {}  # loop id -> old element index -> new
    dropped = 0
    for n in graph.nodes:
        inputs = tuple(new[id(x)] for x in n.inputs)
        if n.op is COND:
            body = n.attrs["body"]
            read = sorted({u.attrs["index"] for u in users[n]})
            kept = [[g.outputs[k] for k in read] for g in body.graphs]
            reached = {id(m) for m in topological_order([o for outs in kept for o in outs])}
            keep_in = [i for i, p in enumerate(body.true.inputs) if id(p) in reached]
            if len(read) == body.outputs and len(keep_in) == len(body.true.inputs):
                new[id(n)] = with_inputs(n, inputs)
                continue
            dropped += body.outputs - len(read) + len(body.true.inputs) - len(keep_in)
            phs = [body.true.inputs[i] for i in keep_in]
            pruned = body.with_graphs(*(Graph(phs, outs) for outs in kept))
            new[id(n)] = _with_body(n, (inputs[0], *(inputs[1 + i] for i in keep_in)), pruned)
            moved[id(n)] = {k: j for j, k in enumerate(read)}
        elif n.op is LOOP:
            body = n.attrs["body"]
            g, nc = body.graph, body.carries
            read = sorted({u.attrs["index"] for u in users[n]} - set(range(nc)))
            keep_out = [*range(nc), *read]
            outputs = [g.outputs[k] for k in keep_out]
            reached = {id(m) for m in topological_order(outputs)}
            keep_in = [i for i, p in enumerate(g.inputs) if i < nc or id(p) in reached]
            if len(keep_out) == body.outputs and len(keep_in) == len(g.inputs):
                new[id(n)] = with_inputs(n, inputs)
                continue
            dropped += body.outputs - len(keep_out) + len(g.inputs) - len(keep_in)
            xs = sum(1 for i in keep_in if nc <= i < nc + body.xs)
            pruned = replace(body, graph=Graph([g.inputs[i] for i in keep_in], outputs), xs=xs)
            new[id(n)] = _with_body(n, tuple(inputs[i] for i in keep_in), pruned)
            moved[id(n)] = {k: j for j, k in enumerate(keep_out)}
        elif n.op.item and id(n.inputs[0]) in moved:
            new[id(n)] = _item(n, inputs[0], moved[id(n.inputs[0])][n.attrs["index"]])
        else:
            new[id(n)] = with_inputs(n, inputs)
    if not dropped:
        return graph, 0
    return Graph(graph.inputs, [new[id(o)] for o in graph.outputs]), dropped


def _accumulated_product(body: Any, i: int) -> tuple[Node, Node] | None:
    """The operands (l, r) when carry i of `body` is only ever `carry + l @ r` (2-D, l and r
    per-step values, not the carry's own), else None."""
    g = body.graph
    p, out = g.inputs[i], g.outputs[i]
    if out.op is not ADD or sum(x is p for x in out.inputs) != 1 or out.shape != p.shape:
        return None
    users = consumers(g)
    if users[p] != [out] or users[out] or any(o is p for o in g.outputs) or sum(o is out for o in g.outputs) != 1:
        return None
    product = out.inputs[1] if out.inputs[0] is p else out.inputs[0]
    if product.op is not MATMUL or product.ndim != 2 or any(x.ndim != 2 for x in product.inputs):
        return None
    if product.dtype != p.dtype:
        return None  # a float32 product summed into a float64 carry: the sum keeps float64's precision
    captured = {id(q) for q in g.inputs[body.carries + body.xs:]}
    if any(id(_untransposed(x)[0]) in captured for x in product.inputs):
        return None  # a loop-invariant operand: nothing to stack
    return product.inputs[0], product.inputs[1]


def _untransposed(x: Node) -> tuple[Node, bool]:
    """(a, True) when x is a's 2-D transpose, else (x, False)."""
    if x.op is TRANSPOSE and x.attrs["axes"] == (1, 0):
        return x.inputs[0], True
    return x, False


MAX_ROUNDS = 16  # carries moved out of one loop, at most


def products_out_of_loops(graph: Graph) -> tuple[Graph, int]:
    """`graph` with each loop carry that only accumulates a product of per-step values computed
    after the loop as one product of the stacked operands (stacks the loop already keeps are
    reused; a new one only for a step's operand no larger than the carry: a thin product, which
    BLAS runs slowly); the number of carries moved out."""
    if not any(n.op is LOOP for n in graph.nodes):
        return graph, 0
    total = 0
    for _ in range(MAX_ROUNDS):  # one carry of each loop a round
        graph, moved = _one_product_per_loop(graph)
        total += moved
        if not moved:
            break
    return graph, total


def _one_product_per_loop(graph: Graph) -> tuple[Graph, int]:
    """`products_out_of_loops` for the first such carry of each loop."""
    users = consumers(graph)
    new: dict[int, Node] = {}
    moved = 0
    for n in graph.nodes:
        inputs = tuple(new[id(x)] for x in n.inputs)
        if n.op is LOOP and n.attrs["body"].length > 0:
            done = _product_out_of_loop(n, inputs, users[n])
            if done is not None:
                loop, readers = done
                moved += 1
                new[id(n)] = loop
                for old, value in readers.items():
                    new[old] = value
                continue
        if id(n) not in new:
            new[id(n)] = with_inputs(n, inputs)
    if not moved:
        return graph, 0
    return Graph(graph.inputs, [new[id(o)] for o in graph.outputs]), moved


def _product_out_of_loop(n: Node, inputs: tuple[Node, ...], readers: list[Node]) -> tuple[Node, dict[int, Node]] | None:
    """Loop `n` (on `inputs`) with its first carry that accumulates a product moved out: the new
    loop, and what each of `readers` (n's loop_output nodes) becomes. None if no carry does."""
    body = n.attrs["body"]
    g, nc, nx = body.graph, body.carries, body.xs
    for i in range(nc):
        operands = _accumulated_product(body, i)
        if operands is None:
            continue
        outputs = [o for k, o in enumerate(g.outputs) if k != i]
        stacks: list[tuple[int, bool]] = []  # per operand: its stack (y k >= 0, or input -1 - j); transposed
        thin = True
        for x in operands:
            base, transposed = _untransposed(x)
            j = next((j for j in range(nc, nc + nx) if g.inputs[j] is base), None)
            if j is not None:  # a slice of xs: the loop's input is its stack
                stacks.append((-1 - j, transposed))
                continue
            k = next((k for k in range(nc - 1, len(outputs)) if outputs[k] is base), None)
            if k is None:  # a new y
                thin = thin and base.size <= g.outputs[i].size
                k = len(outputs)
                outputs.append(base)
            stacks.append((k, transposed))
        if not thin:
            continue
        kept = [q for k, q in enumerate(g.inputs) if k != i]
        loop = _with_body(n, tuple(x for k, x in enumerate(inputs) if k != i),
                          replace(body, graph=Graph(kept, outputs), carries=nc - 1))
        with derived_from(g.outputs[i].location, g.outputs[i].grad_of):
            left, right = (inputs[-1 - k] if k < 0 else apply(LOOP_OUTPUT, (loop,), index=k) for k, _ in stacks)
            total = ops.matmul(_rows_last(left, stacks[0][1], inner=True), _rows_last(right, stacks[1][1], inner=False))
            final = ops.add(inputs[i], total)
        changed: dict[int, Node] = {}
        for r in readers:
            k = r.attrs["index"]
            changed[id(r)] = final if k == i else _item(r, loop, k - (k > i))
        return loop, changed
    return None


def _rows_last(stack: Node, transposed: bool, inner: bool) -> Node:
    """The steps' operands [T, ...] side by side along the contracted axis: for the left operand
    (`inner`) a [k, T*n] matrix of steps' [k, n] (each the transpose of the stacked [n, k] when
    `transposed`), for the right a [T*n, m] matrix of steps' [n, m]."""
    t, a, b = stack.shape
    if inner:
        if transposed:  # steps' [a=n, b=k]: rows of every step, then transposed
            return ops.transpose(ops.reshape(stack, (t * a, b)))
        return ops.reshape(ops.transpose(stack, (1, 0, 2)), (a, t * b))
    if transposed:  # steps' [a=m, b=n], each transposed to [n, m]
        return ops.transpose(ops.reshape(ops.transpose(stack, (1, 0, 2)), (a, t * b)))
    return ops.reshape(stack, (t * a, b))
