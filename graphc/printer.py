"""Deterministic SSA text for graphs: one node a line, types inline, the user's line as a comment.

    graph (x:f32[32,64], y:i64[32]) {
      a:f32[32,128] = matmul x W0          # model.py:14
      ...
      return (loss,)
    }

Names are the user's where given, else a, b, c, ... in topological order, so the text depends
only on the graph's structure. Scalar constants are printed inline as literals. Fusion groups
are printed as indented blocks (`fused loop over [32,128] { ... }`), in the order they run, and
so is a loop's body, under its loop (`body (carry h; x x_t; reads W) { ... }`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .builder import CONSTANT
from .dtypes import short_name
from .ir import Graph, Group, Node, schedule, use_formatter
from .ops.leaves import FULL, PLACEHOLDER, VARIABLE
from .ops.loop import Body

COMMENT_COLUMN = 44


def _auto_names() -> Iterator[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for width in itertools.count(1):
        for combo in itertools.product(letters, repeat=width):
            yield "".join(combo)


def _is_literal(n: Node) -> bool:
    return n.op is CONSTANT and n.shape == ()


def _literal(n: Node) -> str:
    return str(n.attrs["value"][()])


def node_names(graph: Graph) -> dict[int, str]:
    """A unique printable name for every node (literals excluded), keyed by `id`."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for n in graph.nodes:
        if n.label is not None:
            base = re.sub(r"\W", "_", n.label) or "t"
            name, k = base, 1
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            names[id(n)] = name
            taken.add(name)
    auto = _auto_names()
    for n in graph.nodes:
        if id(n) in names or _is_literal(n):
            continue
        name = next(auto)
        while name in taken:
            name = next(auto)
        names[id(n)] = name
        taken.add(name)
    return names


def _attr(value: Any) -> str:
    if isinstance(value, np.dtype):
        return short_name(value)
    if isinstance(value, tuple):
        return "(" + ",".join(_attr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=",").replace("\n", "")
        return f"<{short_name(value.dtype)}[{','.join(map(str, value.shape))}]>"
    return str(value)


def _attrs(n: Node) -> str:
    if n.op.tuple_value:  # a loop: its step count here, its body in a block of its own (a cond: its branches)
        body = n.attrs["body"]
        return f"[steps={body.length}{', reversed' if body.reverse else ''}]" if isinstance(body, Body) else ""
    shown = {k: v for k, v in n.attrs.items() if n.op not in (PLACEHOLDER, VARIABLE, FULL) or k == "value"}
    if n.op is CONSTANT:
        return " " + _attr(n.attrs["value"])
    if not shown:
        return ""
    return "[" + ", ".join(f"{k}={_attr(v)}" for k, v in sorted(shown.items())) + "]"


def format_graph(
    graph: Graph, returns: Sequence[Node] | None = None, updates: Sequence[tuple[Node, Node]] = (),
    names: dict[int, str] | None = None,
) -> str:
    """The SSA text of `graph`; `returns` and `updates` default to all outputs and none, `names`
    to `node_names(graph)`."""
    names = node_names(graph) if names is None else names
    by_id = {n.id: n for n in graph.nodes}

    def ref(n: Node) -> str:
        return _literal(n) if _is_literal(n) else names[id(n)]

    header = ", ".join(f"{names.get(id(p), p.name)}:{p.type}" for p in graph.inputs)
    lines = [f"graph ({header}) {{"]

    def line(n: Node, indent: str) -> str:
        args = "".join(" " + ref(x) for x in n.inputs)
        code = f"{indent}{names[id(n)]}:{n.type} = {n.op.name}{_attrs(n)}{args}"
        note = str(n.location)
        if n.grad_of is not None:
            forward = by_id.get(n.grad_of)
            # the forward node by its name here, or (gone from this graph: in a loop's body, or
            # simplified away) just that it is a derivative, made for the line below
            note = f"grad of {names[id(forward)]} · {note}" if forward is not None else f"derivative · {note}"
        return f"{code.ljust(COMMENT_COLUMN)}  # {note}"

    for unit in schedule(graph) if graph.groups else graph.nodes:
        if isinstance(unit, Group):
            domain = ",".join(str(d) for d in unit.domain)
            lines.append(f"  fused {unit.kind} over [{domain}] {{")
            lines += [line(m, "    ") for m in unit.members]
            lines.append("  }")
        elif unit.op.leaf != "fed" and not _is_literal(unit):
            lines.append(line(unit, "  "))
            if unit.op.tuple_value:
                lines += _body_lines(unit.attrs["body"])
    shown = graph.outputs if returns is None else returns
    lines.append("  return (" + ", ".join(ref(o) for o in shown) + ("," if len(shown) == 1 else "") + ")")
    for var, value in updates:
        lines.append(f"  update {names.get(id(var), var.name)} <- {ref(value)}")
    lines.append("}")
    return "\n".join(lines)


def _body_lines(body: Any) -> list[str]:
    """A loop's body as an indented block: its placeholders (carries; then a step's xs; then
    what it reads from outside) and what it returns (new carries; then a step's ys). A cond's
    branches as two blocks, `if` and `else`, over the placeholders they share."""
    if not isinstance(body, Body):
        phs = body.true.inputs  # named first, once for both blocks
        shared = node_names(Graph(phs, [*phs, *body.true.outputs, *body.false.outputs]))
        lines = []
        for head, graph in zip(("if", "else"), body.graphs):
            text = format_graph(graph, names=shared).split("\n")
            reads = text[0][len("graph ("):-len(") {")]
            lines += [f"    {head} ({'reads ' + reads if reads else 'reads nothing'}) {{", *("    " + line for line in text[1:-1]),
                      "    }"]
        return lines
    text = format_graph(body.graph).split("\n")
    nc, nx = body.carries, body.xs
    names = [part.split(":")[0] for part in text[0][len("graph ("):-len(") {")].split(", ")] if body.graph.inputs else []
    kinds = [("carry", names[:nc]), ("x", names[nc:nc + nx]), ("reads", names[nc + nx:])]
    head = "; ".join(f"{kind} {', '.join(group)}" for kind, group in kinds if group)
    return [f"    body ({head}) {{", *("    " + line for line in text[1:-1]), "    }"]


use_formatter(format_graph)
