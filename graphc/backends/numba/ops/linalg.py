"""Numba lowerings of the linalg ops."""

from __future__ import annotations

import numpy as np

from ....ops import linalg
from ..emit import Buf, Emitter, linear
from ..lowerings import register_kernel


def _matmul_kernel(em: Emitter, out: Buf, a: Buf, b: Buf) -> None:
    # Float matrices go to BLAS (one gemm each, transposed operands read as they lie); batches
    # loop over broadcast indices.
    batch = out.shape[:-2]
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]

    def start(x: Buf, names: list[str]) -> str:
        lead = len(batch) - (len(x.shape) - 2)
        terms = [
            (v, 0 if x.shape[i - lead] == 1 else int(np.prod(x.shape[i - lead + 1 :])))
            for i, v in enumerate(names)
            if i >= lead
        ]
        return linear(0, terms)

    with em.loops(batch) as names:
        sa, sb, so = start(a, names), start(b, names), start(out, names)
        if out.dtype.kind == "f" and a.dtype == b.dtype == out.dtype:
            em.line(f"gemm(g, {a.base}, {a.start(sa)}, {b.base}, {b.start(sb)}, {out.base}, {out.start(so)},"
                    f" {int(a.swapped)}, {int(b.swapped)}, {m}, {n}, {k}, 1.0, 0.0)")
        else:  # integers and mixed dtypes: a plain triple loop
            with em.loops([m, n]) as (i, j):
                acc = em.fresh("acc")
                em.line(f"{acc} = {em.const(0, out.dtype)}")
                with em.loops([k]) as (r,):
                    em.line(
                        f"{acc} += {a.base}[{linear(a.offset, [(sa, 1), (i, k), (r, 1)])}]"
                        f" * {b.base}[{linear(b.offset, [(sb, 1), (r, n), (j, 1)])}]"
                    )
                em.line(f"{out.base}[{linear(out.offset, [(so, 1), (i, n), (j, 1)])}] = {acc}")


register_kernel(linalg.MATMUL, _matmul_kernel)
