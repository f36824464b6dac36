"""Numba lowerings of the convolution ops and max pooling's window argmax.

Convolutions go through BLAS: an image's patches are unfolded into a scratch matrix (im2col: one
row per input channel and kernel position, one column per output position), so that conv2d is
W @ cols per group and image, its transpose W^T @ y folded back (col2im, adding overlapping
taps), and its filter gradient the sum over images of cols @ g^T, several images per gemm when
one image has few output positions. Rows are moved by `copy_run` and `add_run`, one vector
operation each. Padding costs no test per element: each kernel position
clips its row and column range once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from ....ops import conv
from ..emit import Buf, Emitter
from ..kernel_ir import LONGEST_RUN
from ..lowerings import register_kernel

Pair = tuple[int, int]
Geometry = tuple[Pair, Pair, Pair]  # stride, padding, dilation


def _span(em: Emitter, k: str, stride: int, padding: int, dilation: int, limit: int, count: int) -> tuple[str, str]:
    """The range [lo, hi) of r < count with 0 <= r * stride - padding + k * dilation < limit
    (all of [0, count) without padding: the output's size is what fits)."""
    if padding == 0:
        return "0", str(count)
    lo, hi = em.fresh("lo"), em.fresh("hi")
    shift = f"{k} * {dilation} - {padding}"
    em.line(f"{lo} = max(0, -(({shift}) // {stride}))")
    em.line(f"{hi} = min({count}, ({limit} - 1 - ({shift})) // {stride} + 1)")
    return lo, hi


def _column_span(j: int, stride: int, padding: int, dilation: int, limit: int, count: int) -> tuple[int, int]:
    """`_span` of kernel column j, known when generating."""
    shift = j * dilation - padding
    return max(0, -(shift // stride)), min(count, (limit - 1 - shift) // stride + 1)


def _columns(kernel: tuple[int, ...], geometry: Geometry, limits: tuple[int, ...],
             counts: tuple[int, ...]) -> list[tuple[str, tuple[str, str]]]:
    """The kernel columns j that tap inside `limits` for some output column, each with its range
    of output columns (`_span`), known when generating."""
    stride, padding, dilation = geometry
    spans = [_column_span(j, stride[1], padding[1], dilation[1], limits[1], counts[1]) for j in range(kernel[1])]
    return [(str(j), (str(lo), str(hi))) for j, (lo, hi) in enumerate(spans) if lo < hi]


def _kernel_positions(em: Emitter, kernel: tuple[int, ...], geometry: Geometry, limits: tuple[int, ...],
                      counts: tuple[int, ...]) -> Iterator[tuple[str, str, tuple[str, str], tuple[str, str]]]:
    """Loops over kernel rows i and, inside, columns j; yields (code is emitted inside them) i,
    j and the ranges of rows and columns r < counts whose tap r * stride - padding + i * dilation
    lands inside `limits` (pairs: rows and columns). With column padding the columns are
    written out, so that each one's range is known when generating (see `_taps`)."""
    stride, padding, dilation = geometry
    with em.loops([kernel[0]]) as (i,):
        rows = _span(em, i, stride[0], padding[0], dilation[0], limits[0], counts[0])
        if padding[1] == 0:
            with em.loops([kernel[1]]) as (j,):
                yield i, j, rows, _span(em, j, stride[1], padding[1], dilation[1], limits[1], counts[1])
            return
        for j, cols in _columns(kernel, geometry, limits, counts):
            yield i, j, rows, cols


Assign = Callable[[str, str, str, str, str, str], tuple[str, str]]  # (i, j, r, q, row, col) -> (target, value)
Run = Callable[[str, str, str, str, str, str, int], str]  # (i, j, r, first q, row, its col, length) -> a line
RUN = 32  # the longest row of taps written out element by element


def _taps(em: Emitter, geometry: Geometry, i: str, j: str, rows: tuple[str, str], cols: tuple[str, str],
          assign: Assign, run: Run | None = None) -> None:
    """For rows r and columns q in those ranges, `target = value` of `assign(i, j, r, q, row, col)`,
    where (row, col) is what kernel position (i, j) taps from (r, q). A row whose columns are
    known when generating and consecutive (column stride 1) is one line of `run` (one vector
    operation) per `LONGEST_RUN` columns. Else a row of at most `RUN` such columns is written
    out: every value read into a local first, then every target written, so that LLVM's code
    generator merges consecutive loads and stores into vector moves (Numba leaves the SLP
    vectorizer off). A loop stays scalar: the target and the source might overlap, so no load
    may pass a store (measured: an unfold 7x slower)."""
    stride, padding, dilation = geometry
    static = cols[0].isdigit() and cols[1].isdigit()
    r = em.fresh("r")
    with em.block(f"for {r} in range({rows[0]}, {rows[1]}):"):
        row = _at(r, stride[0], padding[0], dilation[0], i)
        if run is not None and static and stride[1] == 1:
            for start in range(int(cols[0]), int(cols[1]), LONGEST_RUN):
                length = min(LONGEST_RUN, int(cols[1]) - start)
                em.line(run(i, j, r, str(start), row, _at(str(start), stride[1], padding[1], dilation[1], j), length))
        elif static and int(cols[1]) - int(cols[0]) <= RUN:
            pairs = [assign(i, j, r, str(k), row, _at(str(k), stride[1], padding[1], dilation[1], j))
                     for k in range(int(cols[0]), int(cols[1]))]
            temps = [em.fresh("t") for _ in pairs]
            for t, (_, value) in zip(temps, pairs):
                em.line(f"{t} = {value}")
            for t, (target, _) in zip(temps, pairs):
                em.line(f"{target} = {t}")
        else:
            q = em.fresh("q")
            with em.block(f"for {q} in range({cols[0]}, {cols[1]}):"):
                em.line("{} = {}".format(*assign(i, j, r, q, row, _at(q, stride[1], padding[1], dilation[1], j))))


def _at(r: str, stride: int, padding: int, dilation: int, k: str) -> str:
    terms = [r if stride == 1 else f"{r} * {stride}", k if dilation == 1 else f"{k} * {dilation}"]
    return f"({' + '.join(terms)}{f' - {padding}' if padding else ''})"


@contextlib.contextmanager
def _groups_of(em: Emitter, groups: int) -> Iterator[str]:
    """A loop over groups, or none for one group (index "0")."""
    if groups == 1:
        yield "0"
    else:
        with em.loops([groups]) as (g,):
            yield g


def _check(*bufs: Buf) -> None:
    # gc.conv2d and gc.conv_transpose2d give both operands one float dtype, and every
    # derivative keeps it: one BLAS gemm serves them all.
    assert bufs[0].dtype.kind == "f" and all(b.dtype == bufs[0].dtype for b in bufs), [b.dtype for b in bufs]


def _unfold(em: Emitter, cols: Buf, x: Buf, b: str, kernel: tuple[int, ...], geometry: Geometry,
            out_sides: tuple[int, ...], slot: tuple[str, int] = ("0", 1)) -> None:
    """im2col: cols[(c * kh + i) * kw + j, (s * Ho + r) * Wo + q] = image b of x at the tap of
    output (r, q) on kernel position (i, j), for the image's slot s of `slot` = (s, slots) in
    cols' columns. Taps in the padding are left alone: `_zero_padding` zeroed them once."""
    c, kh, kw = x.shape[1], kernel[0], kernel[1]
    rows = cols.reshaped((c, kh, kw, slot[1]) + tuple(out_sides))
    if not _columns(kernel, geometry, x.shape[2:], out_sides):
        return  # every tap in the padding
    with em.loops([c]) as (ci,):
        for i, j, rs, qs in _kernel_positions(em, kernel, geometry, x.shape[2:], out_sides):
            _taps(em, geometry, i, j, rs, qs,
                  lambda i, j, r, q, row, col: (rows.at([ci, i, j, slot[0], r, q]), x.at([b, ci, row, col])),
                  lambda i, j, r, q, row, col, n: f"copy_run({rows.base}, {rows.index([ci, i, j, slot[0], r, q])},"
                                                  f" {x.base}, {x.index([b, ci, row, col])}, {n})")


def _zero_padding(em: Emitter, cols: Buf, geometry: Geometry) -> None:
    """With padding, zero the unfolded matrix once: `_unfold` writes the same taps for every
    image, so the padding's stay zero."""
    if any(geometry[1]):
        em.fill(cols, "0")


def _fold(em: Emitter, out: Buf, cols: Buf, b: str, kernel: tuple[int, ...], geometry: Geometry,
          in_sides: tuple[int, ...]) -> None:
    """col2im, the transpose of `_unfold`: image b of out (zeroed first) gets every column's taps added."""
    c, kh, kw = out.shape[1], kernel[0], kernel[1]
    rows = cols.reshaped((c, kh, kw) + tuple(in_sides))
    image = out.reshaped((out.shape[0], c * out.shape[2] * out.shape[3]))
    with em.loops([image.shape[1]]) as (e,):
        em.line(f"{image.at([b, e])} = 0")
    if not _columns(kernel, geometry, out.shape[2:], in_sides):
        return  # every tap in the padding
    with em.loops([c]) as (ci,):
        for i, j, rs, qs in _kernel_positions(em, kernel, geometry, out.shape[2:], in_sides):
            _taps(em, geometry, i, j, rs, qs,
                  lambda i, j, r, q, row, col: (out.at([b, ci, row, col]),
                                                f"{out.at([b, ci, row, col])} + {rows.at([ci, i, j, r, q])}"),
                  lambda i, j, r, q, row, col, n: f"add_run({out.base}, {out.index([b, ci, row, col])}, {rows.base},"
                                                  f" {rows.index([ci, i, j, r, q])}, {n})")


def _gemm(em: Emitter, a: tuple[Buf, str, int], b: tuple[Buf, str, int], c: tuple[Buf, str, int], trans: str,
          m: int, n: int, k: int, beta: str) -> None:
    """c = op(a) @ op(b) + beta * c on parts (array, offset expression, elements) of buffers."""
    em.line(f"gemm(g, {a[0].base}, {a[0].start(a[1])}, {b[0].base}, {b[0].start(b[1])}, {c[0].base}, {c[0].start(c[1])},"
            f" {trans}, {m}, {n}, {k}, 1.0, {beta})")


def _conv_kernel(em: Emitter, out: Buf, x: Buf, w: Buf, stride: Pair, padding: Pair, dilation: Pair,
                 groups: int) -> None:
    _check(out, x, w)
    geometry = (stride, padding, dilation)
    o, cg, kh, kw = w.shape
    og, patch, spots = o // groups, cg * kh * kw, out.shape[2] * out.shape[3]
    cols = em.scratch((x.shape[1] * kh * kw, spots), out.dtype)
    _zero_padding(em, cols, geometry)
    with em.loops([x.shape[0]]) as (b,):
        _unfold(em, cols, x, b, (kh, kw), geometry, out.shape[2:])
        with _groups_of(em, groups) as g:
            _gemm(em, (w, f"{g} * {og * patch}", og * patch), (cols, f"{g} * {patch * spots}", patch * spots),
                  (out, f"{b} * {o * spots} + {g} * {og * spots}", og * spots), "0, 0", og, spots, patch, "0.0")


def _conv_t_kernel(em: Emitter, out: Buf, y: Buf, w: Buf, stride: Pair, padding: Pair, output_padding: Pair,
                   dilation: Pair, groups: int) -> None:
    _check(out, y, w)
    geometry = (stride, padding, dilation)
    c, og, kh, kw = w.shape
    cg, patch, spots = c // groups, og * kh * kw, y.shape[2] * y.shape[3]
    cols = em.scratch((out.shape[1] * kh * kw, spots), out.dtype)
    with em.loops([y.shape[0]]) as (b,):
        with _groups_of(em, groups) as g:
            _gemm(em, (w, f"{g} * {cg * patch}", cg * patch), (y, f"{b} * {c * spots} + {g} * {cg * spots}", cg * spots),
                  (cols, f"{g} * {patch * spots}", patch * spots), "1, 0", patch, spots, cg, "0.0")
        _fold(em, out, cols, b, (kh, kw), geometry, y.shape[2:])


def _images_per_gemm(images: int, spots: int) -> int:
    """How many images one filter-gradient gemm sums over: the most (dividing `images`) whose
    output positions number at most 256. A gemm summing over one image's few positions runs far
    below BLAS's speed (measured on LeNet's second layer, 64 positions, batch 256: 2.0 ms one
    image per gemm, 1.0 ms four; more than 256 positions is slower again as the unfolded images
    leave the cache)."""
    return max((n for n in range(1, images + 1) if images % n == 0 and (n == 1 or n * spots <= 256)), default=1)


def _filter_kernel(em: Emitter, out: Buf, x: Buf, g: Buf, kernel: Pair, stride: Pair, padding: Pair,
                   dilation: Pair, groups: int) -> None:
    """The filter gradient, transposed, (patch, og) per group: the sum over images of unfolded
    images @ g^T, a gemm whose long side is the patch. Images are taken `_images_per_gemm` at a
    time (their g transposed into a scratch), or one at a time with g read transposed."""
    _check(out, x, g)
    geometry = (stride, padding, dilation)
    o, cg, kh, kw = out.shape
    og, patch, spots = o // groups, cg * kh * kw, g.shape[2] * g.shape[3]
    images = x.shape[0]
    nb = _images_per_gemm(images, spots)
    cols = em.scratch((x.shape[1] * kh * kw, nb * spots), out.dtype)
    total = em.scratch((groups, patch, og), out.dtype)
    _zero_padding(em, cols, geometry)
    em.fill(total, "0")
    with em.loops([images // nb]) as (chunk,):
        if nb == 1:
            _unfold(em, cols, x, chunk, (kh, kw), geometry, g.shape[2:])
        else:
            gt = em.scratch((groups, nb * spots, og), out.dtype)
            if _columns((kh, kw), geometry, x.shape[2:], g.shape[2:]):  # else the taps are all padding
                with em.loops([nb]) as (s,):
                    _unfold(em, cols, x, f"({chunk} * {nb} + {s})", (kh, kw), geometry, g.shape[2:], (s, nb))
            image = g.reshaped((images // nb, nb, groups, og, spots))
            with em.loops([nb, groups, og, spots]) as (s, k, c, p):
                em.line(f"{gt.reshaped((groups, nb, spots, og)).at([k, s, p, c])} = {image.at([chunk, s, k, c, p])}")
        with _groups_of(em, groups) as k:
            if nb == 1:
                b_part, trans = (g, f"{chunk} * {o * spots} + {k} * {og * spots}", og * spots), "0, 1"
            else:
                b_part, trans = (gt, f"{k} * {nb * spots * og}", nb * spots * og), "0, 0"
            _gemm(em, (cols, f"{k} * {patch * nb * spots}", patch * nb * spots), b_part,
                  (total, f"{k} * {patch * og}", patch * og), trans, patch, og, nb * spots, "1.0")
    with em.loops([groups, og, patch]) as (k, c, p):
        em.line(f"{out.reshaped((groups, og, patch)).at([k, c, p])} = {total.at([k, p, c])}")


def _pool_argmax_kernel(em: Emitter, out: Buf, x: Buf, kernel: Pair, stride: Pair) -> None:
    # Branch-free (a select per tap): on random data a branch would be mispredicted half the time.
    n, c, h, wd = x.shape
    ho, wo = out.shape[2:]
    planes = x.reshaped((n * c, h, wd))
    q = em.fresh("i")
    # A row's windows in vector lanes; two or fewer LLVM cannot split into lanes (it warns).
    with em.loops([n * c, ho]) as (p, r), em.block(f"for {q} in {'lanes' if wo > 2 else 'range'}({wo}):"):
        best, value = em.fresh("best"), em.fresh("value")
        em.line(f"{best} = {r} * {stride[0] * wd} + {q} * {stride[1]}")
        em.line(f"{value} = {planes.item(f'{p} * {h * wd} + {best}')}")
        with em.loops(list(kernel)) as (i, j):
            spot, v, better = em.fresh("spot"), em.fresh("v"), em.fresh("better")
            em.line(f"{spot} = ({r} * {stride[0]} + {i}) * {wd} + {q} * {stride[1]} + {j}")
            em.line(f"{v} = {planes.item(f'{p} * {h * wd} + {spot}')}")
            nan = f" | ({v} != {v})" if x.dtype.kind == "f" else ""
            em.line(f"{better} = ({v} > {value}){nan}")  # the first maximum; the last NaN beats all
            em.line(f"{best} = {spot} if {better} else {best}")
            em.line(f"{value} = {v} if {better} else {value}")
        em.line(f"{out.reshaped((n * c, ho, wo)).at([p, r, q])} = {best} + {p} * {h * wd}")


register_kernel(conv.CONV2D, _conv_kernel)
register_kernel(conv.CONV_TRANSPOSE2D, _conv_t_kernel)
register_kernel(conv.CONV2D_FILTER_GRAD, _filter_kernel)
register_kernel(conv.POOL_ARGMAX, _pool_argmax_kernel)
