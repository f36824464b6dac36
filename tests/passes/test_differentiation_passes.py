"""The differentiation passes as passes: pure functions from a graph to (graph, counters)."""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.backends.numpy.executor import evaluate
from graphc.ir import Graph, verify
from graphc.passes import PassResult, forward_mode, reverse_mode


def small_graph() -> tuple[Graph, gc.Node, gc.Node]:
    x = gc.placeholder((3,), "float64", name="x")
    w = gc.variable(np.array([1.0, 2.0, 3.0]), name="w")
    y = gc.sum(gc.tanh(x * w))
    return Graph.of([y]), x, w


def test_reverse_mode_is_pure_and_counts_what_it_added() -> None:
    graph, x, w = small_graph()
    before = [n.id for n in graph.nodes]
    seed = gc.ops.full((), 1.0, "float64")
    result = reverse_mode(graph, [x, w], [seed])
    assert isinstance(result, PassResult) and result.changed
    assert [n.id for n in graph.nodes] == before  # the input graph is untouched
    assert result.stats["nodes_before"] == len(graph)
    new = {id(n) for n in result.graph.nodes} - {id(n) for n in graph.nodes} - {id(seed)}
    assert result.stats["nodes_added"] >= len(new) > 0
    verify(result.graph)
    gx, gw = evaluate(result.graph, {x: np.array([0.1, 0.2, 0.3])})
    t = np.tanh(np.array([0.1, 0.4, 0.9]))
    np.testing.assert_allclose(gx, (1 - t * t) * [1, 2, 3])
    np.testing.assert_allclose(gw, (1 - t * t) * [0.1, 0.2, 0.3])


def test_forward_mode_is_a_transform_of_its_own() -> None:
    graph, x, w = small_graph()
    v = gc.placeholder((3,), "float64", name="v")
    result = forward_mode(graph, [x], [v])
    assert any(p is v for p in result.graph.inputs)  # the tangent placeholder joins the inputs
    names = {n.op.name for n in result.graph.nodes}
    assert "full" not in names  # no seed cotangent: this is not reverse mode run twice
    verify(result.graph)
    (tangent,) = evaluate(result.graph, {x: np.array([0.1, 0.2, 0.3]), v: np.ones(3)})
    t = np.tanh(np.array([0.1, 0.4, 0.9]))
    np.testing.assert_allclose(tangent, np.sum((1 - t * t) * [1, 2, 3]))


def test_unreached_outputs_and_inputs_get_zeros() -> None:
    x = gc.placeholder((2,), "float64", name="x")
    z = gc.placeholder((2,), "float64", name="z")
    graph = Graph.of([gc.sum(x * 2)])
    result = reverse_mode(graph, [z], [gc.ops.full((), 1.0, "float64")])
    (gz,) = evaluate(result.graph, {x: np.ones(2)})
    np.testing.assert_array_equal(gz, [0.0, 0.0])
    tangents = forward_mode(Graph.of([x * 2]), [z], [gc.constant(np.ones(2))])
    (t,) = evaluate(tangents.graph, {x: np.ones(2)})
    np.testing.assert_array_equal(t, [0.0, 0.0])
