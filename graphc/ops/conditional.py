"""The conditional: one node running one of two branch graphs, chosen by a scalar bool at run time.

A `cond` node's inputs are the predicate, then the values its branches read from outside
(captured), in the order of the branches' placeholders; its value is a tuple of tensors, the
taken branch's outputs, each read by a `cond_output` node. Only the branch taken runs, so a
branch may do what would fail on the other's inputs (index a table only when the index is in
range).

`make_cond` builds one from two traced branches: each branch holds every node created while it
was traced (nothing is hoisted out: what a branch computes runs only when it is taken), and
reads what existed before through placeholders the two share. Derivatives are conds too: the
VJP a cond whose branches differentiate their forward values, reading what they need of them
(residuals) from the forward cond, which returns them beside its results (zeros for the branch
not taken); the JVP one whose branches push tangents through theirs. Both are written with the differentiation sweeps
(lent to `graphc.ops.loop.sweeps`), so they can be differentiated again, to any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..builder import apply
from ..dtypes import is_float, type_string
from ..errors import ShapeError
from ..ir import Graph, Node, topological_order
from ..opdef import OpDef, register
from .leaves import PLACEHOLDER, full_like
from .loop import evaluate_body, infer_item, like, residuals_of, sweeps


@dataclass(frozen=True, eq=False)
class Branches:
    """A cond's two branches: `true` and `false` map the same placeholders (the values the cond
    reads, after its predicate) to outputs of the same types, one per element of its value."""

    true: Graph
    false: Graph

    @property
    def graphs(self) -> tuple[Graph, ...]:
        return (self.true, self.false)

    def with_graphs(self, true: Graph, false: Graph) -> Branches:
        return Branches(true, false)

    @property
    def outputs(self) -> int:
        return len(self.true.outputs)

    def output_type(self, k: int) -> tuple[tuple[int, ...], np.dtype]:
        out = self.true.outputs[k]
        return out.shape, out.dtype


def _infer_cond(pred: Any, *inputs: Any, body: Branches) -> tuple[tuple[int, ...], np.dtype]:
    if not isinstance(body, Branches):
        raise ShapeError(f"a cond's body must be its Branches, got {type(body).__name__}")
    if tuple(pred.shape) != () or np.dtype(pred.dtype) != np.bool_:
        raise ShapeError(f"a cond's predicate must be a scalar bool, got {type_string(pred.shape, pred.dtype)}")
    phs = body.true.inputs
    if len(inputs) != len(phs):
        raise ShapeError(f"a cond whose branches read {len(phs)} values got {len(inputs)}")
    for k, (x, p) in enumerate(zip(inputs, phs)):
        if tuple(x.shape) != p.shape or np.dtype(x.dtype) != p.dtype:
            raise ShapeError(f"input {k + 1} of a cond must be {p.type}, got {type_string(x.shape, x.dtype)}")
    return (0,), np.dtype(np.uint8)


def run_cond(pred: np.ndarray, arrays: Sequence[np.ndarray], body: Branches, evaluate: Any = evaluate_body) -> tuple[Any, ...]:
    """The taken branch's outputs given the cond's inputs' values (`evaluate` runs a graph: the
    reference executor passes its own, checking numerics)."""
    return tuple(evaluate(body.true if bool(pred) else body.false, list(arrays)))


def _cond_vjp(parts: dict[int, Any], out: Node, pred: Node, *inputs: Node, active: list[bool], body: Branches) -> list[Any]:
    phs = body.true.inputs
    given = [k for k in range(body.outputs) if parts.get(k) is not None]
    want = [i for i, p in enumerate(phs) if active[1 + i] and is_float(p.dtype)]
    grads: list[Any] = [None] * (1 + len(inputs))
    if not given or not want:
        return grads
    ct_in = [like(body.true.outputs[k]) for k in given]
    found, residuals = [], []
    for graph in body.graphs:
        ct = sweeps["backpropagate"]([graph.outputs[k] for k in given], ct_in, [phs[i] for i in want])
        found.append([ct[id(phs[i])] if id(phs[i]) in ct else full_like(phs[i], 0) for i in want])
        residuals.append(residuals_of(found[-1], graph))
    # What a branch's derivative reads of its forward values (residuals) is kept by the forward
    # cond itself (a copy of it returning them too, which the CSE pass merges with it; the branch
    # not taken returns zeros in their place), so the derivative recomputes nothing.
    true_res, false_res = residuals
    zeros = [[full_like(r, 0) for r in rs] for rs in (false_res, true_res)]
    saved = Branches(Graph(phs, [*body.true.outputs, *true_res, *zeros[0]]),
                     Graph(phs, [*body.false.outputs, *zeros[1], *false_res]))
    kept = outputs_of(apply(COND, out.inputs, body=saved))[body.outputs:]
    at = [[like(r) for r in rs] for rs in residuals]  # each branch reads its own (a node both hold, twice)
    branches = [Graph([*phs, *ct_in, *at[0], *at[1]], _reading(outs, dict(zip(map(id, rs), ats))))
                for outs, rs, ats in zip(found, residuals, at)]
    results = outputs_of(apply(COND, (pred, *inputs, *(parts[k] for k in given), *kept), body=Branches(*branches)))
    for i, r in zip(want, results):
        grads[1 + i] = r
    return grads


def _reading(outputs: list[Node], replace: dict[int, Node]) -> list[Node]:
    """`outputs` recomputed with the node `replace[id(x)]` read wherever they read x."""
    new: dict[int, Node] = dict(replace)
    for m in topological_order(outputs):
        if id(m) not in new:
            inputs = tuple(new.get(id(x), x) for x in m.inputs)
            same = all(a is b for a, b in zip(inputs, m.inputs))
            new[id(m)] = m if same else Node(m.op, inputs, m.attrs, m.shape, m.dtype, m.location, m.label, m.grad_of)
    return [new[id(o)] for o in outputs]


def _cond_jvp(tangents: list[Any], out: Node, pred: Node, *inputs: Node, body: Branches) -> list[Any]:
    phs = body.true.inputs
    with_t = [i for i, p in enumerate(phs) if tangents[1 + i] is not None and is_float(p.dtype)]
    floats = [k for k in range(body.outputs) if is_float(body.true.outputs[k].dtype)]
    tangent_of: list[Any] = [None] * body.outputs
    if not with_t or not floats:
        return tangent_of
    t_in = [like(phs[i]) for i in with_t]
    branches = []
    for graph in body.graphs:
        tan = sweeps["push_forward"](graph.nodes, [phs[i] for i in with_t], t_in)
        outs = [graph.outputs[k] for k in floats]
        branches.append(Graph([*phs, *t_in], [tan[id(o)] if id(o) in tan else full_like(o, 0) for o in outs]))
    results = outputs_of(apply(COND, (pred, *inputs, *(tangents[1 + i] for i in with_t)), body=Branches(*branches)))
    for k, r in zip(floats, results):
        tangent_of[k] = r
    return tangent_of


COND = register(OpDef(
    "cond", "control", None, _infer_cond,
    lambda pred, *arrays, body, evaluate=evaluate_body: run_cond(pred, arrays, body, evaluate),
    vjp=(_cond_vjp,), jvp=_cond_jvp, tuple_value=True,
    doc="one of two branch graphs (`body`: Branches), the true one where the predicate holds: its outputs"))
COND_OUTPUT = register(OpDef(
    "cond_output", "control", 1, infer_item, lambda t, index: t[index], vjp=(lambda *a, **k: None,),
    jvp=(lambda *a, **k: None,), item=True, doc="element `index` of a cond's results"))


def outputs_of(cond: Node) -> list[Node]:
    """A `cond_output` node per element of `cond`'s results."""
    return [apply(COND_OUTPUT, (cond,), index=k) for k in range(cond.attrs["body"].outputs)]


def make_cond(pred: Node, true_out: Sequence[Node], false_out: Sequence[Node], first: int) -> list[Node]:
    """The results of a cond on `pred` whose branches, traced after node counter `first`, computed
    `true_out` and `false_out` (the same types). Each branch keeps every node created since
    `first` that its outputs read; a node from before, a placeholder or a variable is read
    through a placeholder of the branches' (literals stay in)."""
    held: dict[int, Node] = {}  # id of an outside value -> the placeholder the branches read it through
    reads: list[Node] = []

    def branch(outputs: Sequence[Node]) -> list[Node]:
        inside: list[Node] = []
        seen: set[int] = set()
        stack = list(outputs)
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if n.id > first and n.op.leaf not in ("fed", "state"):  # (a variable made while tracing is the program's)
                inside.append(n)
                stack.extend(n.inputs)
            elif n.op.leaf != "literal" and id(n) not in held:
                held[id(n)] = Node(PLACEHOLDER, (), {"shape": n.shape, "dtype": n.dtype}, n.shape, n.dtype, n.location,
                                   n.label)
                reads.append(n)
        new: dict[int, Node] = dict(held)
        for n in sorted(inside, key=lambda m: m.id):  # created after their inputs
            inputs = tuple(new.get(id(x), x) for x in n.inputs)
            same = all(a is b for a, b in zip(inputs, n.inputs))
            new[id(n)] = n if same else Node(n.op, inputs, n.attrs, n.shape, n.dtype, n.location, n.label, n.grad_of)
        return [new.get(id(o), o) for o in outputs]

    true_graph, false_graph = branch(true_out), branch(false_out)
    phs = list(held.values())
    body = Branches(Graph(phs, true_graph), Graph(phs, false_graph))
    return outputs_of(apply(COND, (pred, *reads), body=body))


__all__: list[str] = []
