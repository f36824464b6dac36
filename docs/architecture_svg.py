"""Draws docs/architecture.svg: the stages data flows through, top to bottom, as the folders
and modules that hold them; a stage uses only the ones above it (tests/test_layering.py).
Run: python docs/architecture_svg.py"""

from __future__ import annotations

import pathlib
from html import escape

WIDTH = 900
STAGES = [  # (title, detail, fill)
    ("user code", "placeholders, variables and ops (graph mode), or eager tensors (define-by-run)", "#d9f0d3"),
    ("IR and op library", "ir.py (its text form: printer.py; values checked: feeds.py), opdef.py, builder.py, ops/ (each op once: shape rule, NumPy reference, VJP, capabilities), the eager tape (eager.py, computing with the NumPy references)", "#dbe9f6"),
    ("differentiation", "passes/reverse_mode.py, forward_mode.py; graphc/differentiate.py (grad, vjp, jvp, hvp); the eager tape runs the same rules", "#dbe9f6"),
    ("passes", "passes/: fold, simplify, cse, dce, fuse (groups of at most 128 nodes) — pure functions from graph to graph, with counters", "#fbe3c8"),
    ("memory plan", "passes/memory_plan.py: buffers' lifetimes placed in one arena (two greedy heuristics, in-place offers), proved sound", "#fbe3c8"),
]
BACKENDS = [
    ("back end: numpy", "graphc/backends/numpy/: the reference executor, node by node (the oracle; a function of the IR alone, also what the eager tape computes with)"),
    ("back end: numba", "graphc/backends/numba/: lowering (per-op lowerings in ops/) -> kernels, each compiled once and cached by hash; a driver compiled once per machine runs them"),
]
AFTER = [
    ("inspection", "graphc/inspection/: pictures, the report page, gradient flow, the first guilty pass: what the compiler did", "#eef1f4"),
    ("runtime", "graphc/function.py: Function (compile, call, run_many, report, pictures), the back end chosen by name, variables' lock", "#e6dcf2"),
    ("command line", "graphc/cli/ and graphc/__main__.py: graphc demo | inspect | compare, and the workloads they run", "#eef1f4"),
]


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + [line]


def _box(x: int, y: int, w: int, h: int, title: str, detail: str, fill: str) -> str:
    parts = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="#52606d"/>',
             f'<text x="{x + w / 2}" y="{y + 20}" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>']
    for k, line in enumerate(_wrap(detail, int(w / 6.3))):
        parts.append(f'<text x="{x + w / 2}" y="{y + 38 + 14 * k}" text-anchor="middle" font-size="11" fill="#3e4c59">'
                     f"{escape(line)}</text>")
    return "".join(parts)


def _arrow(x: float, y0: float, y1: float) -> str:
    return f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#52606d" stroke-width="1.5" marker-end="url(#a)"/>'


def draw() -> str:
    body, y, h, gap, x, w = [], 20, 62, 22, 20, WIDTH - 40
    for title, detail, fill in STAGES:
        body.append(_box(x, y, w, h, title, detail, fill))
        body.append(_arrow(WIDTH / 2, y + h, y + h + gap))
        y += h + gap
    half = (w - 20) // 2
    for k, (title, detail) in enumerate(BACKENDS):
        body.append(_box(x + k * (half + 20), y, half, h + 14, title, detail, "#d9f0d3"))
    y += h + 14
    body.append(_arrow(WIDTH / 2, y, y + gap))
    y += gap
    for i, (title, detail, fill) in enumerate(AFTER):
        body.append(_box(x, y, w, h, title, detail, fill))
        if i < len(AFTER) - 1:
            body.append(_arrow(WIDTH / 2, y + h, y + h + gap))
        y += h + gap
    head = ('<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#52606d"/></marker></defs>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" viewBox="0 0 {WIDTH} {y}" '
            f'font-family="sans-serif">{head}{"".join(body)}</svg>\n')


if __name__ == "__main__":
    (pathlib.Path(__file__).parent / "architecture.svg").write_text(draw())
