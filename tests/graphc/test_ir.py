"""The IR: immutable nodes, user locations, deep graphs without recursion, verify, printing."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, Node, topological_order, verify
from graphc.printer import format_graph


def test_nodes_are_immutable_and_carry_their_origin() -> None:
    x = gc.placeholder((2, 3), name="x")
    y = gc.exp(x)
    line = y.location.line
    assert (y.op.name, y.inputs, y.shape, y.dtype) == ("exp", (x,), (2, 3), np.float32)
    assert y.location.file == __file__ and line > 0
    with pytest.raises(gc.GraphError, match="immutable"):
        y.shape = (3, 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        y.attrs["axis"] = 0  # type: ignore[index]
    assert x.name == "x" and y.name.startswith("exp_")


def test_derivative_nodes_point_at_the_forward_node_and_its_line() -> None:
    x = gc.placeholder((), name="x")
    y = gc.tanh(x)
    (g,) = gc.grad(y, [x])
    backward = [n for n in topological_order([g]) if n.grad_of is not None]
    assert backward and all(n.grad_of == y.id and n.location == y.location for n in backward)


def test_a_100k_node_chain_orders_differentiates_and_runs() -> None:
    x = gc.placeholder((2,), "float64", name="x")
    h = x
    for _ in range(100_000):
        h = h * 1.0
    assert len(topological_order([h])) == 200_001  # x, and a multiply and its literal per link
    g = gc.grad(gc.sum(h), x)
    out, grad = gc.compile([x], [h, g], backend="numpy")(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(out, [1.0, 2.0])
    np.testing.assert_array_equal(grad, [1.0, 1.0])


def test_topological_order_is_deterministic_and_complete() -> None:
    x = gc.placeholder((3,), name="x")
    a, b = gc.sin(x), gc.cos(x)
    c = a * b + a
    order = topological_order([c])
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(i)] < position[id(n)] for n in order for i in n.inputs)
    assert [n.id for n in topological_order([c])] == [n.id for n in order]


def test_verify_accepts_built_graphs_and_rejects_broken_ones() -> None:
    x = gc.placeholder((2, 3), name="x")
    y = gc.sum(gc.relu(x), axis=1)
    verify(Graph([x], [y]))
    with pytest.raises(gc.GraphError, match="not an input"):
        verify(Graph([], [y]))
    # A node whose recorded shape disagrees with its rule.
    bad = Node(y.op, y.inputs, y.attrs, (7,), y.dtype, y.location)
    with pytest.raises(gc.GraphError, match=r"recorded f32\[7\] but its rule gives f32\[2\]"):
        verify(Graph([x], [bad]))
    wrong_arity = Node(y.op, (x, x), y.attrs, y.shape, y.dtype, y.location)
    with pytest.raises(gc.GraphError, match="takes 1 inputs"):
        verify(Graph([x], [wrong_arity]))


GOLDEN = """\
graph (x:f32[4,3], labels:i64[4]) {
  W:f32[3,2] = variable                       # test_ir.py:@w
  a:f32[4,2] = matmul x W                     # test_ir.py:@h
  b:f32[4,2] = relu a                         # test_ir.py:@h
  c:f32[4] = softmax_cross_entropy b labels   # test_ir.py:@loss
  d:f32[] = sum[axis=(0,), keepdims=False] c  # test_ir.py:@loss
  e:f32[] = divide d 4.0                      # test_ir.py:@loss
  return (e,)
}"""


def test_printing_is_deterministic_ssa() -> None:
    texts = []
    for _ in range(2):  # two identical graphs built apart print identically
        x = gc.placeholder((4, 3), name="x")
        labels = gc.placeholder((4,), "int64", name="labels")
        w = gc.variable(np.zeros((3, 2), np.float32), name="W")
        h = gc.relu(x @ w)
        loss = gc.mean(gc.softmax_cross_entropy(h, labels))
        texts.append(format_graph(Graph([x, labels], [loss])))
    golden = GOLDEN
    for key, node in (("@w", w), ("@h", h), ("@loss", loss)):
        golden = golden.replace(key, str(node.location.line))
    assert texts[0] == texts[1] == golden


def test_compiled_function_prints_outputs_and_updates() -> None:
    x = gc.placeholder((3,), name="x")
    w = gc.variable(np.ones(3, np.float32), name="w")
    loss = gc.sum(gc.tanh(x * w))
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], 0.5))
    text = str(f)
    assert text == f.pretty()
    assert text.startswith("graph (x:f32[3]) {") and "  update w <- " in text
    assert "grad of" in text  # backward nodes are marked
    assert "nodes" in f.report()
    assert str(f.source_graph).startswith("graph (x:f32[3])")
