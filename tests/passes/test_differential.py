"""Differential tests of the optimizer: seeded random graphs (values and all gradients) with every
pass, with none, with each pass disabled alone, through the NumPy reference executor and in eager
mode — all agree (float64, rtol 1e-7). Fused programs run natively in tests/graphc/test_lowering.py
and below; `first_guilty_pass` is shown to name a deliberately broken pass."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.inspection.guilty import first_guilty_pass
from graphc.ir import Graph, Node
from graphc.passes.base import PassResult
from graphc.passes.pipeline import PIPELINE, run_pipeline
from graphc.passes.rewrite import rewrite

from ..graphc.test_random_graphs import random_case, random_program

RTOL = 1e-7
CONFIGS = [("all passes", ())] + [(f"all but {name}", (name,)) for name, _ in PIPELINE]


def _results(graph: Graph, values: list[np.ndarray]) -> list[np.ndarray]:
    from graphc.backends.numpy.executor import evaluate

    return [np.asarray(v) for v in evaluate(graph, dict(zip(graph.inputs, values)))]


@pytest.mark.parametrize("seed", range(300))
def test_random_graph_agrees_with_and_without_each_pass(seed: int) -> None:
    values, phs, y, _ = random_case(seed, 5000 + seed)
    source = Graph(phs, [y, *gc.grad(y, phs)])
    want = _results(source, values)
    for label, disabled in CONFIGS:
        optimized, _ = run_pipeline(source, disabled=disabled, verify_each=True)
        fed = [values[[id(q) for q in phs].index(id(p))] for p in optimized.inputs]
        for got, expected in zip(_results(optimized, fed), want):
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-12, err_msg=label)
    tensors = [eager.tensor(v, requires_grad=True) for v in values]
    ye = random_program(seed)(*tensors)
    ye.backward()
    np.testing.assert_allclose(float(ye), want[0], rtol=RTOL)
    for t, g in zip(tensors, want[1:]):
        np.testing.assert_allclose(np.zeros_like(g) if t.grad is None else t.grad.data, g, rtol=RTOL, atol=1e-12)


def _sin_for_tanh(graph: Graph) -> PassResult:
    """A broken pass: it 'simplifies' tanh to sin."""
    def rule(n: Node) -> Node:
        return gc.sin(n.inputs[0]) if n.op.name == "tanh" else n

    return PassResult(rewrite(graph, rule), {})


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_bisection_names_the_first_guilty_pass(backend: str) -> None:
    x = gc.placeholder((3, 4), "float64", name="x")
    y = gc.sum(gc.tanh(x) * 1.0, axis=1)
    graph = Graph([x], [y, gc.grad(gc.sum(y), x)])
    feeds = {x: np.linspace(-1.0, 1.0, 12).reshape(3, 4)}
    assert first_guilty_pass(graph, feeds, backend) is None
    broken = list(PIPELINE[:2]) + [("sin_for_tanh", _sin_for_tanh)] + list(PIPELINE[2:])
    assert first_guilty_pass(graph, feeds, backend, pipeline=broken) == "sin_for_tanh"
    last = list(PIPELINE) + [("sin_for_tanh", _sin_for_tanh)]
    assert first_guilty_pass(graph, feeds, backend, pipeline=last) == "sin_for_tanh"
