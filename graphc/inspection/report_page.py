"""`Function.save_html`: one self-contained page showing what the compiler did.

No network, no external script, style or font: the pictures are SVG drawn by graphc
(`graphc.pictures`), the styles and a short check script are inline. The page shows the per-pass
table, the graph as built and after every pass, the fusion groups and the reasons for nodes
left unfused, the kernels in order, the memory plan as a picture, the loss curve of a training
step, the gradient flow of the last step when the function records it, and the program as SSA
text. On load, the script counts the
pictures that rendered with a non-zero size and any script error into attributes of <body>
(`data-pictures`, `data-empty`, `data-errors`), which the browser test reads.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..printer import node_names
from .pictures import bars_svg, curve_svg, graph_svg, loop_svg, memory_svg, stable_names, trade_svg

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2933; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #cbd2d9; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #cbd2d9; padding: 4px 8px; }
th { background: #f0f4f8; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f8f9fa; padding: 10px; font-size: 12px; overflow-x: auto; }
.picture { overflow-x: auto; border: 1px solid #e4e7eb; margin: 8px 0 16px; padding: 4px; }
.picture.zoom { height: 72vh; overflow: hidden; cursor: grab; background: #fff; }
.picture.zoom svg { width: 100%; height: 100%; }
.hint { font-size: 13px; color: #52606d; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; border: 1px solid #52606d; font-size: 12px; }
"""

CHECK = """
window.__errors = [];
function zoomable(svg) {
  var start = svg.getAttribute('viewBox').split(' ').map(Number), box = start.slice(), drag = null;
  function show() { svg.setAttribute('viewBox', box.join(' ')); }
  function point(e) {
    var r = svg.getBoundingClientRect(), s = Math.max(box[2] / r.width, box[3] / r.height);
    return [box[0] + (e.clientX - r.left) * s, box[1] + (e.clientY - r.top) * s, s];
  }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var p = point(e), k = e.deltaY < 0 ? 1 / 1.2 : 1.2;
    box = [p[0] - (p[0] - box[0]) * k, p[1] - (p[1] - box[1]) * k, box[2] * k, box[3] * k]; show();
  }, {passive: false});
  svg.addEventListener('mousedown', function (e) { drag = point(e); });
  window.addEventListener('mouseup', function () { drag = null; });
  svg.addEventListener('mousemove', function (e) {
    if (!drag) { return; }
    var p = point(e); box[0] -= p[0] - drag[0]; box[1] -= p[1] - drag[1]; show();
  });
  svg.addEventListener('dblclick', function () { box = start.slice(); show(); });
}
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('load', function () {
  var zoom = document.querySelectorAll('svg.zoomable');
  for (var z = 0; z < zoom.length; z++) { zoomable(zoom[z]); }
  var pictures = document.querySelectorAll('svg'), empty = 0;
  for (var i = 0; i < pictures.length; i++) {
    var r = pictures[i].getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) { empty++; }
  }
  document.body.setAttribute('data-pictures', String(pictures.length));
  document.body.setAttribute('data-empty', String(empty));
  document.body.setAttribute('data-errors', String(window.__errors.length));
});
"""


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{escape(c)}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _picture(svg: str) -> str:
    return f'<div class="picture">{svg}</div>'


def _buffer_name(what: str, renamed: dict[str, str]) -> str:
    """A buffer's owner by the name the pictures of the graph give it ("scratch" as it is)."""
    owner, _, rest = what.partition(" ")
    return renamed.get(owner, owner) + (f" {rest}" if rest else "")


def _zoomable(svg: str) -> str:
    """A graph picture fitted to its box, zoomed and panned by the inline script."""
    return f'<div class="picture zoom">{svg}</div>'


ZOOM_HINT = ("<p class='hint'>Each graph fits its box: scroll to zoom, drag to pan, double-click to fit again; a"
             " node's tooltip gives its op, inputs, type and source line. Nodes keep their names from pass to"
             " pass (op@line); what a pass added is outlined in green, and its caption names what it removed.</p>")


def render(f: Any) -> str:
    """The page for compiled function `f` (a `graphc.Function`)."""
    m = f.memory
    sections = [f"<h1>graphc: {escape(f._signature())}</h1>",
                "<p>" + escape(f"{len(f._outputs)} outputs, {len(f._updates)} updates; source graph "
                               f"{len(f.source_graph)} nodes, program {len(f.graph)} nodes; built in "
                               f"{f.compile_seconds:.2f} s ({'native' if f._native is not None else 'NumPy reference'})")
                + "</p>",
                '<p class="legend"><span style="background:#dbe9f6">forward</span><span style="background:#fbe3c8">'
                'backward (grad of …)</span><span style="background:#d9f0d3">placeholder</span><span '
                'style="background:#e6dcf2">variable</span><span style="background:#eef1f4;border-style:dashed">'
                'fused group</span></p>']
    sections.append("<h2>Passes</h2>")
    if f.passes:
        rows = [[r.name, str(r.nodes_before), str(r.nodes_after),
                 ", ".join(f"{k} {v}" for k, v in r.stats.items()) or "no change", f"{r.seconds * 1e3:.1f}"]
                for r in f.passes]
        sections.append(_table(["pass", "nodes before", "nodes after", "what it did", "ms"], rows, {1, 2, 4}))
    else:
        sections.append("<p>No pass ran (optimize=False).</p>")
    sections.append("<h2>The graph as built</h2>" + ZOOM_HINT + _zoomable(graph_svg(f.source_graph, "as built")))
    before = f.source_graph
    for r in f.passes:
        if r.graph is not None:
            sections.append(f"<h2>After {escape(r.name)}</h2>"
                            + _zoomable(graph_svg(r.graph, f"after {r.name}", before)))
            before = r.graph
    loops = [n for n in f.graph.nodes if n.op.tuple_value]
    if loops:
        names = stable_names(f.graph)
        sections.append("<h2>Loops and conds</h2><p>" + escape(
            "Each loop of the program (a gc.scan, or a derivative of one: the backward pass runs the other way) as a"
            " box holding its body, which runs once per step: its placeholders are the carries, the step's slice of"
            " each xs and the values it reads from outside (the same every step; what the body computed from them"
            " alone was moved out of the loop); its outputs the new carries, then the step's ys. Each cond (a gc.cond,"
            " or a derivative of one) as a box holding its two branches, of which each call runs one: both read the"
            " same values from outside and return results of the same types.") + "</p>"
            + "".join(_picture(loop_svg(n, names[id(n)], names)) for n in loops))
    fuse = next((r for r in f.passes if r.name == "fuse"), None)
    sections.append("<h2>Fusion groups</h2>")
    sections.append("<pre>" + escape("\n".join(fuse.notes) if fuse is not None and fuse.notes
                                     else "fusion did not run") + "</pre>")
    sections.append("<h2>Kernels, in the order they run</h2><pre>" + escape("\n".join(f.kernels())) + "</pre>")
    if m is None:
        sections.append("<h2>Memory plan</h2><p>No native program: the Numba back end cannot lower every op.</p>")
    else:
        sections.append("<h2>Memory plan</h2><p>" + escape(
            f"arena {m.arena_bytes:,} bytes ({m.heuristic}); lower bound {m.lower_bound_bytes:,}; every value its "
            f"own buffer {m.naive_bytes:,}; {len(m.in_place)} buffers written in place. Each rectangle is a buffer: "
            "its steps across, its place in the arena up.") + "</p>")
        stable = stable_names(f.graph)
        renamed = {printed: stable[key] for key, printed in node_names(f.graph).items() if key in stable}
        buffers = [(_buffer_name(what, renamed), *rest) for what, *rest in f._buffers]
        sections.append(_picture(memory_svg(buffers, max(m.arena_bytes, 1), m.lower_bound_bytes, f._buffer_steps)))
    fitted = getattr(f, "budget", None)
    if fitted is not None:
        buffers, arena, bound, steps = fitted.unconstrained
        sections.append("<h2>Memory budget</h2><p>" + escape(
            f"memory_budget={fitted.budget:,} bytes: {len(fitted.trials)} programs tried, from the least recomputation"
            " to the most (the first recomputes nothing), each planned as it would run; the filled dot is the first"
            " that fits.") + "</p>" + _picture(trade_svg(list(fitted.trials), fitted.budget, len(fitted.trials) - 1)))
        sections.append("<p>" + escape(f"The memory plan without the budget: arena {arena:,} bytes (the plan above is"
                                       " the one with it).") + "</p>" + _picture(memory_svg(buffers, max(arena, 1),
                                                                                            bound, steps)))
    losses = f.losses()
    if len(losses):
        sections.append(f"<h2>Loss curve</h2><p>{len(losses):,} steps: the first output of the training step"
                        " (each point the mean of its stretch of steps).</p>" + _picture(curve_svg(losses)))
    flow = f.gradient_flow()
    sections.append("<h2>Gradient flow</h2>")
    if flow is None:
        sections.append("<p>Not recorded: compile a training step with <code>gradient_flow=True</code> "
                        "(updates from <code>gc.optim</code>) and run it.</p>")
    else:
        sections.append(f"<p>After step {flow.step}: the norm of each parameter's gradient.</p>")
        sections.append(_picture(bars_svg(sorted(flow.gradient_norms.items()))))
        if flow.dead_relu:
            sections.append("<p>Each ReLU: the fraction of its units that were zero for the whole batch (dead).</p>")
            sections.append(_picture(bars_svg(list(flow.dead_relu.items()), top_value=1.0)))
    sections.append("<h2>The program</h2><pre>" + escape(f.pretty()) + "</pre>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>graphc report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(sections)}<script>{CHECK}</script></body></html>\n")
