"""The loop node: gc.scan traced once into a body run by a native loop, against the same scan
unrolled (`unroll=True`, one copy of the body per step) to float64 rounding — values, gradients,
second-order products — on every back end; and what the compiler does with loops (hoisting,
merging the derivative's forward copy, pruning, nesting, failures inside a body)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc.ops.loop import LOOP

BACKENDS = ["numpy", "python", "numba"]


def _loops(graph: Any) -> list[Any]:
    return [n for n in graph.nodes if n.op is LOOP]


def _gated_rnn(unroll: bool, reverse: bool = False) -> tuple[list[Any], list[Any]]:
    """A small recurrent model: a tuple carry (state, running total, an int counter), a dict of
    xs, a captured weight, ys as a dict; its loss, gradients, an HVP and a JVP."""
    xs = gc.placeholder((5, 2, 3), "float64", name="xs")
    gate = gc.placeholder((5, 3), "float64", name="gate")
    h0 = gc.placeholder((2, 3), "float64", name="h0")
    w = gc.placeholder((3, 3), "float64", name="w")

    def cell(carry: Any, x: Any) -> Any:
        h, total, count = carry
        new = gc.tanh(h @ w + x["in"]) * gc.sigmoid(x["gate"]) + h * 0.5
        return (new, total + gc.sum(new * new), count + 1), {"h": new, "first": new[:, 0]}

    (h, total, count), ys = gc.scan(cell, (h0, gc.constant(0.0, "float64"), gc.constant(0)), {"in": xs, "gate": gate},
                                    reverse=reverse, unroll=unroll)
    loss = total + gc.sum(ys["h"] * gc.constant(np.linspace(-1, 1, 30).reshape(5, 2, 3))) + gc.sum(h) * gc.sum(ys["first"])
    grads = gc.grad(loss, [xs, gate, h0, w])
    hvp = gc.hvp(loss, [w, h0], [gc.constant(np.eye(3)), gc.constant(np.ones((2, 3)))])
    jvp = gc.jvp(ys["h"], [w], [gc.constant(np.full((3, 3), 0.1))])
    return [xs, gate, h0, w], [h, total, count, ys["h"], ys["first"], loss, *grads, *hvp, jvp]


def _feeds(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 3)), rng.standard_normal((2, 3)),
            rng.standard_normal((3, 3)) * 0.5]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_loop_computes_what_the_unrolled_scan_does_to_any_order(backend: str, reverse: bool) -> None:
    ins, outs = _gated_rnn(unroll=False, reverse=reverse)
    looped = gc.compile(ins, outs, backend=backend)
    assert len(_loops(looped.graph)) >= 3  # the forward loop, the backward loop, the tangents' loops
    u_ins, u_outs = _gated_rnn(unroll=True, reverse=reverse)
    unrolled = gc.compile(u_ins, u_outs, backend="numpy")
    assert not _loops(unrolled.graph)
    feeds = _feeds()
    for got, want in zip(looped(*feeds), unrolled(*feeds)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_body_is_compiled_once_whatever_the_length() -> None:
    def program(length: int) -> Any:
        xs = gc.placeholder((length, 4, 8), "float32", name="xs")
        w = gc.variable(np.full((8, 8), 0.05, np.float32), name="w")
        h, ys = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, gc.constant(np.zeros((4, 8), np.float32)), xs)
        loss = gc.mean(ys * ys)
        return gc.compile([xs], loss, updates={w: w - 0.1 * gc.grad(loss, w)})

    short, long = program(8), program(512)
    assert len(short._native.texts) == len(long._native.texts)  # a program as long, whatever the loop's length
    # The body's kernels are the same: compiled once, by `short`.
    body = [t for t in long._native.texts if t and "it0" in t]
    assert body and set(body) <= set(short._native.texts)
    x = np.random.default_rng(0).standard_normal((512, 4, 8)).astype(np.float32)
    long(x)


def test_a_scan_over_a_length_given_at_call_time_compiles_its_body_once() -> None:
    """One function serves every sequence length; each length's program reuses the body's
    kernels the first one compiled (only kernels over whole stacks are the length's own)."""
    xs = gc.placeholder((None, 4, 8), "float32", name="xs")
    w = gc.variable(np.full((8, 8), 0.05, np.float32), name="w")
    _, ys = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, gc.constant(np.zeros((4, 8), np.float32)), xs)
    loss = gc.mean(ys * ys)
    f = gc.compile([xs], [loss, gc.grad(loss, w)])
    short, long = f.program((8, 4, 8)), f.program((300, 4, 8))
    body = {t for t in long._native.texts if t and "it0" in t}
    assert body and body <= set(short._native.texts)
    for n in (8, 300, 8):
        x = np.random.default_rng(n).standard_normal((n, 4, 8)).astype(np.float32)
        h, total, grad = np.zeros((4, 8)), 0.0, np.zeros((8, 8))
        hs = []
        for t in range(n):  # NumPy's forward and backward of the same loss
            hs.append(h)
            h = np.tanh(h @ w.value + x[t])
            total += np.sum(h * h)
            hs[-1] = (hs[-1], h)
        dh = np.zeros((4, 8))
        for prev, now in reversed(hs):
            dz = (dh + 2 * now / (n * 32)) * (1 - now * now)
            grad += prev.T @ dz
            dh = dz @ w.value.T
        got_loss, got_grad = f(x)
        np.testing.assert_allclose(got_loss, total / (n * 32), rtol=2e-5)
        np.testing.assert_allclose(got_grad, grad, rtol=2e-4, atol=1e-6)


def test_what_a_body_computes_from_outside_alone_is_hoisted_out() -> None:
    xs = gc.placeholder((6, 3), "float64")
    w = gc.placeholder((3, 3), "float64")
    h, _ = gc.scan(lambda h, x: (gc.tanh(h @ gc.transpose(w * 2.0) + x), None), gc.constant(np.zeros(3)), xs)
    (loop,) = _loops(gc.compile([xs, w], h, backend="numpy").graph)
    ops = {n.op.name for n in loop.attrs["body"].graph.nodes}
    assert "transpose" not in ops and "multiply" not in ops  # once, before the loop
    assert {"matmul", "add", "tanh"} <= ops


def test_the_derivative_reads_the_forward_loop_and_unread_ys_are_dropped() -> None:
    xs = gc.placeholder((6, 3), "float64")
    w = gc.variable(np.eye(3) * 0.5)
    (h, total), ys = gc.scan(lambda c, x: ((gc.tanh(c[0] @ w + x), c[1] + gc.sum(x)), (c[0] * 2.0, c[0] * 3.0)),
                             (gc.constant(np.zeros(3)), gc.constant(0.0, "float64")), xs)
    loss = gc.sum(h) + gc.sum(ys[0])  # ys[1] is never read
    f = gc.compile([xs], [loss, gc.grad(loss, w)], backend="numpy")
    forward, backward = sorted(_loops(f.graph), key=lambda n: n.attrs["body"].reverse)
    assert not forward.attrs["body"].reverse and backward.attrs["body"].reverse
    # One forward loop: its ys the read ys[0] and what the backward steps read of the forward
    # ones (the tanh's values), not ys[1]; the backward body recomputes nothing of it.
    outputs = forward.attrs["body"].graph.outputs
    assert not any(o.op.name == "multiply" and 3.0 in [x.attrs.get("value") for x in o.inputs] for o in outputs)
    assert any(o.op.name == "tanh" for o in outputs[2:])
    assert not any(n.op.name == "tanh" for n in backward.attrs["body"].graph.nodes)
    dce = next(p for p in f.passes if p.name == "dce")
    assert dce.stats.get("loop_parts_dropped", 0) >= 1
    x = np.random.default_rng(1).standard_normal((6, 3))
    unrolled = gc.compile([xs], [loss, gc.grad(loss, w)], backend="numpy", optimize=False)
    np.testing.assert_allclose(f(x)[1], unrolled(x)[1], rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_carries_that_trade_places_are_read_before_they_are_rewritten(backend: str) -> None:
    a0 = gc.placeholder((3,), "float64")
    b0 = gc.placeholder((3,), "float64")
    (a, b), ys = gc.scan(lambda c, _: ((c[1], c[0] + 1.0), c[0]), (a0, b0), length=5)
    got = gc.compile([a0, b0], [a, b, ys], backend=backend)(np.zeros(3), np.full(3, 10.0))
    pairs = [(0.0, 10.0)]
    for _ in range(5):
        pairs.append((pairs[-1][1], pairs[-1][0] + 1))
    np.testing.assert_array_equal(got[0], np.full(3, pairs[-1][0]))
    np.testing.assert_array_equal(got[1], np.full(3, pairs[-1][1]))
    np.testing.assert_array_equal(got[2], np.array([[p[0]] * 3 for p in pairs[:5]]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_loops_and_their_gradients(backend: str) -> None:
    def build(unroll: bool) -> tuple[list[Any], list[Any]]:
        xs = gc.placeholder((3, 4, 2), "float64")
        w = gc.placeholder((2, 2), "float64")

        def outer(h: Any, row: Any) -> Any:
            inner, steps = gc.scan(lambda g, x: (gc.sin(g @ w) + x, g * x), h, row, unroll=unroll)
            return inner * 0.9, gc.sum(steps, axis=0)

        h, ys = gc.scan(outer, gc.constant(np.ones(2) * 0.1), xs, unroll=unroll)
        loss = gc.sum(h * h) + gc.sum(ys)
        return [xs, w], [loss, *gc.grad(loss, [xs, w]), gc.hvp(loss, [w], [gc.constant(np.ones((2, 2)))])[0]]

    ins, outs = build(False)
    f = gc.compile(ins, outs, backend=backend)
    (outer,) = [n for n in _loops(f.graph) if not n.attrs["body"].reverse and any(
        m.op is LOOP for m in n.attrs["body"].graph.nodes)][:1]
    assert outer.attrs["body"].length == 3
    u_ins, u_outs = build(True)
    rng = np.random.default_rng(2)
    feeds = [rng.standard_normal((3, 4, 2)), rng.standard_normal((2, 2))]
    for got, want in zip(f(*feeds), gc.compile(u_ins, u_outs, backend="numpy")(*feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_a_body_drawing_random_numbers_is_unrolled_each_step_its_own_draw() -> None:
    xs = gc.placeholder((4, 3), "float64")
    _, ys = gc.scan(lambda c, x: (c, x + gc.random_normal((3,), seed=5, dtype="float64")), gc.constant(0.0, "float64"), xs)
    f = gc.compile([xs], ys, backend="numpy")
    assert not _loops(f.graph)
    noise = f(np.zeros((4, 3)))
    assert len({tuple(row) for row in noise}) == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_failures_inside_a_body_name_the_body_node_and_change_nothing(backend: str) -> None:
    idx = gc.placeholder((4,), "int64", name="idx")
    table = gc.variable(np.arange(6.0).reshape(3, 2), name="table")
    total, _ = gc.scan(lambda c, i: (c + gc.sum(gc.take(table, i, axis=0)), None), gc.constant(0.0, "float64"), idx)
    f = gc.compile([idx], total, updates={table: table * 2.0}, backend=backend)
    assert f(np.array([0, 1, 2, 1])) == 1 + 5 + 9 + 5
    before = table.value
    with pytest.raises(gc.FeedError, match="7.*at step 1 of the loop"):
        f(np.array([0, 7, 1, 1]))
    np.testing.assert_array_equal(table.value, before)  # the update did not happen

    xs = gc.placeholder((3,), "float64")
    h, _ = gc.scan(lambda c, x: (c + gc.log(x), None), gc.constant(0.0, "float64"), xs)
    checked = gc.compile([xs], h, backend=backend, check_numerics=True)
    with pytest.raises(gc.NumericsError, match="log.*at step 1 of the loop"):
        checked(np.array([1.0, -1.0, 2.0]))


def test_the_printer_shows_a_loop_as_a_block_holding_its_body() -> None:
    xs = gc.placeholder((6, 3), "float64", name="xs")
    w = gc.placeholder((3, 3), "float64", name="w")
    h, _ = gc.scan(lambda h, x: (gc.tanh(h @ w + x), None), gc.constant(np.zeros(3)), xs)
    text = str(gc.compile([xs, w], h, backend="numpy").graph)
    assert "loop[steps=6]" in text and "body (carry" in text and "; x " in text and "reads w" in text
    assert "tanh" in text.split("body (")[1]


def test_a_loop_node_is_not_an_output() -> None:
    xs = gc.placeholder((2, 3), "float64")
    h, _ = gc.scan(lambda h, x: (h + x, None), gc.constant(np.zeros(3)), xs)
    with pytest.raises(gc.GraphError, match="several tensors"):
        gc.compile([xs], h.inputs[0])


# Found by a fresh-context review trying to break loops; each once a wrong result or a crash.

def test_a_checkpoint_in_a_body_passes_tangents_of_what_it_reads_from_outside() -> None:
    xs = gc.placeholder((2,), "float64")
    w = gc.placeholder((), "float64")

    def body(c: Any, x: Any) -> Any:  # the checkpointed block closes over w
        return gc.checkpoint(lambda a: gc.sin(a * w), c) + x, None

    got = []
    for unroll in (True, False):
        h, _ = gc.scan(body, gc.constant(0.5, "float64"), xs, unroll=unroll)
        one = gc.constant(1.0, "float64")
        f = gc.compile([xs, w], [gc.grad(h, w), gc.jvp(h, [w], [one]), gc.hvp(h, [w], [one])[0]], backend="python")
        got.append(f(np.array([0.3, -0.2]), 0.7))
    np.testing.assert_allclose(got[1], got[0], rtol=1e-13)
    assert abs(got[1][1]) > 0.5  # the tangent reached


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_a_body_ignoring_its_carry_and_one_reading_a_weight_and_its_transpose(backend: str) -> None:
    xs = gc.placeholder((4, 2, 3), "float64")
    w = gc.placeholder((3, 3), "float64")
    h, _ = gc.scan(lambda c, x: (gc.tanh(x @ w), None), gc.constant(np.zeros((2, 3))), xs)
    np.testing.assert_allclose(gc.compile([xs, w], h, backend=backend)(np.ones((4, 2, 3)), np.eye(3)), np.tanh(1.0))
    # The product h @ u.T's gradient is summed into a carry by one gemm, and is read again by
    # another gradient: the product must be kept for it.
    _, ys = gc.scan(lambda h, x: (h @ w + h @ gc.transpose(w) + x, h @ w), gc.constant(np.zeros((2, 3))), xs)
    g = gc.grad(gc.sum(ys), w)
    _, u_ys = gc.scan(lambda h, x: (h @ w + h @ gc.transpose(w) + x, h @ w), gc.constant(np.zeros((2, 3))), xs, unroll=True)
    want = gc.compile([xs, w], gc.grad(gc.sum(u_ys), w), backend="numpy", optimize=False)(np.ones((4, 2, 3)), np.eye(3) * 0.5)
    np.testing.assert_allclose(gc.compile([xs, w], g, backend=backend)(np.ones((4, 2, 3)), np.eye(3) * 0.5), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nan_in_a_differentiated_body_is_named(backend: str) -> None:
    xs = gc.placeholder((3,), "float64", name="xs")
    h, _ = gc.scan(lambda c, x: (c + gc.sqrt(x * 2.0), None), gc.constant(0.0, "float64"), xs)
    f = gc.compile([xs], [h, gc.grad(h, xs)], backend=backend, check_numerics=True)
    with pytest.raises(gc.NumericsError, match="sqrt"):
        f(np.array([1.0, -1.0, 2.0]))


def test_a_memory_budget_the_loop_already_meets_is_met() -> None:
    xs = gc.placeholder((16, 8, 32), "float64", name="xs")
    w = gc.variable(np.random.default_rng(5).standard_normal((32, 32)) * 0.2, name="w")
    _, ys = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, gc.constant(np.zeros((8, 32))), xs)
    loss = gc.mean(ys * ys)
    plain = gc.compile([xs], [loss, gc.grad(loss, w)], backend="python")
    budgeted = gc.compile([xs], [loss, gc.grad(loss, w)], backend="python", memory_budget=plain.memory.arena_bytes)
    assert budgeted.memory.arena_bytes <= plain.memory.arena_bytes


def test_the_kernel_list_shows_each_loops_body_under_it() -> None:
    xs = gc.placeholder((5, 4, 3), "float32", name="xs")
    w = gc.variable(np.ones((3, 3), np.float32) * 0.1, name="W")
    h, ys = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, gc.constant(np.zeros((4, 3), np.float32)), xs)
    loss = gc.sum(ys) + gc.sum(h)
    lines = gc.compile([xs], loss, updates={w: w - 0.1 * gc.grad(loss, w)}, backend="python").kernels()
    assert any(line.startswith("loop ") and "5 steps, each running:" in line for line in lines)
    assert any(line.startswith("loop ") and "5 steps (reversed)" in line for line in lines)
    assert any(line.startswith("    fused") for line in lines)  # a body's group, indented under its loop
    assert any("gemm into its loop's carry" in line for line in lines)


def _moved(f: gc.Function) -> int:
    return sum(p.stats.get("products out of loops", 0) for p in f.passes)


@pytest.mark.parametrize("form", ["h.T @ d", "a @ d", "h.T @ e.T", "a @ e.T"])
def test_a_carry_summing_products_becomes_one_product_after_the_loop(form: str) -> None:
    """`acc + l @ r` with both operands per-step values is computed after the loop from their
    stacks, whichever operands are transposes; the carry is gone from the loop."""
    rng = np.random.default_rng(7)
    hs = gc.placeholder((6, 4, 6), "float64", name="hs")
    ws = gc.placeholder((6, 4, 5), "float64", name="ws")

    def step(acc: Any, x: Any) -> Any:
        h, w = x["h"], x["w"]
        d = gc.tanh(w) * 2.0  # [4, 5], computed in the body
        a, e = gc.transpose(h * 1.5), gc.transpose(d)  # [6, 4] computed; [5, 4] computed
        left = gc.transpose(h) if form.startswith("h.T") else a
        right = d if form.endswith("d") else gc.transpose(e)
        return acc + left @ right, gc.sum(d)

    start = rng.standard_normal((6, 5))
    total, ys = gc.scan(step, gc.constant(start), {"h": hs, "w": ws})
    feeds = [rng.standard_normal((6, 4, 6)), rng.standard_normal((6, 4, 5))]
    want = start + sum((1.5 if form.startswith("a") else 1.0) * h.T @ (np.tanh(w) * 2.0) for h, w in zip(*feeds))
    for backend in BACKENDS:
        f = gc.compile([hs, ws], [total, ys], backend=backend)
        assert _moved(f) == 1, backend
        (loop,) = _loops(f.graph)
        assert loop.attrs["body"].carries == 0
        got, got_ys = f(*feeds)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(got_ys, [np.sum(np.tanh(w) * 2.0) for w in feeds[1]], rtol=1e-12)


def test_a_weight_gradient_through_time_is_one_product_of_the_stacks_the_loops_keep() -> None:
    """The gradient of a recurrent weight sums h[t-1].T @ dz[t] over steps: computed after the
    backward loop from the forward loop's stack of h and the backward loop's stack of dz (which
    the input weight's gradient reads too), equal to the unrolled program's."""
    def model(unroll: bool) -> tuple[list[Any], list[Any]]:
        xs = gc.placeholder((7, 4, 6), "float64", name="xs")
        wx = gc.placeholder((6, 8), "float64", name="wx")
        wh = gc.placeholder((8, 8), "float64", name="wh")
        projected = gc.reshape(gc.reshape(xs, (28, 6)) @ wx, (7, 4, 8))
        h, ys = gc.scan(lambda h, z: (gc.tanh(z + h @ wh),) * 2, gc.constant(np.zeros((4, 8))), projected, unroll=unroll)
        loss = gc.sum(h * h) + gc.mean(ys)
        return [xs, wx, wh], [loss, *gc.grad(loss, [wx, wh, xs])]

    rng = np.random.default_rng(3)
    feeds = [rng.standard_normal((7, 4, 6)), rng.standard_normal((6, 8)) * 0.3, rng.standard_normal((8, 8)) * 0.3]
    ins, outs = model(unroll=False)
    f = gc.compile(ins, outs, backend="numba")
    assert _moved(f) == 1
    backward = next(n for n in _loops(f.graph) if n.attrs["body"].reverse)
    assert not any(n.op.name == "matmul" and n.shape == (8, 8) for n in backward.attrs["body"].graph.nodes)
    u_ins, u_outs = model(unroll=True)
    for got, want in zip(f(*feeds), gc.compile(u_ins, u_outs, backend="numpy")(*feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_carries_that_are_more_than_a_sum_of_products_stay_in_the_loop() -> None:
    xs = gc.placeholder((5, 3, 3), "float64", name="xs")
    w = gc.placeholder((3, 3), "float64", name="w")
    rng = np.random.default_rng(4)
    feeds = [rng.standard_normal((5, 3, 3)), rng.standard_normal((3, 3))]
    bodies = {
        "read by the step": lambda acc, x: (acc + x.T @ x, gc.sum(acc)),
        "scaled": lambda acc, x: (acc * 0.5 + x.T @ x, None),
        "an outside operand": lambda acc, x: (acc + w @ x, None),
    }
    for name, body in bodies.items():
        total, _ = gc.scan(body, gc.constant(np.eye(3)), xs)
        f = gc.compile([xs, w], total, backend="numpy")
        unrolled_total, _ = gc.scan(body, gc.constant(np.eye(3)), xs, unroll=True)
        want = gc.compile([xs, w], unrolled_total, backend="numpy")(*feeds)
        np.testing.assert_allclose(f(*feeds), want, rtol=1e-12, err_msg=name)
        assert _moved(f) == 0, name
    # A new stack of a step's operand larger than the carry (not a thin product) would cost more
    # memory than the product saves time.
    tall = gc.placeholder((5, 8, 2), "float64", name="tall")
    total, _ = gc.scan(lambda acc, x: (acc + x.T @ (x * 2.0), None), gc.constant(np.zeros((2, 2))), tall)
    assert _moved(gc.compile([tall], total, backend="numpy")) == 0


def test_every_carry_summing_products_leaves_the_loop() -> None:
    """Two carries of one loop, each summing products of the step's values: both are moved out
    (an RNN's input and recurrent weight gradients alike)."""
    xs = gc.placeholder((6, 4, 5), "float64", name="xs")
    ds = gc.placeholder((6, 4, 5), "float64", name="ds")

    def step(c: Any, x: Any) -> Any:
        a, b = c
        return (a + gc.transpose(x["x"]) @ x["d"], b + gc.transpose(gc.tanh(x["x"])) @ x["d"]), gc.sum(x["d"])

    rng = np.random.default_rng(8)
    start = [rng.standard_normal((5, 5)), rng.standard_normal((5, 5))]
    (a, b), _ = gc.scan(step, (gc.constant(start[0]), gc.constant(start[1])), {"x": xs, "d": ds})
    f = gc.compile([xs, ds], [a, b], backend="numpy")
    assert _moved(f) == 2
    (loop,) = _loops(f.graph)
    assert loop.attrs["body"].carries == 0
    x, d = rng.standard_normal((6, 4, 5)), rng.standard_normal((6, 4, 5))
    got = f(x, d)
    np.testing.assert_allclose(got[0], start[0] + sum(u.T @ v for u, v in zip(x, d)), rtol=1e-12)
    np.testing.assert_allclose(got[1], start[1] + sum(np.tanh(u).T @ v for u, v in zip(x, d)), rtol=1e-12)
