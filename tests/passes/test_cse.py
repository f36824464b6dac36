"""Common-subexpression elimination and the pipeline around it."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy.executor import evaluate
from graphc.ir import Graph, verify
from graphc.passes.cse import cse
from graphc.passes.pipeline import PIPELINE, run_pipeline

from ..graphc.test_random_graphs import random_case


def test_duplicates_merge_and_are_counted() -> None:
    x = gc.placeholder((3,), "float64", name="x")
    a, b = gc.exp(x) * 2.0, gc.exp(x) * 2.0  # the same computation, built twice
    graph = Graph([x], [a + b])
    result = cse(graph)
    verify(result.graph)
    assert result.stats == {"nodes_merged": 3}  # exp, the literal 2.0 and the multiply
    assert len(result.graph) == len(graph) - 3
    values = np.array([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(evaluate(result.graph, {x: values})[0], evaluate(graph, {x: values})[0])
    assert cse(result.graph).stats == {"nodes_merged": 0}  # nothing left to merge


def test_random_draws_and_state_are_never_merged() -> None:
    gc.set_seed(0)
    r1, r2 = gc.random_normal((4,), seed=1), gc.random_normal((4,), seed=1)
    v1, v2 = gc.variable(np.zeros(4, np.float32)), gc.variable(np.zeros(4, np.float32))
    result = cse(Graph([], [r1 + v1, r2 + v2]))
    assert result.stats["nodes_merged"] == 0


def test_gradients_share_forward_work_after_cse() -> None:
    x = gc.placeholder((5,), "float64", name="x")
    y = gc.sum(gc.tanh(x) * gc.tanh(x))
    f = gc.compile([x], [y, gc.grad(y, x)], backend="numpy")
    merged = {r.name: r.stats for r in f.passes}["cse"]["nodes_merged"]
    assert merged >= 1 and len(f.graph) < len(f.source_graph)
    assert "cse" in f.report() and "nodes_merged" in f.report()


def test_optimize_false_runs_no_pass_and_unknown_names_are_refused() -> None:
    x = gc.placeholder((2,), name="x")
    f = gc.compile([x], gc.exp(x) + gc.exp(x), optimize=False, backend="numpy")
    assert f.passes == [] and f.graph is f.source_graph and "disabled" in f.report()
    with pytest.raises(gc.GraphError, match="unknown passes"):
        run_pipeline(f.graph, disabled=["nope"])
    graph, reports = run_pipeline(f.graph, disabled=[name for name, _ in PIPELINE])
    assert graph is f.graph and reports == []


@pytest.mark.parametrize("seed", range(40))
def test_optimized_and_unoptimized_agree_on_random_graphs(seed: int) -> None:
    values, phs, y, _ = random_case(seed, 2000 + seed)
    outs = [y, *gc.grad(y, phs)]
    optimized = gc.compile(phs, outs, backend="numpy")(*values)
    plain = gc.compile(phs, outs, optimize=False, backend="numpy")(*values)
    for a, b in zip(optimized, plain):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
