"""The structured loop: one node running a body graph once per step, whatever the step count.

A `loop` node's value is a tuple of tensors: the final carries, then each per-step output (a y)
stacked along a new leading axis, each read by a `loop_output` node. Its inputs are the initial
carries, the stacked xs (step t reads slice t), then the values its body reads from outside
(captured), in the order of its body's placeholders. `reverse` runs the steps from the last
slice to the first; ys[t] still belongs to step t.

`make_loop` builds one from a traced body: what the body computes without reading a per-step
value is hoisted out of it (computed once, before the loop) and captured. Derivatives are loops
too: the VJP is a loop running the other way over the per-step carries (stacked by the same
loop, which the CSE pass merges with the original) and recomputing each step's body before
differentiating it; the JVP a loop carrying tangents beside the values. Both are written with
the differentiation sweeps themselves (lent by `graphc.differentiate`, a layer up), so they can
be differentiated again, to any order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..builder import apply
from ..dtypes import is_float, type_string
from ..errors import GraphcError, ShapeError
from ..ir import Graph, Node, topological_order
from ..opdef import OpDef, register
from .leaves import PLACEHOLDER, full_like


@dataclass(frozen=True, eq=False)
class Body:
    """A loop's body: `graph` maps (carries, x slices, captured values), its placeholders in that
    order, to (new carries, ys), its outputs in that order; run `length` times."""

    graph: Graph
    carries: int
    xs: int
    length: int
    reverse: bool

    @property
    def outputs(self) -> int:
        return len(self.graph.outputs)

    def output_type(self, k: int) -> tuple[tuple[int, ...], np.dtype]:
        """The shape and dtype of the loop's element k (a final carry or a stacked y)."""
        out = self.graph.outputs[k]
        return (out.shape if k < self.carries else (self.length, *out.shape)), out.dtype

    def with_graph(self, graph: Graph) -> Body:
        return replace(self, graph=graph)

    @property
    def graphs(self) -> tuple[Graph, ...]:
        """The graphs the node runs (as a cond's `Branches` has two)."""
        return (self.graph,)

    def with_graphs(self, graph: Graph) -> Body:
        return replace(self, graph=graph)


def _infer_loop(*inputs: Any, body: Body) -> tuple[tuple[int, ...], np.dtype]:
    if not isinstance(body, Body):
        raise ShapeError(f"a loop's body must be a Body, got {type(body).__name__}")
    phs = body.graph.inputs
    if len(inputs) != len(phs):
        raise ShapeError(f"a loop whose body takes {len(phs)} values got {len(inputs)}")
    for k, (x, p) in enumerate(zip(inputs, phs)):
        stacked = body.carries <= k < body.carries + body.xs
        want = (body.length, *p.shape) if stacked else p.shape
        if tuple(x.shape) != want or np.dtype(x.dtype) != p.dtype:
            raise ShapeError(f"input {k} of a loop must be {type_string(want, p.dtype)}, got {type_string(x.shape, x.dtype)}")
    if body.carries > min(len(phs), body.outputs):
        raise ShapeError(f"a loop of {body.carries} carries whose body takes {len(phs)} values and gives {body.outputs}")
    for k, (out, p) in enumerate(zip(body.graph.outputs[:body.carries], phs)):
        if out.shape != p.shape or out.dtype != p.dtype:  # each step's carry goes back in its place
            raise ShapeError(f"carry {k} of a loop enters as {p.type} and leaves its body as {out.type}")
    return (0,), np.dtype(np.uint8)


def infer_item(node: Any, index: int) -> tuple[tuple[int, ...], np.dtype]:
    """The type of element `index` of a control node's results (a loop's, or a cond's)."""
    body = node.attrs.get("body") if isinstance(node, Node) and node.op.tuple_value else None
    if body is None or not 0 <= index < body.outputs:
        raise ShapeError(f"an item node reads element {index} of a control node's results, and {node!r} has no such element")
    return body.output_type(index)


def evaluate_body(graph: Graph, values: Sequence[Any]) -> list[Any]:
    """The outputs of a body graph (no random draws, no variables) given its placeholders' values,
    node by node with each op's NumPy reference."""
    known: dict[int, Any] = {id(p): v for p, v in zip(graph.inputs, values)}
    with np.errstate(all="ignore"):
        for n in graph.nodes:
            if id(n) not in known:
                out = n.op.numpy(*(known[id(x)] for x in n.inputs), **n.attrs)
                known[id(n)] = out if n.op.tuple_value else np.asarray(out).astype(n.dtype, copy=False)
    return [known[id(o)] for o in graph.outputs]


def run_loop(arrays: Sequence[np.ndarray], body: Body,
             step: Callable[[Graph, list[Any]], list[Any]] = evaluate_body) -> tuple[np.ndarray, ...]:
    """The loop's results given its inputs' values, each step's body computed by `step` (by
    default `evaluate_body`; the reference executor passes its own, checking numerics, as the
    op's reference's `evaluate`)."""
    nc, nx = body.carries, body.xs
    carries = list(arrays[:nc])
    xs, captured = arrays[nc:nc + nx], list(arrays[nc + nx:])
    ys = [np.empty(*body.output_type(k)) for k in range(nc, body.outputs)]
    for t in (range(body.length - 1, -1, -1) if body.reverse else range(body.length)):
        try:
            outs = step(body.graph, [*carries, *(x[t] for x in xs), *captured])
        except GraphcError as exc:
            raise _at_step(exc, t) from None
        carries = outs[:nc]
        for y, value in zip(ys, outs[nc:]):
            y[t] = value
    return (*carries, *ys)


def _at_step(exc: GraphcError, t: int) -> GraphcError:
    """`exc`, raised by a body at step `t`, saying the step (of each loop around it, outermost
    first), as compiled programs do."""
    steps = [t, *getattr(exc, "loop_steps", [])]
    detail = getattr(exc, "detail_without_steps", exc.detail)
    told = ", ".join(map(str, steps))
    again = type(exc)(f"{detail} (at step {told} of the loop{'s' if len(steps) > 1 else ''} around it)")
    again.loop_steps, again.detail_without_steps = steps, detail  # type: ignore[attr-defined]
    return again


# The differentiation sweeps (graphc.passes.reverse_mode.backpropagate and
# graphc.passes.forward_mode.push_forward), lent by graphc.differentiate.
sweeps: dict[str, Callable[..., dict[int, Any]]] = {}


def use_sweeps(backpropagate: Callable[..., dict[int, Any]], push_forward: Callable[..., dict[int, Any]]) -> None:
    """Lend the control nodes' derivative rules (loops', conds') the differentiation sweeps."""
    sweeps.update(backpropagate=backpropagate, push_forward=push_forward)


def like(x: Node) -> Node:
    """A new placeholder of `x`'s type (a per-step value of a derivative's body)."""
    return Node(PLACEHOLDER, (), {"shape": x.shape, "dtype": x.dtype}, x.shape, x.dtype, x.location, None)


def _parts(n: Node) -> tuple[Body, Sequence[Node], Sequence[Node], Sequence[Node], Sequence[Node], Sequence[Node], Sequence[Node]]:
    body: Body = n.attrs["body"]
    nc, nx = body.carries, body.xs
    phs = body.graph.inputs
    return body, phs[:nc], phs[nc:nc + nx], phs[nc + nx:], n.inputs[:nc], n.inputs[nc:nc + nx], n.inputs[nc + nx:]


def _loop_vjp(parts: dict[int, Any], out: Node, *inputs: Node, active: list[bool], body: Body) -> list[Any]:
    body, c_in, x_in, k_in, init, xs, captured = _parts(out)
    cts: list[Any] = [parts.get(k) for k in range(body.outputs)]
    g, nc = body.graph, body.carries
    floats = [i for i in range(nc) if is_float(c_in[i].dtype)]
    given = [k for k in range(nc, body.outputs) if cts[k] is not None]
    ct_next = [like(c_in[i]) for i in floats]  # the cotangent of the carry a step leaves
    ct_y = [like(g.outputs[k]) for k in given]
    want_x = [j for j, x in enumerate(x_in) if active[nc + j] and is_float(x.dtype)]
    want_k = [m for m, k in enumerate(k_in) if active[nc + len(x_in) + m] and is_float(k.dtype)]
    ct = sweeps["backpropagate"]([g.outputs[i] for i in floats] + [g.outputs[k] for k in given], ct_next + ct_y,
                                  [c_in[i] for i in floats] + [x_in[j] for j in want_x] + [k_in[m] for m in want_k])
    totals = [like(k_in[m]) for m in want_k]  # the captured values' cotangents, summed over the steps

    def of(x: Node) -> Node:
        return ct[id(x)] if id(x) in ct else full_like(x, 0)

    new_totals = [t + ct[id(k_in[m])] if id(k_in[m]) in ct else t for t, m in zip(totals, want_k)]
    carry_out, ys = [of(c_in[i]) for i in floats] + new_totals, [of(x_in[j]) for j in want_x]
    # What the backward step reads of the forward step's values (residuals) is stacked by the
    # forward loop itself (a copy of it, which the CSE pass merges with it), as are the carries
    # entering each step; the backward body then recomputes nothing of the forward one.
    residuals = residuals_of([*carry_out, *ys], g)
    saved = body.with_graph(Graph(g.inputs, (*g.outputs, *c_in, *residuals)))
    stacks = outputs_of(apply(LOOP, out.inputs, body=saved))[body.outputs:]
    at_step = [like(r) for r in residuals]
    results = make_loop(
        init=[cts[i] if cts[i] is not None else full_like(init[i], 0) for i in floats]
        + [full_like(k_in[m], 0) for m in want_k],
        xs=[*stacks, *xs, *(cts[k] for k in given)],
        carry_in=ct_next + totals, x_in=[*c_in, *at_step, *x_in, *ct_y], carry_out=carry_out, ys=ys,
        length=body.length, reverse=not body.reverse, outside=dict(zip(map(id, k_in), captured)),
        replace=dict(zip(map(id, residuals), at_step)))
    grads: list[Any] = [None] * len(inputs)
    for i, r in zip(floats, results):
        grads[i] = r
    for m, r in zip(want_k, results[len(floats):len(floats) + len(want_k)]):
        grads[nc + len(x_in) + m] = r
    for j, r in zip(want_x, results[len(floats) + len(want_k):]):
        grads[nc + j] = r
    return grads


def residuals_of(outputs: Sequence[Node], forward: Graph) -> list[Node]:
    """What a derivative computing `outputs` reads of the values of graph `forward` (its nodes
    that compute, and the results of loops and conds the derivative made of forward values
    alone: the copy of a loop or cond inside `forward` that a derivative builds to also return
    what it reads, which then runs with the forward values and merges with its original)."""
    inside = {id(m) for m in forward.nodes}

    def copied(x: Node) -> bool:
        return x.op.item and all(id(i) in inside or i.op.leaf == "literal" for i in x.inputs[0].inputs)

    found: dict[int, Node] = {}
    seen: set[int] = set()
    stack = list(reversed(outputs))
    while stack:
        m = stack.pop()
        if id(m) in seen or id(m) in inside:
            continue
        seen.add(id(m))
        if copied(m):
            found[id(m)] = m
            continue
        for x in m.inputs:
            if id(x) not in inside:
                stack.append(x)
            elif x.op.leaf is None and not x.op.tuple_value:
                found.setdefault(id(x), x)
    return list(found.values())


def _loop_jvp(tangents: list[Any], out: Node, *inputs: Node, body: Body) -> list[Any]:
    body, c_in, x_in, k_in, init, xs, captured = _parts(out)
    g, nc, nx = body.graph, body.carries, body.xs
    floats = [i for i in range(nc) if is_float(c_in[i].dtype)]
    with_x = [j for j in range(nx) if tangents[nc + j] is not None and is_float(x_in[j].dtype)]
    with_k = [m for m in range(len(k_in)) if tangents[nc + nx + m] is not None and is_float(k_in[m].dtype)]
    t_c, t_x, t_k = [like(c_in[i]) for i in floats], [like(x_in[j]) for j in with_x], [like(k_in[m]) for m in with_k]
    tan = sweeps["push_forward"](g.nodes, [c_in[i] for i in floats] + [x_in[j] for j in with_x] + [k_in[m] for m in with_k],
                                  t_c + t_x + t_k)
    float_ys = [k for k in range(nc, body.outputs) if is_float(g.outputs[k].dtype)]

    def of(y: Node) -> Node:
        return tan[id(y)] if id(y) in tan else full_like(y, 0)

    outside = dict(zip(map(id, k_in), captured))
    outside.update({id(t): tangents[nc + nx + m] for t, m in zip(t_k, with_k)})
    results = make_loop(
        init=[*init, *(tangents[i] if tangents[i] is not None else full_like(init[i], 0) for i in floats)],
        xs=[*xs, *(tangents[nc + j] for j in with_x)],
        carry_in=[*c_in, *t_c], x_in=[*x_in, *t_x],
        carry_out=[*g.outputs[:nc], *(of(g.outputs[i]) for i in floats)],
        ys=[*g.outputs[nc:], *(of(g.outputs[k]) for k in float_ys)],
        length=body.length, reverse=body.reverse, outside=outside)
    tangent_of: list[Any] = [None] * body.outputs
    for i, r in zip(floats, results[nc:nc + len(floats)]):
        tangent_of[i] = r
    for k, r in zip(float_ys, results[nc + len(floats) + body.outputs - nc:]):
        tangent_of[k] = r
    return tangent_of


LOOP = register(OpDef(
    "loop", "control", None, _infer_loop, lambda *arrays, body, evaluate=evaluate_body: run_loop(arrays, body, evaluate), vjp=(_loop_vjp,), jvp=_loop_jvp, tuple_value=True,
    doc="a body graph run once per step (`body`: a Body): the final carries and the stacked ys"))
LOOP_OUTPUT = register(OpDef(
    "loop_output", "control", 1, infer_item, lambda t, index: t[index], vjp=(lambda *a, **k: None,),
    jvp=(lambda *a, **k: None,), item=True, doc="element `index` of a loop's results"))


def outputs_of(loop: Node) -> list[Node]:
    """A `loop_output` node per element of `loop`'s results."""
    return [apply(LOOP_OUTPUT, (loop,), index=k) for k in range(loop.attrs["body"].outputs)]


def make_loop(init: Sequence[Node], xs: Sequence[Node], carry_in: Sequence[Node], x_in: Sequence[Node],
              carry_out: Sequence[Node], ys: Sequence[Node], length: int, reverse: bool = False,
              outside: dict[int, Node] | None = None, replace: dict[int, Node] | None = None) -> list[Node]:
    """The final carries and stacked ys of a loop whose body, traced on placeholders `carry_in`
    (one per initial carry in `init`) and `x_in` (one per slice of `xs`), computed `carry_out`
    and `ys`. What the body reads without depending on those placeholders is hoisted out and
    captured (literals stay in), read from `outside[id(x)]` where given (a placeholder of an
    enclosing body's, say) and else from itself. The body reads `replace[id(x)]` (one of
    `x_in`) wherever the traced nodes read x."""
    replace = replace or {}
    step = {id(p) for p in (*carry_in, *x_in)} | set(replace)
    new: dict[int, Node] = {id(p): p for p in (*carry_in, *x_in)}
    new.update(replace)
    held: dict[int, Node] = {}  # id of an outside value -> the placeholder the body reads it through
    reads: list[Node] = []
    outside = outside or {}

    hoisted: dict[int, Node] = {}

    def hoist(x: Node) -> Node:
        """`x` computed outside the loop: reading `outside` in place of what it maps."""
        for m in topological_order([x]):
            if id(m) in hoisted:
                continue
            if id(m) in outside:
                hoisted[id(m)] = outside[id(m)]
                continue
            inputs = tuple(hoisted[id(i)] for i in m.inputs)
            same = all(a is b for a, b in zip(inputs, m.inputs))
            hoisted[id(m)] = m if same else Node(m.op, inputs, m.attrs, m.shape, m.dtype, m.location, m.label, m.grad_of)
        return hoisted[id(x)]

    def inside(x: Node) -> Node:
        if id(x) in new:
            return new[id(x)]
        if x.op.leaf == "literal":
            return x
        if id(x) not in held:
            held[id(x)] = Node(PLACEHOLDER, (), {"shape": x.shape, "dtype": x.dtype}, x.shape, x.dtype, x.location, x.label)
            reads.append(hoist(x))
        return held[id(x)]

    outputs = [*carry_out, *ys]
    needed: set[int] = set()  # what the outputs read, short of the nodes replaced
    stack = [o for o in outputs]
    while stack:
        n = stack.pop()
        if id(n) not in needed:
            needed.add(id(n))
            if id(n) not in replace:
                stack.extend(n.inputs)
    for n in topological_order(outputs):
        if id(n) not in needed or id(n) in step or not any(id(x) in step for x in n.inputs):
            continue
        step.add(id(n))
        inputs = tuple(inside(x) for x in n.inputs)
        same = all(a is b for a, b in zip(inputs, n.inputs))
        new[id(n)] = n if same else Node(n.op, inputs, n.attrs, n.shape, n.dtype, n.location, n.label, n.grad_of)
    body_outputs = [inside(o) for o in outputs]
    graph = Graph([*carry_in, *x_in, *held.values()], body_outputs)
    body = Body(graph, len(carry_in), len(x_in), int(length), bool(reverse))
    return outputs_of(apply(LOOP, (*init, *xs, *reads), body=body))


__all__: list[str] = []
