"""The define-by-run baseline: PyTorch-like accumulation, hooks, no_grad, detach, and one model
function that runs both ways."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager


def test_a_tensor_used_twice_sums_its_gradients() -> None:
    x = eager.tensor(2.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert float(x.grad) == 5.0


def test_non_leaves_keep_grad_only_when_asked() -> None:
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = h * 2
    gc.sum(k * k).backward()
    np.testing.assert_array_equal(h.grad.data, 2 * 2 * k.data)
    assert k.grad is None and not k.is_leaf and x.is_leaf


def test_hooks_see_and_may_replace_the_gradient() -> None:
    x = eager.tensor([1.0, -1.0], requires_grad=True)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    handle = h.register_hook(lambda g: g * 0)
    gc.sum(h).backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    handle.remove()
    x.zero_grad()
    gc.sum(h).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_no_grad_and_detach_cut_the_tape() -> None:
    x = eager.tensor(3.0, requires_grad=True)
    with eager.no_grad():
        y = x * 2
    assert not y.requires_grad
    z = x.detach() * x
    z.backward()
    assert float(x.grad) == 3.0  # only through the attached factor
    with pytest.raises(gc.GraphError, match="does not require grad"):
        y.backward()


def test_one_model_function_runs_both_ways() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    labels = rng.integers(0, 3, 5)
    w1, w2 = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))

    def model(x, labels, w1, w2):  # type: ignore[no-untyped-def]
        return gc.mean(gc.softmax_cross_entropy(gc.relu(x @ w1) @ w2, labels))

    xs, ls = gc.placeholder((5, 4), "float64"), gc.placeholder((5,), "int64")
    v1, v2 = gc.variable(w1, name="w1"), gc.variable(w2, name="w2")
    loss = model(xs, ls, v1, v2)
    f = gc.compile([xs, ls], [loss, *gc.grad(loss, [v1, v2])])
    graph_loss, g1, g2 = f(x, labels)
    e1, e2 = eager.tensor(w1, requires_grad=True), eager.tensor(w2, requires_grad=True)
    eager_loss = model(eager.tensor(x), eager.tensor(labels), e1, e2)
    eager_loss.backward()
    assert float(eager_loss) == float(graph_loss)
    np.testing.assert_allclose(e1.grad.data, g1, rtol=1e-13)
    np.testing.assert_allclose(e2.grad.data, g2, rtol=1e-13)


def test_backward_is_iterative_on_deep_tapes() -> None:
    x = eager.tensor(np.float64(1.0), requires_grad=True)
    h = x
    for _ in range(20_000):
        h = h * 1.0
    h.backward()
    assert float(x.grad) == 1.0


def test_float_conversion_and_repr() -> None:
    t = eager.tensor([1.5, 2.5])
    assert t.dtype == np.float32 and t.shape == (2,)
    np.testing.assert_array_equal(np.asarray(t), [1.5, 2.5])
    assert "requires_grad" in repr(eager.tensor(1.0, requires_grad=True))
