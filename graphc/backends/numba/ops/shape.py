"""Numba lowerings of the shape ops."""

from __future__ import annotations

import numpy as np

from ....ops import shape
from ....ops.shape import IndexKey
from ..emit import Buf, Emitter
from ..lowerings import register_kernel, register_scalar, register_view


def _transpose_kernel(em: Emitter, out: Buf, x: Buf, axes: tuple[int, ...]) -> None:
    with em.loops(out.shape) as names:
        em.line(f"{out.at(names)} = {x.at([names[axes.index(d)] for d in range(len(axes))])}")


def _concatenate_kernel(em: Emitter, out: Buf, *xs: Buf, axis: int) -> None:
    start = 0
    for x in xs:
        with em.loops(x.shape) as names:
            shifted = [f"({start} + {v})" if a == axis and start else v for a, v in enumerate(names)]
            em.line(f"{out.at(shifted)} = {x.at(names)}")
        start += x.shape[axis]


def _index_kernel(em: Emitter, out: Buf, x: Buf, key: IndexKey) -> None:
    with em.loops(out.shape) as names:
        em.line(f"{out.at(names)} = {x.at(_source_index(key, names))}")


def _scatter_kernel(em: Emitter, out: Buf, g: Buf, shape: tuple[int, ...], key: IndexKey) -> None:
    em.fill(out, "0")
    with em.loops(g.shape) as names:
        em.line(f"{out.at(_source_index(key, names))} = {g.at(names)}")


def _one_hot_kernel(em: Emitter, out: Buf, labels: Buf, n: int, dtype: np.dtype) -> None:
    em.fill(out, "0")
    rows = out.reshaped((labels.size, n))
    with em.loops([labels.size]) as (i,):
        label = em.fresh("label")
        em.line(f"{label} = {labels.item(i)}")
        with em.block(f"if 0 <= {label} < {n}:"):
            em.line(f"{rows.at([i, label])} = 1")


def _source_index(key: IndexKey, names: list[str]) -> list[str]:
    """Index into the sliced array for loop variables `names` over the result's axes."""
    out, it = [], iter(names)
    for k in key:
        out.append(str(k) if isinstance(k, int) else f"({k[0]} + {k[2]} * {next(it)})")
    return out + list(it)


register_view(shape.RESHAPE, lambda x, shape: x.reshaped(shape))
register_kernel(shape.TRANSPOSE, _transpose_kernel)
register_scalar(shape.BROADCAST_TO, lambda c, x, shape: x)
register_kernel(shape.CONCATENATE, _concatenate_kernel)
register_kernel(shape.INDEX, _index_kernel)
register_kernel(shape.SCATTER_INDEX, _scatter_kernel)
register_kernel(shape.ONE_HOT, _one_hot_kernel)
