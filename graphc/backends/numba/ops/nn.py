"""Numba lowerings of the nn ops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ....ops import nn
from ..emit import Buf, Emitter, accumulator_dtype, combine, dtype_name, outer_inner
from ..lowerings import STATUS_INDEX, register_kernel


def _softmax_kernel(em: Emitter, out: Buf, x: Buf, axis: int, log: bool) -> None:
    outer, n, inner = outer_inner(x.shape, axis)
    xs, os = x.reshaped((outer, n, inner)), out.reshaped((outer, n, inner))
    cast = dtype_name(out.dtype)
    with em.loops([outer, inner]) as (o, j):
        m, total = _row_max_and_sum(em, lambda k: xs.at([o, k, j]), n, out.dtype)
        with em.loops([n]) as (k,):
            if log:
                em.line(f"{os.at([o, k, j])} = ({xs.at([o, k, j])} - {m}) - np.log({cast}({total}))")
            else:
                em.line(f"{os.at([o, k, j])} = np.exp({xs.at([o, k, j])} - {m}) / {cast}({total})")


def _xent_kernel(em: Emitter, out: Buf, logits: Buf, labels: Buf) -> None:
    n = logits.shape[-1]
    rows = logits.reshaped((out.size, n))
    cast = dtype_name(out.dtype)
    with em.loops([out.size]) as (i,):
        label = em.fresh("label")
        em.line(f"{label} = {labels.item(i)}")
        with em.block(f"if {label} < 0 or {label} >= {n}:"):
            em.fail(STATUS_INDEX, label)
        m, total = _row_max_and_sum(em, lambda k: rows.at([i, k]), n, out.dtype)
        em.line(f"{out.item(i)} = np.log({cast}({total})) + {m} - {rows.at([i, label])}")


def _row_max_and_sum(em: Emitter, row: Callable[[str], str], n: int, dtype: np.dtype) -> tuple[str, str]:
    """Emit the max of row(k) over k < n and the sum of exp(row(k) - max)."""
    m, total = em.fresh("m"), em.fresh("s")
    em.line(f"{m} = {em.const(-np.inf, dtype)}")  # not row(0): a row may be empty
    with em.loops([n]) as (k,):
        em.line(f"{m} = {combine('max', m, row(k))}")
    em.line(f"{total} = {em.const(0, accumulator_dtype('sum', dtype))}")
    with em.loops([n]) as (k,):
        em.line(f"{total} += np.exp({row(k)} - {m})")
    return m, total


register_kernel(nn.SOFTMAX, lambda em, out, x, axis: _softmax_kernel(em, out, x, axis, log=False))
register_kernel(nn.LOG_SOFTMAX, lambda em, out, x, axis: _softmax_kernel(em, out, x, axis, log=True))
register_kernel(nn.SOFTMAX_CROSS_ENTROPY, _xent_kernel,
                lambda node, value: nn.label_out_of_range(value, node.inputs[0].shape[-1]))
