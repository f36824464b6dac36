"""A layered layout of a graph, for pictures drawn without Graphviz.

Layers by longest path from the leaves (every edge points down); within a layer, nodes ordered
by the barycentre of their neighbours in the layer above, then below, a few sweeps (the
Sugiyama heuristic), members of one fusion group kept side by side. Literals are not laid out:
pictures show them inline, as the SSA text does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node

BOX_HEIGHT, LAYER_GAP, BOX_GAP, CHAR_WIDTH = 34, 30, 16, 6.6
SWEEPS = 4


@dataclass(frozen=True)
class Box:
    """Where one node is drawn: its centre, width, and the lines of its label."""

    node: Node
    x: float
    y: float
    width: float
    lines: tuple[str, str]


def is_literal(n: Node) -> bool:
    return n.op.leaf == "literal"


def layered_layout(graph: Graph, labels: dict[int, tuple[str, str]]) -> tuple[list[Box], float, float]:
    """Boxes for every non-literal node of `graph` (label lines from `labels`), and the picture's
    width and height."""
    nodes = [n for n in graph.nodes if not is_literal(n)]
    shown = {id(n) for n in nodes}
    layer: dict[int, int] = {}
    for n in nodes:  # topological order: inputs first
        layer[id(n)] = 1 + max((layer[id(x)] for x in n.inputs if id(x) in shown), default=-1)
    layers: list[list[Node]] = [[] for _ in range(1 + max(layer.values(), default=0))]
    for n in nodes:
        layers[layer[id(n)]].append(n)
    users: dict[int, list[Node]] = {id(n): [] for n in nodes}
    for n in nodes:
        for x in n.inputs:
            if id(x) in shown:
                users[id(x)].append(n)
    group_of = {id(m): k for k, g in enumerate(graph.groups) for m in g.members}
    position = {id(n): float(i) for row in layers for i, n in enumerate(row)}

    def reorder(row: list[Node], neighbours: dict[int, list[Node]]) -> list[Node]:
        def centre(n: Node) -> float:
            around = [position[id(m)] for m in neighbours[id(n)] if id(m) in position]
            return sum(around) / len(around) if around else position[id(n)]

        centres = {id(n): centre(n) for n in row}
        grouped: dict[int, list[float]] = {}
        for n in row:
            if id(n) in group_of:
                grouped.setdefault(group_of[id(n)], []).append(centres[id(n)])
        key = {id(n): (sum(grouped[group_of[id(n)]]) / len(grouped[group_of[id(n)]]) if id(n) in group_of
                       else centres[id(n)], centres[id(n)]) for n in row}
        ordered = sorted(row, key=lambda n: key[id(n)])
        for i, n in enumerate(ordered):
            position[id(n)] = float(i)
        return ordered

    inputs_of = {id(n): [x for x in n.inputs if id(x) in shown] for n in nodes}
    for _ in range(SWEEPS):
        layers = [reorder(row, inputs_of) for row in layers]
        layers = [reorder(row, users) for row in reversed(layers)][::-1]

    widths = {id(n): max(len(line) for line in labels[id(n)]) * CHAR_WIDTH + 16 for n in nodes}
    row_widths = [sum(widths[id(n)] for n in row) + BOX_GAP * (len(row) - 1) for row in layers]
    total = max(row_widths, default=0) + 40
    boxes = []
    for k, row in enumerate(layers):
        left = (total - row_widths[k]) / 2
        y = 30 + k * (BOX_HEIGHT + LAYER_GAP) + BOX_HEIGHT / 2
        for node in row:
            w = widths[id(node)]
            boxes.append(Box(node, left + w / 2, y, w, labels[id(node)]))
            left += w + BOX_GAP
    height = 30 + len(layers) * (BOX_HEIGHT + LAYER_GAP) + 10
    return boxes, total, height
