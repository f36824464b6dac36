"""Numba lowerings of the convolution ops and max pooling's window argmax.

Each convolution is loops over (image, channel, kernel row, kernel column) around a loop nest
over output rows and columns whose innermost loop runs along a row: for stride 1 it reads and
writes contiguous memory with one weight held in a register, so LLVM vectorizes it. Padding
costs no test per element: each kernel position clips its row and column range once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ....ops import conv
from ..emit import Buf, Emitter, accumulator_dtype, dtype_name
from ..lowerings import register_kernel

Pair = tuple[int, int]
Geometry = tuple[Pair, Pair, Pair]  # stride, padding, dilation


def _span(em: Emitter, k: str, stride: int, padding: int, dilation: int, limit: int, count: int) -> tuple[str, str]:
    """The range [lo, hi) of r < count with 0 <= r * stride - padding + k * dilation < limit."""
    lo, hi = em.fresh("lo"), em.fresh("hi")
    shift = f"{k} * {dilation} - {padding}"
    em.line(f"{lo} = max(0, -(({shift}) // {stride}))")
    em.line(f"{hi} = min({count}, ({limit} - 1 - ({shift})) // {stride} + 1)")
    return lo, hi


@contextlib.contextmanager
def _kernel_positions(em: Emitter, kernel: tuple[int, ...], geometry: Geometry, limits: tuple[int, ...],
                      counts: tuple[int, ...]) -> Iterator[tuple[str, str, tuple[str, str], tuple[str, str]]]:
    """Loops over kernel rows i and, inside, columns j; yields i, j and the ranges of rows and
    columns r < counts whose tap r * stride - padding + i * dilation lands inside `limits`
    (pairs: rows and columns)."""
    stride, padding, dilation = geometry
    with em.loops([kernel[0]]) as (i,):
        rows = _span(em, i, stride[0], padding[0], dilation[0], limits[0], counts[0])
        with em.loops([kernel[1]]) as (j,):
            yield i, j, rows, _span(em, j, stride[1], padding[1], dilation[1], limits[1], counts[1])


@contextlib.contextmanager
def _taps(em: Emitter, geometry: Geometry, i: str, j: str, rows: tuple[str, str],
          cols: tuple[str, str]) -> Iterator[tuple[str, str, str, str]]:
    """Loops over rows and, inside, columns in those ranges; yields r, q and the row and column
    that kernel position (i, j) taps from there."""
    stride, padding, dilation = geometry
    r, q = em.fresh("r"), em.fresh("q")
    with em.block(f"for {r} in range({rows[0]}, {rows[1]}):"), em.block(f"for {q} in range({cols[0]}, {cols[1]}):"):
        yield r, q, _at(r, stride[0], padding[0], dilation[0], i), _at(q, stride[1], padding[1], dilation[1], j)


def _at(r: str, stride: int, padding: int, dilation: int, k: str) -> str:
    return f"({r} * {stride} + {k} * {dilation} - {padding})"


def _conv_kernel(em: Emitter, out: Buf, x: Buf, w: Buf, stride: Pair, padding: Pair, dilation: Pair,
                 groups: int) -> None:
    geometry = (stride, padding, dilation)
    o, cg, kh, kw = w.shape
    em.fill(out, "0")
    with em.loops([x.shape[0], o]) as (b, oc):
        ic0 = em.fresh("first")
        em.line(f"{ic0} = ({oc} // {o // groups}) * {cg}")
        with em.loops([cg]) as (ci,), _kernel_positions(em, (kh, kw), geometry, x.shape[2:], out.shape[2:]) as (i, j, rows, cols):
            weight = em.fresh("weight")
            em.line(f"{weight} = {w.at([oc, ci, i, j])}")
            with _taps(em, geometry, i, j, rows, cols) as (r, q, row, col):
                em.line(f"{out.at([b, oc, r, q])} += {weight} * {x.at([b, f'({ic0} + {ci})', row, col])}")


def _conv_t_kernel(em: Emitter, out: Buf, y: Buf, w: Buf, stride: Pair, padding: Pair, output_padding: Pair,
                   dilation: Pair, groups: int) -> None:
    # conv2d's loops with input and output exchanged: each input entry adds into the taps.
    geometry = (stride, padding, dilation)
    _, og, kh, kw = w.shape
    cg = y.shape[1] // groups
    em.fill(out, "0")
    with em.loops([y.shape[0], og * groups]) as (b, oc):
        ic0, o = em.fresh("first"), em.fresh("o")
        em.line(f"{ic0} = ({oc} // {og}) * {cg}")
        em.line(f"{o} = {oc} % {og}")
        with em.loops([cg]) as (ci,), _kernel_positions(em, (kh, kw), geometry, out.shape[2:], y.shape[2:]) as (i, j, rows, cols):
            weight = em.fresh("weight")
            em.line(f"{weight} = {w.at([f'({ic0} + {ci})', o, i, j])}")
            with _taps(em, geometry, i, j, rows, cols) as (r, q, row, col):
                em.line(f"{out.at([b, oc, row, col])} += {weight} * {y.at([b, f'({ic0} + {ci})', r, q])}")


def _filter_kernel(em: Emitter, out: Buf, x: Buf, g: Buf, kernel: Pair, stride: Pair, padding: Pair,
                   dilation: Pair, groups: int) -> None:
    geometry = (stride, padding, dilation)
    o, cg, kh, kw = out.shape
    wo = g.shape[3]
    # Per weight, partial sums along an output row (a vectorizing loop), added up at the end.
    acc_dtype = accumulator_dtype("sum", out.dtype)
    partial = em.scratch((wo,), acc_dtype)
    with em.loops([o, cg]) as (oc, ci):
        ic = em.fresh("channel")
        em.line(f"{ic} = ({oc} // {o // groups}) * {cg} + {ci}")
        with _kernel_positions(em, (kh, kw), geometry, x.shape[2:], g.shape[2:]) as (i, j, rows, cols):
            em.fill(partial, "0")
            with em.loops([x.shape[0]]) as (b,), _taps(em, geometry, i, j, rows, cols) as (r, q, row, col):
                em.line(f"{partial.at([q])} += {g.at([b, oc, r, q])} * {x.at([b, ic, row, col])}")
            total = em.fresh("total")
            em.line(f"{total} = {em.const(0, acc_dtype)}")
            with em.loops([wo]) as (q,):
                em.line(f"{total} += {partial.at([q])}")
            em.line(f"{out.at([oc, ci, i, j])} = {dtype_name(out.dtype)}({total})")


def _pool_argmax_kernel(em: Emitter, out: Buf, x: Buf, kernel: Pair, stride: Pair) -> None:
    n, c, h, wd = x.shape
    ho, wo = out.shape[2:]
    planes = x.reshaped((n * c, h, wd))
    nan_check = x.dtype.kind == "f"
    with em.loops([n * c, ho, wo]) as (p, r, q):
        best, value = em.fresh("best"), em.fresh("value")
        em.line(f"{best} = -1")
        em.line(f"{value} = {planes.at([p, f'{r} * {stride[0]}', f'{q} * {stride[1]}'])}")
        with em.loops(list(kernel)) as (i, j):
            row, col = f"({r} * {stride[0]} + {i})", f"({q} * {stride[1]} + {j})"
            v = em.fresh("v")
            em.line(f"{v} = {planes.at([p, row, col])}")
            test = f"{best} < 0 or {v} > {value}" + (f" or ({v} != {v} and {value} == {value})" if nan_check else "")
            with em.block(f"if {test}:"):
                em.line(f"{best} = {row} * {wd} + {col}")
                em.line(f"{value} = {v}")
        em.line(f"{out.reshaped((n * c, ho, wo)).at([p, r, q])} = {best} + {p} * {h * wd}")


register_kernel(conv.CONV2D, _conv_kernel)
register_kernel(conv.CONV_TRANSPOSE2D, _conv_t_kernel)
register_kernel(conv.CONV2D_FILTER_GRAD, _filter_kernel)
register_kernel(conv.POOL_ARGMAX, _pool_argmax_kernel)
