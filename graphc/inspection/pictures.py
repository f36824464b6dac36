"""Pictures of what the compiler did, as SVG text graphc draws itself (no Graphviz needed), and
the same graph as Graphviz DOT text for those who have it.

- `graph_svg`: nodes in layers (`graphc.layout`), forward and backward nodes in two colours,
  placeholders and variables as distinct shapes, each fusion group's members outlined in its
  colour and listed under the title, names that survive passes, what a pass added haloed;
- `memory_svg`: the memory plan, each buffer a rectangle (arena offset up, program step across),
  the lower bound marked;
- `bars_svg`: labelled horizontal bars (gradient norms, dead-ReLU fractions);
- `loop_svg`: a loop as a box holding its body's graph (what the body reads each step, what it
  returns), loops nested in it drawn inside it in turn;
- `graph_dot`: DOT text, fused groups as clusters, shapes on the edges, each loop a cluster
  holding its body.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

import numpy as np

from ..ir import Graph, Node
from ..ops.leaves import FULL, PLACEHOLDER, VARIABLE
from ..ops.loop import Body
from .layout import BOX_HEIGHT, is_literal, layered_layout

FORWARD, BACKWARD, INPUT, STATE, GROUP = "#dbe9f6", "#fbe3c8", "#d9f0d3", "#e6dcf2", "#9aa5b1"
GROUP_COLOURS = ("#2f6fb0", "#b0532f", "#2f8f5a", "#8a3fb0", "#b08a2f", "#2f9aa6", "#b02f6f", "#5a6b2f")


def _literal_text(n: Node) -> str:
    if n.op is FULL:
        return repr(float(n.attrs["value"]) if n.dtype.kind == "f" else n.attrs["value"])
    return str(n.attrs["value"][()]) if n.shape == () else f"const {n.type}"


def stable_names(graph: Graph) -> dict[int, str]:
    """A name for every node (literals excluded) that the same value keeps from pass to pass: the
    user's label, else its op and source line (`tanh@12`; `∂mul@14` for what differentiating a
    node there made), numbered `#2`, `#3`... among equal names in the graph's order. (The SSA
    letters of the printed program are renumbered by every pass.)"""
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    taken: set[str] = set()
    for n in graph.nodes:
        if is_literal(n):
            continue
        base = n.label if n.label is not None else \
            f"{'∂' if n.grad_of is not None else ''}{n.op.name}@{n.location.line}"
        k = seen.get(base, 0) + 1
        name = base if k == 1 else f"{base}#{k}"
        while name in taken:  # a label may read like a numbered name ("w#2")
            k += 1
            name = f"{base}#{k}"
        seen[base] = k
        names[id(n)] = name
        taken.add(name)
    return names


def _type_text(n: Node) -> str:
    """A node's type, or for a loop its step count (its value is the tuple of its results)."""
    if n.op.tuple_value:
        body = n.attrs["body"]
        if not isinstance(body, Body):
            return "if / else"
        return f"×{body.length} steps" + (" (reversed)" if body.reverse else "")
    return n.type


def _labels(graph: Graph) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    names = stable_names(graph)
    return names, {id(n): (names[id(n)], _type_text(n)) for n in graph.nodes if not is_literal(n)}


def _fill(n: Node) -> str:
    if n.op.leaf == "fed":
        return INPUT
    if n.op.leaf == "state":
        return STATE
    return BACKWARD if n.grad_of is not None else FORWARD


def graph_svg(graph: Graph, title: str = "", before: Graph | None = None, roles: dict[int, str] | None = None,
              tags: dict[int, str] | None = None) -> str:
    """The graph as an SVG picture (a standalone <svg> element, class "zoomable"); with `before`
    (the graph the pass was given), the nodes it added are drawn in green and the caption says
    what it added and removed, by the names nodes keep from pass to pass (`stable_names`).
    `roles` names what placeholders stand for (a loop body's carries, xs, values read), `tags`
    are written under nodes (what a body returns)."""
    names, labels = _labels(graph)
    for key, role in (roles or {}).items():
        if key in labels:
            labels[key] = (role, labels[key][1])
    boxes, width, height = layered_layout(graph, labels)
    at = {id(b.node): b for b in boxes}
    added: set[str] = set()
    caption = ""
    if before is not None:
        old = set(stable_names(before).values())
        new = set(names.values())
        added, removed = new - old, sorted(old - new)
        shown = ", ".join(removed[:12]) + (f" and {len(removed) - 12} more" if len(removed) > 12 else "")
        caption = (f"{len(added)} nodes added (green), {len(removed)} removed" + (f": {shown}" if removed else "")
                   if added or removed else "no node added or removed")
    parts = []
    group_of = {id(m): k for k, g in enumerate(graph.groups) for m in g.members}
    legend = [f"group {k}: fused {g.kind} over [{','.join(map(str, g.domain))}], {len(g.members)} nodes"
              for k, g in enumerate(graph.groups)]
    for b in boxes:  # edges
        for x in b.node.inputs:
            a = at.get(id(x))
            if a is None:
                continue
            y0, y1 = a.y + BOX_HEIGHT / 2, b.y - BOX_HEIGHT / 2
            mid = (y0 + y1) / 2
            parts.append(f'<path d="M{a.x:.1f},{y0:.1f} C{a.x:.1f},{mid:.1f} {b.x:.1f},{mid:.1f} {b.x:.1f},{y1:.1f}" '
                         f'fill="none" stroke="#7b8794" stroke-width="1" marker-end="url(#arrow)"/>')
    for b in boxes:  # nodes
        n = b.node
        x0, y0 = b.x - b.width / 2, b.y - BOX_HEIGHT / 2
        rx = BOX_HEIGHT / 2 if n.op in (PLACEHOLDER, VARIABLE) else 4
        if n.op.tuple_value:  # a loop: drawn doubled, its body in a box of its own (`loop_svg`)
            stroke_extra = (f'<rect x="{x0 - 3:.1f}" y="{y0 - 3:.1f}" width="{b.width + 6:.1f}" height="{BOX_HEIGHT + 6}" '
                            f'rx="{rx + 3}" fill="none" stroke="#52606d"/>')
        else:
            stroke_extra = ""
        args = " ".join(_literal_text(x) if is_literal(x) else names.get(id(x), "?") for x in n.inputs)
        tip = escape(f"{b.lines[0]} = {n.op.name} {args} : {b.lines[1]} at {n.location}")
        k = group_of.get(id(n))
        if k is not None:  # a fused group: its members outlined in its colour, tagged with its number
            colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
            stroke = f'stroke="{colour}" stroke-width="2.5"'
            tip = escape(f"group {k} · ") + tip
        else:
            stroke = 'stroke="#52606d"'
        halo = (f'<rect x="{x0 - 4:.1f}" y="{y0 - 4:.1f}" width="{b.width + 8:.1f}" height="{BOX_HEIGHT + 8}" '
                f'rx="{rx + 4}" fill="#1f9d55" fill-opacity="0.35"/>') if b.lines[0] in added else ""
        tag = (f'<text x="{x0 + b.width:.1f}" y="{y0 - 2:.1f}" text-anchor="end" font-size="9" '
               f'fill="{GROUP_COLOURS[k % len(GROUP_COLOURS)]}">g{k}</text>') if k is not None else ""
        if tags and id(n) in tags:
            tag += (f'<text x="{b.x:.1f}" y="{y0 + BOX_HEIGHT + 10:.1f}" text-anchor="middle" font-size="9" '
                    f'font-weight="bold" fill="#1f2933">{escape(tags[id(n)])}</text>')
        parts.append(f'<g><title>{tip}</title>{halo}{stroke_extra}<rect x="{x0:.1f}" y="{y0:.1f}" width="{b.width:.1f}" '
                     f'height="{BOX_HEIGHT}" rx="{rx}" fill="{_fill(n)}" {stroke}/>{tag}'
                     f'<text x="{b.x:.1f}" y="{b.y - 3:.1f}" text-anchor="middle" font-size="11">{escape(b.lines[0])}</text>'
                     f'<text x="{b.x:.1f}" y="{b.y + 11:.1f}" text-anchor="middle" font-size="10" fill="#52606d">'
                     f'{escape(b.lines[1])}</text></g>')
    head = f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>' if title else ""
    body = "".join(parts)
    lines = [(caption, "#1f9d55")] if caption else []
    lines += [(text, GROUP_COLOURS[k % len(GROUP_COLOURS)]) for k, text in enumerate(legend)]
    if lines:  # lines below the title: the drawing moves down to make room
        head += "".join(f'<text x="10" y="{32 + 15 * i}" font-size="11" fill="{colour}">{escape(text)}</text>'
                        for i, (text, colour) in enumerate(lines))
        body = f'<g transform="translate(0,{15 * len(lines) + 4})">{body}</g>'
        height += 15 * len(lines) + 4
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="zoomable" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" preserveAspectRatio="xMidYMin meet" font-family="monospace">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker></defs>'
            f'{head}{body}</svg>')


def memory_svg(buffers: Sequence[tuple[str, int, int, int, int]], arena: int, bound: int, steps: int) -> str:
    """The memory plan: `buffers` as (name, offset, nbytes, first step, last step)."""
    width, height, left, top = 900, 360, 70, 20
    plot_w, plot_h = width - left - 20, height - top - 40
    scale_y = plot_h / max(arena, 1)
    scale_x = plot_w / max(steps + 1, 1)
    parts = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f8f9fa" stroke="#cbd2d9"/>']
    palette = ["#7cb5ec", "#90ed7d", "#f7a35c", "#8085e9", "#f15c80", "#e4d354", "#2b908f", "#f45b5b"]
    for k, (name, offset, nbytes, first, last) in enumerate(buffers):
        x, w = left + first * scale_x, max((last - first + 1) * scale_x, 1.5)
        y, h = top + plot_h - (offset + nbytes) * scale_y, max(nbytes * scale_y, 1.0)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{palette[k % len(palette)]}" '
                     f'fill-opacity="0.8" stroke="#3e4c59" stroke-width="0.5"><title>{escape(name)}: {nbytes} bytes at '
                     f'{offset}, steps {first}-{last}</title></rect>')
        if w > 6.5 * len(name) + 6 and h > 12:  # the buffer's name where it fits
            parts.append(f'<text x="{x + 3:.1f}" y="{y + min(h / 2 + 4, 13):.1f}" font-size="10" fill="#1f2933">'
                         f'{escape(name)}</text>')
    for i in range(5):  # axes: bytes up, steps across
        at_y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left - 4}" x2="{left}" y1="{at_y:.1f}" y2="{at_y:.1f}" stroke="#52606d"/>'
                     + (f'<text x="{left - 6}" y="{at_y + 3:.1f}" text-anchor="end" font-size="9">{arena * i // 4:,}'
                        '</text>' if 0 < i < 4 else ""))
        at_x = left + plot_w * i / 4
        parts.append(f'<line x1="{at_x:.1f}" x2="{at_x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#52606d"/>'
                     f'<text x="{at_x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="9">'
                     f'{round((steps + 1) * i / 4)}</text>')
    y_bound = top + plot_h - bound * scale_y
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y_bound:.1f}" y2="{y_bound:.1f}" stroke="#c81e1e" '
                 f'stroke-dasharray="6,4"/><text x="{left + plot_w - 4}" y="{y_bound - 4:.1f}" text-anchor="end" '
                 f'font-size="11" fill="#c81e1e">lower bound {bound:,} bytes</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="10">{arena:,} B</text>'
                 f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>'
                 f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" font-size="11">program step '
                 f'(one per loop nest or kernel) → ; arena offset ↑</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">{"".join(parts)}</svg>')


def bars_svg(rows: Sequence[tuple[str, float]], unit: str = "", top_value: float | None = None) -> str:
    """Horizontal bars, one per (label, value), scaled to the largest finite value (or
    `top_value`); an infinity is a full red bar, a NaN a red stub."""
    height, left, bar_w = 24 * len(rows) + 10, 260, 420
    finite = [v for _, v in rows if math.isfinite(v)]
    largest = top_value if top_value is not None else max(finite, default=1.0) or 1.0
    parts = []
    for k, (label, value) in enumerate(rows):
        y = 5 + 24 * k
        w = bar_w * (value / largest if largest else 0.0) if math.isfinite(value) else bar_w if value > 0 else 0.0
        fill = "#4c8bf5" if math.isfinite(value) else "#d64545"
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" font-size="11">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y}" width="{max(w, 1.0):.1f}" height="18" fill="{fill}"/>'
                     f'<text x="{left + max(w, 1.0) + 6:.1f}" y="{y + 14}" font-size="11">{value:.4g}{unit}</text>')
    width = left + bar_w + 90
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">{"".join(parts)}</svg>')


def curve_svg(values: Sequence[float], label: str = "loss") -> str:
    """A line through `values` (one per step; at most 1,000 points drawn, each the mean of the
    finite values of its stretch of steps), with the first and last step and the lowest and
    highest value marked; stretches holding a NaN or an infinity get a red tick at the top."""
    v = np.asarray(values, np.float64)
    chunks = np.array_split(np.arange(len(v)), max(min(len(v), 1000), 1))
    left, top, w, h = 70, 10, 640, 220
    finite = v[np.isfinite(v)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo or 1.0
    xs = left + w * np.arange(len(chunks)) / max(len(chunks) - 1, 1)
    points, ticks = [], []
    for x, chunk in zip(xs, chunks):
        part = v[chunk]
        good = part[np.isfinite(part)]
        if good.size:
            points.append(f"{x:.1f},{top + h * (hi - good.mean()) / span:.1f}")
        if good.size < part.size:
            ticks.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + 8}" stroke="#d64545" stroke-width="2"/>')
    bad = len(v) - finite.size
    note = f" ({bad} steps not finite: red)" if bad else ""
    marks = (f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{hi:.4g}</text>'
             f'<text x="{left - 6}" y="{top + h}" text-anchor="end" font-size="11">{lo:.4g}</text>'
             f'<text x="{left}" y="{top + h + 18}" font-size="11">step 1</text>'
             f'<text x="{left + w}" y="{top + h + 18}" text-anchor="end" font-size="11">step {len(v)}</text>'
             f'<text x="{left + w / 2}" y="{top + h + 18}" text-anchor="middle" font-size="11">{escape(label + note)}</text>')
    frame = f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#cbd2d9"/>'
    width, height = left + w + 20, top + h + 30
    line = f'<polyline points="{" ".join(points)}" fill="none" stroke="#4c8bf5" stroke-width="1.5"/>' if points else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">{frame}{line}{"".join(ticks)}{marks}</svg>')


def trade_svg(points: Sequence[tuple[int, int]], budget: int, chosen: int) -> str:
    """Memory against compute: one dot per program tried for a memory budget, (extra elements
    computed per step, arena bytes); the budget as a dashed line, the program chosen (index
    `chosen`) filled."""
    left, top, w, h = 90, 10, 600, 240
    most_x = max((x for x, _ in points), default=1) or 1
    most_y = max([y for _, y in points] + [budget]) or 1
    dots = []
    for k, (x, y) in enumerate(points):
        cx, cy = left + w * x / most_x, top + h - h * y / most_y
        fill = "#4c8bf5" if k == chosen else "none"
        dots.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{fill}" stroke="#4c8bf5" stroke-width="1.5">'
                    f'<title>{x:,} more elements computed per step, arena {y:,} bytes</title></circle>')
    yb = top + h - h * budget / most_y
    marks = (f'<line x1="{left}" x2="{left + w}" y1="{yb:.1f}" y2="{yb:.1f}" stroke="#c81e1e" stroke-dasharray="6,4"/>'
             f'<text x="{left + w - 4}" y="{yb - 4:.1f}" text-anchor="end" font-size="11" fill="#c81e1e">budget'
             f' {budget:,} bytes</text>'
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{most_y:,} B</text>'
             f'<text x="{left - 6}" y="{top + h}" text-anchor="end" font-size="11">0</text>'
             f'<text x="{left}" y="{top + h + 18}" font-size="11">0</text>'
             f'<text x="{left + w}" y="{top + h + 18}" text-anchor="end" font-size="11">{most_x:,}</text>'
             f'<text x="{left + w / 2}" y="{top + h + 18}" text-anchor="middle" font-size="11">more elements computed'
             ' per step (recomputation) → ; arena ↑</text>')
    frame = f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#cbd2d9"/>'
    width, height = left + w + 20, top + h + 30
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">{frame}{"".join(dots)}{marks}</svg>')


def loop_roles(loop: Node) -> dict[int, str]:
    """What each placeholder of `loop`'s body stands for: "carry", "x" (a step's slice) or
    "reads" (a value from outside, the same every step), by id; for a cond's branches, "reads"."""
    body = loop.attrs["body"]
    if not isinstance(body, Body):
        return {id(p): "reads" for p in body.true.inputs}
    nc, nx = body.carries, body.xs
    return {id(p): "carry" if k < nc else "x" if k < nc + nx else "reads" for k, p in enumerate(body.graph.inputs)}


def svg_size(svg: str) -> tuple[float, float]:
    """The width and height of a picture these functions drew (its outer <svg>'s attributes)."""
    head = svg.split(">", 1)[0]
    return float(head.split(' width="', 1)[1].split('"', 1)[0]), float(head.split(' height="', 1)[1].split('"', 1)[0])


def loop_svg(loop: Node, name: str, outer: dict[int, str] | None = None) -> str:
    """Loop `loop` (called `name` in the graph it is in) as a box holding its body's picture:
    the body's placeholders named by role (carry, a step's x, what it reads from outside), its
    outputs the new carries then the step's ys; loops inside it drawn below it, each in its box.
    A cond is a box holding its two branches' pictures, one above the other.
    `outer` names the node's operands (the graph's `stable_names`): each placeholder is shown with
    the operand it stands for."""
    body = loop.attrs["body"]
    roles = loop_roles(loop)
    is_loop = isinstance(body, Body)
    if outer is not None:
        for p, x in zip(body.graphs[0].inputs, loop.inputs if is_loop else loop.inputs[1:]):
            if id(x) in outer:
                roles[id(p)] = f"{roles[id(p)]} {outer[id(x)]}"
    tags: dict[int, str] = {}
    for g in body.graphs:
        for k, o in enumerate(g.outputs):
            what = (f"→ carry {k}" if k < body.carries else f"→ y {k - body.carries}") if is_loop else f"→ result {k}"
            tags[id(o)] = f"{tags[id(o)]}, {what[2:]}" if id(o) in tags else what
    if is_loop:
        counts = {role: sum(1 for r in loop_roles(loop).values() if r == role) for role in ("carry", "x", "reads")}
        head = (f"{name}: {body.length} steps{' (reversed)' if body.reverse else ''}; each reads"
                f" {_count(counts['carry'], 'carry')}, {_count(counts['x'], 'slice')} of xs,"
                f" {_count(counts['reads'], 'value')} from outside; returns {_count(body.carries, 'new carry')} and"
                f" {_count(body.outputs - body.carries, 'y')} (the scan's, and what its derivative reads)")
        titles = [""]
    else:
        predicate = outer.get(id(loop.inputs[0]), "its predicate") if outer is not None else "its predicate"
        head = (f"{name}: a cond, running one branch; each reads {_count(len(body.true.inputs), 'value')} from outside"
                f" and returns {_count(body.outputs, 'result')}")
        titles = [f"if {predicate} holds:", "else:"]
    parts = [f'<text x="8" y="18" font-size="12" font-weight="bold">{escape(head)}</text>']
    y, total_w = 26.0, 8.0 * len(head) + 16
    for title, g in zip(titles, body.graphs):
        if title:
            parts.append(f'<text x="8" y="{y + 12:.0f}" font-size="12">{escape(title)}</text>')
            y += 18
        inner = graph_svg(g, roles=roles, tags=tags)
        width, height = svg_size(inner)
        parts.append(f'<svg x="8" y="{y:.0f}" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
                     + inner.split(">", 1)[1])
        y += height + 8
        total_w = max(total_w, width + 16)
        inner_names = stable_names(g)
        for m in g.nodes:  # the loops and conds inside it, each in its box below it
            if m.op.tuple_value:
                picture = loop_svg(m, f"{name} › {inner_names[id(m)]}", inner_names)
                w, h = svg_size(picture)
                parts.append(f'<g transform="translate(24,{y:.0f})">{picture}</g>')
                y += h + 8
                total_w = max(total_w, w + 32)
    total_h = y + 4
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
            f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="monospace">'
            f'<rect x="1" y="1" width="{total_w - 2:.0f}" height="{total_h - 2:.0f}" rx="8" fill="#fbfcfd" '
            f'stroke="#52606d" stroke-width="2"/>{"".join(parts)}</svg>')


def _count(k: int, what: str) -> str:
    """`k` things, `what` made plural when k is not 1 ("1 carry", "2 carries", "3 values")."""
    return f"{k} {what}" if k == 1 else f"{k} {what[:-1] + 'ies' if what.endswith('y') and what != 'y' else what + 's'}"


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, each line break DOT's own `\\n`, other
    control characters (a NUL would end the string for Graphviz) as `\\x00`."""
    text = re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text.replace("\\", "\\\\"))
    lines = text.replace('"', '\\"').split("\n")
    return '"' + "\\n".join(lines) + '"'


def graph_dot(graph: Graph, name: str = "graphc") -> str:
    """Graphviz DOT text of `graph`: fused groups as clusters, forward and backward nodes in two
    colours, placeholders and variables as distinct shapes, shapes on the edges."""
    names, labels = _labels(graph)
    lines = [f"digraph {_quote(name)} {{", '  rankdir=TB; node [fontname="monospace", fontsize=10, style=filled];',
             '  edge [fontname="monospace", fontsize=8, color="#7b8794"];']

    def node_line(n: Node, indent: str) -> str:
        shape = {"fed": "ellipse", "state": "doubleoctagon"}.get(n.op.leaf or "", "box")
        label = "\n".join(labels[id(n)])
        return f'{indent}{_quote(names[id(n)])} [label={_quote(label)}, shape={shape}, fillcolor="{_fill(n)}"];'

    grouped = set()
    for k, g in enumerate(graph.groups):
        domain = ",".join(map(str, g.domain))
        lines.append(f"  subgraph cluster_{k} {{")
        lines.append(f'    label={_quote(f"fused {g.kind} over [{domain}]")}; style="rounded,dashed"; color="#9aa5b1";')
        for m in g.members:
            lines.append(node_line(m, "    "))
            grouped.add(id(m))
        lines.append("  }")
    for n in graph.nodes:
        if not is_literal(n) and id(n) not in grouped:
            lines.append(node_line(n, "  "))
    for n in graph.nodes:  # each loop's body, in a cluster of its own, its names prefixed by the loop's
        if n.op.tuple_value:
            lines += _body_cluster(n, names[id(n)], "  ")
    for n in graph.nodes:
        if is_literal(n):
            continue
        for x in n.inputs:
            if not is_literal(x):
                lines.append(f"  {_quote(names[id(x)])} -> {_quote(names[id(n)])} [label={_quote(x.type)}];")
    taken = set(names.values())
    for i, o in enumerate(graph.outputs):
        if not is_literal(o):
            marker = f"out{i}"
            while marker in taken:  # a node may be named out0
                marker = "_" + marker
            lines.append(f'  {_quote(marker)} [label="output {i}", shape=plaintext, style=""];')
            lines.append(f"  {_quote(names[id(o)])} -> {_quote(marker)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _body_cluster(loop: Node, name: str, indent: str) -> list[str]:
    """A loop's body (or each of a cond's branches) as a DOT cluster, its names prefixed by `name`."""
    body = loop.attrs["body"]
    roles = loop_roles(loop)
    if isinstance(body, Body):
        parts = [(name, f"{name}: body, {body.length} steps", body.graph)]
    else:
        parts = [(f"{name}/if", f"{name}: if its predicate holds", body.true),
                 (f"{name}/else", f"{name}: else", body.false)]
    lines = []
    for prefix, title, g in parts:
        names, labels = _labels(g)
        key = {id(n): f"{prefix}/{names[id(n)]}" for n in g.nodes if not is_literal(n)}
        lines += [f"{indent}subgraph {_quote('cluster_' + prefix)} {{",
                  f'{indent}  label={_quote(title)}; style="rounded"; color="#52606d";']
        for n in g.nodes:
            if is_literal(n):
                continue
            label = "\n".join(labels[id(n)]) + (f"\n({roles[id(n)]})" if id(n) in roles else "")
            lines.append(f'{indent}  {_quote(key[id(n)])} [label={_quote(label)}, fillcolor="{_fill(n)}"];')
            lines += [f"{indent}  {_quote(key[id(x)])} -> {_quote(key[id(n)])};" for x in n.inputs if not is_literal(x)]
            if n.op.tuple_value:
                lines += _body_cluster(n, key[id(n)], indent + "  ")
        lines.append(f"{indent}}}")
    return lines
