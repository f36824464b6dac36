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


# What porting PyTorch's autograd tests to eager mode found (each failed before its fix).


def test_gradients_are_tensors_of_their_own_and_accumulate_in_place() -> None:
    a = eager.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = eager.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a + b).backward(np.array([5.0, 5.0]))  # add hands both the one cotangent
    assert a.grad is not b.grad
    a.grad.data[:] = 0.0
    np.testing.assert_array_equal(b.grad.data, [5.0, 5.0])
    kept = b.grad
    (a + b).backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(kept.data, [6.0, 7.0])  # as PyTorch: the same tensor, summed into


def test_a_hook_on_a_value_a_checkpointed_block_reads_sees_its_whole_gradient() -> None:
    # The block reads h, computed before it: its recomputation used to walk on into h's own
    # recording, calling h's hook twice with parts of its gradient ([5, 5], then [1, 2]).
    def run(checkpointed: bool) -> tuple[list[float], list[float], list[list[float]]]:
        x = eager.tensor(np.array([1.0, 2.0]), requires_grad=True)
        w = eager.tensor(np.array([3.0, -1.0]), requires_grad=True)
        h = x * w
        seen: list[list[float]] = []
        h.register_hook(lambda g: (seen.append(g.data.tolist()), gc.clip(g, -1.0, 1.0))[1])
        y = gc.checkpoint(lambda a: a * h, x) if checkpointed else x * h
        (gc.sum(y) + gc.sum(h * 5.0)).backward()
        return x.grad.data.tolist(), w.grad.data.tolist(), seen

    assert run(True) == run(False) == ([6.0, -3.0], [1.0, 2.0], [[6.0, 7.0]])


def test_a_frozen_block_keeps_only_the_globals_its_code_names() -> None:
    # Copying every global kept a training loop's last loss, and through its tape every block
    # before it: eager checkpoints in a loop at module level grew memory at each step.
    from graphc.recipes import frozen

    copy = frozen(lambda a: gc.tanh(a) * np.float64(2.0))
    assert set(copy.__globals__) <= {"__builtins__", "__name__", "gc", "np"}
    np.testing.assert_allclose(copy(eager.tensor(np.array([0.5]))).data, 2 * np.tanh(0.5))


def test_backward_after_an_optimizer_step_changed_a_parameter_is_refused() -> None:
    w = eager.tensor(np.ones(3), requires_grad=True)
    opt = gc.optim.sgd(None, [w], 1.0)
    loss_a, loss_b = gc.sum(w * w), gc.sum(w * 3.0)
    loss_a.backward()
    opt.step()  # w changes in place: loss_b's recording read the old values
    with pytest.raises(gc.GraphError, match="changed in place"):
        loss_b.backward()
    gc.sum(w * 3.0).backward()  # recorded again after the step: fine


def test_bad_values_and_gradients_are_clear_errors() -> None:
    i = eager.tensor(np.arange(3))
    with pytest.raises(gc.GraphError, match="only float tensors"):
        i.requires_grad = True
    with pytest.raises(gc.GraphError, match="rectangular"):
        eager.tensor([[1, 2], [3]])
    with pytest.raises(gc.DTypeError, match="does not fit"):
        eager.tensor(2**70)
    y = eager.tensor(np.ones(3), requires_grad=True) * 2.0
    for bad in ("abc", object()):
        with pytest.raises(gc.DTypeError, match="backward\\(gradient\\).*cannot make a float64 array"):
            y.backward(bad)
    with pytest.raises(gc.DTypeError, match="complex"):
        y.backward(np.ones(3) + 1j)


def test_zero_grad_zeros_the_gradient_in_place_and_a_grad_of_another_dtype_is_refused() -> None:
    w = eager.tensor(np.ones(2, np.float32), requires_grad=True)
    gc.sum(w * 3.0).backward()
    kept = w.grad
    w.zero_grad()
    gc.sum(w * 2.0).backward()
    np.testing.assert_array_equal(kept.data, [2.0, 2.0])  # the same tensor throughout
    w.grad = eager.tensor(np.zeros(2))  # float64 for a float32 tensor
    with pytest.raises(gc.GraphError, match="shape and dtype"):
        gc.sum(w * 2.0).backward()
