"""gc.checkpoint: the results of a checkpointed program equal the plain program's bit for bit
(values, gradients, second order; nested blocks; weights the block closes over), random draws
are replayed in the recomputation, the arena shrinks, and eager mode agrees."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager

RNG = np.random.default_rng(0)
W_VALUES = [RNG.standard_normal((6, 6)) * 0.6 for _ in range(3)]


def _layer(w):  # type: ignore[no-untyped-def]
    return lambda h: gc.tanh(gc.tanh(h @ w) * 1.5 + 0.1)


def _model(x, ws, blocks):  # type: ignore[no-untyped-def]
    h = x
    for w, wrapped in zip(ws, blocks):
        h = gc.checkpoint(_layer(w), h) if wrapped else _layer(w)(h)
    return gc.sum(h * h)


@pytest.mark.parametrize("blocks", [(True, True, True), (False, True, False), (True, False, True)])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_checkpointed_programs_equal_the_plain_one_to_second_order(blocks, backend: str) -> None:  # type: ignore[no-untyped-def]
    x = gc.placeholder((4, 6), "float64")
    ws = [gc.variable(w) for w in W_VALUES]
    outs = []
    for wrapped in (blocks, (False, False, False)):
        loss = _model(x, ws, wrapped)
        grads = gc.grad(loss, [x, *ws])
        hv = gc.hvp(loss, [x, ws[0]], [gc.constant(np.ones((4, 6))), gc.constant(np.ones((6, 6)))])
        outs.append([loss, *grads, *hv])
    f = gc.compile([x], outs[0] + outs[1], backend=backend)
    got = f(RNG.standard_normal((4, 6)))
    n = len(outs[0])
    for a, b in zip(got[:n], got[n:]):
        np.testing.assert_array_equal(a, b)


def test_a_block_can_hold_another() -> None:
    x = gc.placeholder((4, 6), "float64")
    ws = [gc.variable(w) for w in W_VALUES[:2]]
    inner = lambda h: gc.checkpoint(_layer(ws[1]), _layer(ws[0])(h))  # noqa: E731
    nested = gc.sum(gc.checkpoint(inner, x) ** 2)
    plain = gc.sum(_layer(ws[1])(_layer(ws[0])(x)) ** 2)
    f = gc.compile([x], [*gc.grad(nested, [x, *ws]), *gc.grad(plain, [x, *ws])])
    got = f(RNG.standard_normal((4, 6)))
    for a, b in zip(got[:3], got[3:]):
        np.testing.assert_array_equal(a, b)


def test_the_recomputation_draws_what_the_forward_pass_drew() -> None:
    x = gc.placeholder((200,), "float64")
    y = gc.checkpoint(lambda h: gc.dropout(h, 0.5, seed=3) * 3.0, x)
    (g,) = gc.grad(gc.sum(y), [x])
    f = gc.compile([x], [y, g])
    for _ in range(3):  # a new mask each call, the same one in both passes
        value, grad = f(np.ones(200))
        np.testing.assert_array_equal(grad, np.where(value != 0, 6.0, 0.0))
        assert 0.3 < (value != 0).mean() < 0.7


def test_a_block_with_dropout_is_recomputed_once() -> None:
    # Differentiating a block traces it again once per input; the copies used to stay apart
    # wherever a draw fed them (draws were never merged): n layers made n + n**2 draws and as
    # many products. Now the copies are one: each draw is made twice (forward, recomputation).
    gc.set_seed(0)
    n = 4
    ws = [gc.variable(RNG.standard_normal((16, 16)) * 0.3) for _ in range(n)]
    x = gc.placeholder((8, 16), "float64")

    def block(h):  # type: ignore[no-untyped-def]
        for w in ws:
            h = gc.dropout(gc.tanh(h @ w), 0.5)
        return h

    checked = gc.sum(gc.checkpoint(block, x) ** 2)
    f = gc.compile([x], [checked, *gc.grad(checked, ws)])
    ops = [node.op.name for node in f.graph.nodes]
    assert ops.count("random_uniform") == 2 * n and ops.count("matmul") == 4 * n - 1
    gc.set_seed(0)  # the plain model's draws take the same streams again
    plain = gc.sum(block(x) ** 2)
    g = gc.compile([x], [plain, *gc.grad(plain, ws)])
    data = RNG.standard_normal((8, 16))
    for _ in range(2):
        for a, b in zip(f(data), g(data)):
            np.testing.assert_array_equal(a, b)


def test_checkpoints_shrink_the_arena() -> None:
    x = gc.placeholder((256, 128))
    ws = [gc.variable((RNG.standard_normal((128, 128)) * 0.05).astype(np.float32)) for _ in range(12)]
    arenas = []
    for wrapped in ((False,) * 12, (True,) * 12):
        loss = _model(x, ws, wrapped)
        arenas.append(gc.compile([x], loss, updates=gc.optim.sgd(loss, ws, 0.01)).memory.arena_bytes)
    assert arenas[1] < 0.8 * arenas[0], arenas


def test_eager_checkpoints_agree_with_plain_eager() -> None:
    results = []
    for wrapped in ((True, True, False), (False, False, False)):
        ws = [eager.tensor(w, requires_grad=True) for w in W_VALUES]
        x = eager.tensor(np.ones((4, 6)), requires_grad=True)
        loss = _model(x, ws, wrapped)
        loss.backward()
        results.append([loss.data, x.grad.data, *(w.grad.data for w in ws)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_each_eager_backward_pass_sends_its_own_cotangent_through_the_block() -> None:
    # Found by the fuzzer (seed 91401): the recomputed gradients were remembered under the
    # cotangent's id, which a later pass's cotangent may get once the first is freed.
    x = eager.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    w = eager.tensor(np.array([1.5, 0.5, -2.0]), requires_grad=True)
    y = gc.checkpoint(lambda a: gc.tanh(a * w), x)
    for scale in (1.0, -2.0, 3.0, 0.5, 7.0):
        x.grad = w.grad = None
        gc.sum(y * scale).backward()
        slope = scale * (1 - np.tanh(x.data * w.data) ** 2)
        np.testing.assert_allclose(x.grad.data, slope * w.data, rtol=1e-14)
        np.testing.assert_allclose(w.grad.data, slope * x.data, rtol=1e-14)


def test_eager_outputs_of_one_block_sent_one_cotangent_each_get_their_own_gradient() -> None:
    # a + b sends the same cotangent object to both outputs (helper review: [6, 6], not [5, 5])
    x = eager.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a, b = gc.checkpoint(lambda t: (t * 2.0, gc.sin(t) * 3.0), x)
    gc.sum(a + b).backward()
    np.testing.assert_allclose(x.grad.data, 2.0 + 3.0 * np.cos(x.data), rtol=1e-15)


def test_an_eager_recomputation_draws_the_same_dropout_mask() -> None:
    x = eager.tensor(np.ones(200), requires_grad=True)
    y = gc.checkpoint(lambda a: gc.dropout(a, 0.5), x)
    gc.sum(y).backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


def test_a_function_using_checkpoint_says_why_it_cannot_be_saved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = gc.placeholder((3,), "float64")
    f = gc.compile([x], gc.checkpoint(lambda a: gc.sin(a), x))
    with pytest.raises(gc.GraphcError, match="gc.checkpoint holds Python code"):
        gc.save(tmp_path / "f.npz", f)


def test_a_block_reading_eager_tensors_runs_eagerly_on_graph_inputs_with_values() -> None:
    # Found by the fuzzer: a graph tensor of no placeholder (a random draw) checkpointed through
    # a block that reads an eager weight; the checkpoint runs eagerly, as the rest of the step.
    w = eager.tensor(np.array([0.5, 2.0]), requires_grad=True)
    x = gc.random_normal((2,), seed=3, dtype="float64")
    y = gc.checkpoint(lambda a: gc.tanh(a * w), x)
    gc.sum(y).backward()
    value = gc.compile([], x, backend="numpy")()
    np.testing.assert_allclose(y.data, np.tanh(value * [0.5, 2.0]))
    np.testing.assert_allclose(w.grad.data, value * (1 - np.tanh(value * [0.5, 2.0]) ** 2))


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_a_block_returning_something_else_than_tensors_says_so(mode: str) -> None:
    x = gc.placeholder((3,), "float64") if mode == "graph" else eager.tensor(np.ones(3), requires_grad=True)
    for bad in ("abc", None):
        with pytest.raises(gc.GraphError, match="must return tensors.*got"):
            gc.checkpoint(lambda h, bad=bad: (h * 2.0, bad), x)


def test_an_argument_the_block_also_reads_from_outside_gets_both_paths_gradient() -> None:
    # checkpoint(lambda a: a * h, h): the recomputation read h's closure copy untouched, so the
    # gradient along it was lost (graph mode: half of it) or sent twice through a hook (eager).
    data = np.array([0.5, -1.0, 2.0])
    x = gc.placeholder((3,), "float64")
    h = x * 2.0
    jvp_of = gc.jvp(gc.checkpoint(lambda a: a * h, h), x, gc.constant(np.ones(3)))
    grad_of = gc.grad(gc.sum(gc.checkpoint(lambda a: a * h, h)), x)
    np.testing.assert_allclose(gc.compile([x], [grad_of, jvp_of])(data), [8 * data, 8 * data])
    seen: list[list[float]] = []
    xe = eager.tensor(data, requires_grad=True)
    he = xe * 2.0
    he.register_hook(lambda g: (seen.append(g.data.tolist()), gc.clip(g, -1.0, 1.0))[1])
    gc.sum(gc.checkpoint(lambda a: a * he, he)).backward()
    assert seen == [[2.0, -4.0, 8.0]]
    np.testing.assert_allclose(xe.grad.data, [2.0, -2.0, 2.0])
