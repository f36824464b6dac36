"""Numba lowerings of the nn ops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ....ops import nn, shape
from ..emit import Buf, Emitter, accumulator_dtype, combine, dtype_name, exp_of, outer_inner
from ..lowerings import STATUS_INDEX, register_kernel


def _softmax_kernel(em: Emitter, out: Buf, x: Buf, axis: int, log: bool) -> None:
    outer, n, inner = outer_inner(x.shape, axis)
    xs, os = x.reshaped((outer, n, inner)), out.reshaped((outer, n, inner))
    cast = dtype_name(out.dtype)
    with em.loops([outer, inner]) as (o, j):
        # softmax keeps each exp in the output and divides it there: one exp per element.
        keep = None if log else (lambda k: os.at([o, k, j]))
        kept = (out, f"{o} * {n}") if not log and inner == 1 else None
        m, total = _row_max_and_sum(em, lambda k: xs.at([o, k, j]), n, out.dtype, keep, kept)
        with em.loops([n]) as (k,):
            if log:
                em.line(f"{os.at([o, k, j])} = ({xs.at([o, k, j])} - {m}) - np.log({cast}({total}))")
            else:
                em.line(f"{os.at([o, k, j])} = {os.at([o, k, j])} / {cast}({total})")


def _xent_kernel(em: Emitter, out: Buf, logits: Buf, labels: Buf) -> None:
    n = logits.shape[-1]
    rows = logits.reshaped((out.size, n))
    cast = dtype_name(out.dtype)
    exps = em.scratch((n,), out.dtype)  # a row's exps, summed by `sum_run`
    with em.loops([out.size]) as (i,):
        label = em.fresh("label")
        em.line(f"{label} = {labels.item(i)}")
        with em.block(f"if {label} < 0 or {label} >= {n}:"):
            em.fail(STATUS_INDEX, label)
        m, total = _row_max_and_sum(em, lambda k: rows.at([i, k]), n, out.dtype, lambda k: exps.at([k]), (exps, "0"))
        em.line(f"{out.item(i)} = np.log({cast}({total})) - ({rows.at([i, label])} - {m})")  # as the reference


def _row_max_and_sum(em: Emitter, row: Callable[[str], str], n: int, dtype: np.dtype,
                     keep: Callable[[str], str] | None = None, kept: tuple[Buf, str] | None = None) -> tuple[str, str]:
    """Emit the max of row(k) over k < n and the sum of exp(row(k) - max), each exp stored at
    keep(k) when given. When the kept exps lie in a row of their own (`kept`: a buffer and the
    row's first element), the exps are one vectorized loop and their sum a `sum_run`."""
    m, total = em.fresh("m"), em.fresh("s")
    em.line(f"{m} = {em.const(-np.inf, dtype)}")  # not row(0): a row may be empty
    with em.loops([n]) as (k,):
        em.line(f"{m} = {combine('max', m, row(k))}")
    em.line(f"{total} = {em.const(0, accumulator_dtype('sum', dtype))}")
    with em.loops([n]) as (k,):
        if keep is None:
            em.line(f"{total} += {exp_of(f'{row(k)} - {m}', dtype)}")
        else:
            em.line(f"{keep(k)} = {exp_of(f'{row(k)} - {m}', dtype)}")
            if kept is None:
                em.line(f"{total} += {keep(k)}")
    if keep is not None and kept is not None:
        em.line(f"{total} = sum_run({kept[0].base}, {kept[0].start(kept[1])}, {n})")
    return m, total


register_kernel(nn.SOFTMAX, lambda em, out, x, axis: _softmax_kernel(em, out, x, axis, log=False))
register_kernel(nn.LOG_SOFTMAX, lambda em, out, x, axis: _softmax_kernel(em, out, x, axis, log=True))
register_kernel(nn.SOFTMAX_CROSS_ENTROPY, _xent_kernel,
                lambda node, value: shape.label_out_of_range(value, node.inputs[0].shape[-1]))
