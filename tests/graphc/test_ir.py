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


@pytest.mark.parametrize("a,b,want", [
    ("float32", "int64", "float32"), ("int32", "float64", "float64"), ("float32", "bool", "float32"),
    ("float32", "float64", "float64"), ("int8", "uint8", "int16"), ("bool", "int32", "int32"),
    ("uint8", "int64", "int64"),
])
def test_tensors_of_different_kinds_promote_as_pytorch(a: str, b: str, want: str) -> None:
    x, y = gc.placeholder((3,), a), gc.placeholder((3,), b)
    for out in (x + y, y * x, gc.maximum(x, y), gc.where(x == x, x, y), gc.concatenate([x, y])):
        assert out.dtype == np.dtype(want), (out, a, b)


def test_an_integer_tensor_meets_a_float_one_in_its_dtype_on_every_back_end() -> None:
    # 16777217 is not a float32: PyTorch rounds it to 16777216 before adding, and so does graphc
    # (NumPy would add in float64 and round once, to 16777218).
    x, n = gc.placeholder((2,), "float32"), gc.placeholder((2,), "int64")
    outs = [x + n, n * x, x < n, gc.matmul(gc.reshape(n, (1, 2)), gc.reshape(x, (2, 1)))]
    feeds = np.array([0.5, 1.0], np.float32), np.array([16777217, 3])
    want = [np.array([16777216.0, 4.0], np.float32), np.array([8388608.0, 3.0], np.float32), [True, True]]
    for backend in ("numpy", "numba"):
        got = gc.compile([x, n], outs, backend=backend)(*feeds)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        assert got[0].dtype == np.float32 and got[3].dtype == np.float32
    # Compared in float32 too: 16777216.0 < 16777217 is False once the integer is a float32.
    big = np.array([16777216.0, 1.0], np.float32)
    for backend in ("numpy", "numba"):
        np.testing.assert_array_equal(gc.compile([x, n], x < n, backend=backend)(big, feeds[1]), [False, True])
    torch = pytest.importorskip("torch")
    tx, tn = torch.tensor(feeds[0]), torch.tensor(feeds[1])
    np.testing.assert_array_equal((tx + tn).numpy(), want[0])
    np.testing.assert_array_equal((torch.tensor(big) < tn).numpy(), [False, True])
