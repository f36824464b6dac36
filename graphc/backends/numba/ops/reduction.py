"""Numba lowerings of the reduction ops."""

from __future__ import annotations

from ....ops import reduction
from ..emit import Buf, Emitter, emit_reduce, exp_of, outer_inner
from ..lowerings import register_kernel


def _logsumexp_kernel(em: Emitter, out: Buf, x: Buf, axis: tuple[int, ...], keepdims: bool) -> None:
    # As the reference: m = max (0 where not finite), then log(sum(exp(x - m))) + m.
    emit_reduce(em, x, out, axis, "max")
    with em.loops([out.size]) as (i,):
        em.line(f"{out.item(i)} = {out.item(i)} if np.isfinite({out.item(i)}) else 0")
    total = em.scratch(out.shape, out.dtype)
    emit_reduce(em, x, total, axis, "sum", value=lambda e, k: exp_of(f"{e} - {out.item(k)}", out.dtype))
    with em.loops([out.size]) as (i,):
        em.line(f"{out.item(i)} = np.log({total.item(i)}) + {out.item(i)}")


def _argmax_kernel(em: Emitter, out: Buf, x: Buf, axis: int | None) -> None:
    # The first maximum; a NaN counts as the maximum, as in NumPy.
    outer, n, inner = (1, x.size, 1) if axis is None else outer_inner(x.shape, axis)
    xs, os = x.reshaped((outer, n, inner)), out.reshaped((outer, inner))
    with em.loops([outer, inner]) as (o, j):
        best, at = em.fresh("best"), em.fresh("at")
        em.line(f"{best} = {xs.at([o, '0', j])}")
        em.line(f"{at} = 0")
        with em.loops([n]) as (k,):
            v = em.fresh("v")
            em.line(f"{v} = {xs.at([o, k, j])}")
            with em.block(f"if {v} > {best} or ({v} != {v} and {best} == {best}):"):
                em.line(f"{best} = {v}")
                em.line(f"{at} = {k}")
        em.line(f"{os.at([o, j])} = {at}")


register_kernel(reduction.SUM, lambda em, out, x, axis, keepdims: emit_reduce(em, x, out, axis, "sum"))
register_kernel(reduction.PROD, lambda em, out, x, axis, keepdims: emit_reduce(em, x, out, axis, "prod"))
for _op, _kind in ((reduction.MAX, "max"), (reduction.MIN, "min")):
    register_kernel(_op, lambda em, out, x, axis, keepdims, kind=_kind: emit_reduce(em, x, out, axis, kind))
register_kernel(reduction.LOGSUMEXP, _logsumexp_kernel)
register_kernel(reduction.ARGMAX, _argmax_kernel)
