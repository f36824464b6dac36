"""Finding the first pass that changes a program's results: bisection over the pipeline.

Given a graph, feeds, and results that differ once the graph is optimized, run the pipeline's
prefixes (the first k passes) and compare each against the unoptimized graph. Passes are
assumed to keep a correct graph correct, so "wrong after the first k passes" is monotone in k
and a binary search finds the first guilty pass in log2(len(pipeline)) + 1 runs. Each prefix runs
natively (so fusion, which only changes the generated code, is judged too) or through the NumPy
reference executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..backends.numba.lowering import lower
from ..backends.numba.program import NativeProgram
from ..backends.numpy.executor import evaluate
from ..errors import GraphError
from ..ir import Graph, Node
from ..passes.pipeline import PIPELINE, Pass, run_pipeline


def results(graph: Graph, feeds: Mapping[Node, np.ndarray], backend: str = "numba") -> list[np.ndarray]:
    """The values of `graph`'s outputs for `feeds`, natively or through the NumPy reference."""
    if backend == "numpy":
        return [np.asarray(v) for v in evaluate(graph, dict(feeds))]
    if backend not in ("numba", "python"):
        raise GraphError(f"first_guilty_pass: backend must be 'numba', 'python' or 'numpy', got {backend!r}")
    program = NativeProgram(lower(graph, len(graph.outputs), [], False), cache=True, interpret=backend == "python")
    return program([np.asarray(feeds[p], p.dtype, order="C") for p in graph.inputs], 0)


def _agree(a: Sequence[np.ndarray], b: Sequence[np.ndarray], rtol: float, atol: float) -> bool:
    return all(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True) for x, y in zip(a, b))


def first_guilty_pass(
    graph: Graph, feeds: Mapping[Node, np.ndarray], backend: str = "numba", rtol: float = 1e-7,
    atol: float = 0.0, pipeline: Sequence[Pass] | None = None,
) -> str | None:
    """The name of the first pass after which `graph`'s results differ from the unoptimized
    graph's (rtol/atol), or None if the fully optimized graph agrees."""
    passes = list(PIPELINE if pipeline is None else pipeline)
    names = [name for name, _ in passes]
    want = results(graph, feeds, backend)

    def wrong_after(k: int) -> bool:
        optimized, _ = run_pipeline(graph, disabled=names[k:], pipeline=passes)
        return not _agree(results(optimized, feeds, backend), want, rtol, atol)

    if not wrong_after(len(passes)):
        return None
    lo, hi = 1, len(passes)  # wrong after hi passes; find the smallest such count
    while lo < hi:
        mid = (lo + hi) // 2
        if wrong_after(mid):
            hi = mid
        else:
            lo = mid + 1
    return names[lo - 1]
