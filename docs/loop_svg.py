"""Draws docs/loop.svg: the loops of a small recurrent step as the report page shows them, each
a box holding its body (the forward scan, and its derivative: a loop running the other way).
Run: python docs/loop_svg.py"""

from __future__ import annotations

import pathlib

import numpy as np

import graphc as gc
from graphc.inspection.pictures import loop_svg, stable_names, svg_size


def render() -> str:
    """The picture: an RNN cell h = tanh(h @ W + x) over 16 steps, its loss and W's gradient."""
    xs = gc.placeholder((16, 4, 8), "float32", name="xs")
    w = gc.variable(np.full((8, 8), 0.1, np.float32), name="W")

    def cell(h, x):  # type: ignore[no-untyped-def]
        h = gc.tanh(h @ w + x)
        return h, h

    _, hs = gc.scan(cell, gc.constant(np.zeros((4, 8), np.float32)), xs)
    loss = gc.mean(hs * hs)
    f = gc.compile([xs], loss, updates={w: w - 0.1 * gc.grad(loss, w)}, backend="numpy")
    names = stable_names(f.graph)
    pictures = [loop_svg(n, names[id(n)], names) for n in f.graph.nodes if n.op.tuple_value]
    sizes = [svg_size(p) for p in pictures]
    width, height = max(w for w, _ in sizes) + 8, sum(h for _, h in sizes) + 8 * len(sizes)
    parts, y = [], 4.0
    for picture, (_, h) in zip(pictures, sizes):
        parts.append(f'<g transform="translate(4,{y:.0f})">{picture}</g>')
        y += h + 8
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">{"".join(parts)}</svg>\n')


if __name__ == "__main__":
    pathlib.Path(__file__).with_name("loop.svg").write_text(render())
