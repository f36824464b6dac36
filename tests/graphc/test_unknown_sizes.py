"""Placeholders with sizes given at call time (`None` or -1): one compiled function serves every
batch size, each size equal to the graph built with that size declared."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

RNG = np.random.default_rng(7)
X = RNG.normal(size=(45, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 45)
W0 = RNG.normal(size=(5, 3)).astype(np.float32)


def _classifier(batch, backend="numba", params=None, optimizer=gc.optim.adam):
    """A softmax classifier's training step with batch dimension `batch` (None: given at call time)."""
    gc.set_seed(11)
    x = gc.placeholder((batch, 5), name="x")
    y = gc.placeholder((batch,), "int64", name="y")
    w, b = params or (gc.variable(W0, name="w"), gc.variable(np.zeros(3, np.float32), name="b"))
    h = gc.dropout(gc.tanh(x @ w), 0.25) + b
    loss = gc.mean(gc.softmax_cross_entropy(h, y)) + 0.01 * gc.mean((x - gc.mean(x, axis=0)) ** 2)
    return gc.compile([x, y], [loss, h], updates=optimizer(loss, [w, b], lr=0.05), backend=backend), (w, b)


@pytest.fixture(scope="module")
def classifier():
    return _classifier(None)


def test_one_function_serves_every_batch_size_as_the_declared_sizes_would() -> None:
    f, (w, b) = _classifier(None, optimizer=gc.optim.sgd)
    declared = (gc.variable(W0), gc.variable(np.zeros(3, np.float32)))
    sizes = [16, 16, 8, 5]
    at = np.cumsum([0] + sizes)
    for k, n in enumerate(sizes):
        loss, h = f(X[at[k]:at[k + 1]], Y[at[k]:at[k + 1]])
        # The same step built with the size declared, on its own copy of the variables.
        fixed, _ = _classifier(n, backend="numpy", params=declared, optimizer=gc.optim.sgd)
        fixed._steps = k  # the k-th call draws the k-th dropout mask
        loss_e, h_e = fixed(X[at[k]:at[k + 1]], Y[at[k]:at[k + 1]])
        assert h.shape == h_e.shape == (n, 3)
        np.testing.assert_allclose(loss, loss_e, rtol=2e-6)
        np.testing.assert_allclose(h, h_e, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(w.value, declared[0].value, rtol=2e-5, atol=1e-6)
    assert len(f.losses()) == len(sizes)
    assert "programs built for the sizes fed: x (16, 5), y (16,); x (8, 5), y (8,); x (5, 5), y (5,)" in f.report()


def test_shapes_show_none_where_the_size_comes_at_call_time() -> None:
    x = gc.placeholder((-1, 4), name="x")
    assert x.shape == (None, 4) and x.dtype == np.float32 and x.name == "x"
    assert "f32[None,4]" in repr(x)
    assert (x @ np.ones((4, 2), np.float32)).shape == (None, 2)
    assert gc.mean(x, axis=0).shape == (4,)
    assert gc.reshape(x, (-1, 2)).shape == (None, 2)
    assert x.T.shape == (4, None) and x[1:].shape == (None, 4) and x[0].shape == (4,)
    assert gc.concatenate([x, x], axis=0).shape == (None, 4)
    assert gc.grad(gc.sum(gc.tanh(x)), x).shape == (None, 4)
    assert np.exp(x).shape == (None, 4)
    with pytest.raises(gc.GraphcError, match="first dimension is given at call time"):
        len(x)


def test_values_that_depend_on_the_size_are_computed_for_each_size() -> None:
    x = gc.placeholder((None, 3), "float64", name="x")
    flat = gc.reshape(x, (-1,))
    f = gc.compile([x], [gc.mean(x, axis=0), gc.var(x), flat[1:] * 2.0, gc.sum(gc.grad(gc.mean(x * x), x))])
    for n in (1, 2, 7, 240, 241):
        a = RNG.normal(size=(n, 3))
        m, v, tail, g = f(a)
        np.testing.assert_allclose(m, a.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(v, a.var(), rtol=1e-12)
        np.testing.assert_allclose(tail, a.reshape(-1)[1:] * 2.0)
        np.testing.assert_allclose(g, (2 * a / a.size).sum(), rtol=1e-12, atol=1e-15)


def test_feeds_are_checked_and_the_message_names_the_dimension(classifier) -> None:
    f, (w, _) = classifier
    before = w.value
    with pytest.raises(gc.FeedError, match=r"dimension 1 is 4, not 5"):
        f(np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    with pytest.raises(gc.FeedError, match=r"2 dimensions instead of 1"):
        f(np.zeros((8, 5), np.float32), np.zeros((8, 1), np.int64))
    # Sizes that the graph cannot combine: rows of x against labels of another length.
    with pytest.raises(gc.FeedError, match=r"cannot be built for the shapes fed \(x \(8, 5\), y \(6,\)\).*test_unknown"):
        f(np.zeros((8, 5), np.float32), np.zeros(6, np.int64))
    np.testing.assert_array_equal(w.value, before)


def test_run_many_takes_a_last_short_batch() -> None:
    (f, _), (g, _) = _classifier(None), _classifier(None)
    batches = [(X[i:min(i + 16, 40)], Y[i:min(i + 16, 40)]) for i in range(0, 40, 16)]  # 16, 16, 8
    losses, hs = f.run_many([b[0] for b in batches], [b[1] for b in batches])
    assert losses.shape == (3,) and [h.shape for h in hs] == [(16, 3), (16, 3), (8, 3)]
    np.testing.assert_array_equal(losses, [g(*batch)[0] for batch in batches])
    np.testing.assert_array_equal(f.losses(), g.losses())
    stacked_losses, stacked_h = f.run_many(np.stack([X[:8], X[8:16]]), np.stack([Y[:8], Y[8:16]]))
    assert stacked_losses.shape == (2,) and stacked_h.shape == (2, 8, 3)
    np.testing.assert_array_equal(stacked_losses, [g(X[:8], Y[:8])[0], g(X[8:16], Y[8:16])[0]])


def test_a_failing_run_many_changes_nothing(classifier) -> None:
    f, (w, _) = classifier
    before, calls = w.value, f._steps
    with pytest.raises(gc.FeedError):
        f.run_many([X[:16], X[16:24]], [Y[:16], Y[16:20]])
    np.testing.assert_array_equal(w.value, before)
    assert f._steps == calls


def test_looking_inside_needs_a_program() -> None:
    x = gc.placeholder((None, 2), name="x")
    f = gc.compile([x], gc.sum(x * 2.0), backend="numpy")
    with pytest.raises(gc.GraphcError, match="until it is called"):
        f.report()
    program = f.program((3, 2))
    assert program.graph.inputs[0].shape == (3, 2)
    assert "sum" in f.pretty() and f.memory is not None
    assert f(np.ones((4, 2), np.float32)) == 16.0
    assert f.graph.inputs[0].shape == (4, 2)


def test_scan_checkpoint_and_cond_take_a_batch_of_any_size() -> None:
    x = gc.placeholder((None, 6, 2), "float64", name="x")
    w = gc.variable(RNG.normal(size=(2, 2)), name="w")
    xs = gc.transpose(x, (1, 0, 2))

    def step(h, xt):
        h = gc.tanh(h @ w + xt)
        return h, gc.sum(h, axis=1)

    h, ys = gc.scan(step, xs[0] * 0.0, xs)
    h = gc.checkpoint(lambda v: gc.sigmoid(v) * v, h)
    out = gc.cond(gc.sum(h) > 0, lambda v: v * 2.0, lambda v: -v, h)
    loss = gc.sum(out) + gc.sum(ys)
    f = gc.compile([x], [loss, gc.grad(loss, w)], backend="numpy")
    for n in (1, 3):
        a = RNG.normal(size=(n, 6, 2))
        hv = np.zeros((n, 2))
        total = 0.0
        for t in range(6):
            hv = np.tanh(hv @ w.value + a[:, t])
            total += hv.sum()
        c = hv / (1 + np.exp(-hv))
        expected = total + (2 * c.sum() if c.sum() > 0 else -c.sum())
        loss_v, _ = f(a)
        np.testing.assert_allclose(loss_v, expected, rtol=1e-12)


def test_a_tensor_of_unknown_size_captured_by_a_block() -> None:
    x = gc.placeholder((None, 2), "float64", name="x")
    # A scan reading x from outside its arguments is recorded whole, replayed as a loop at each size.
    total, _ = gc.scan(lambda c, t: (c + gc.sum(x) * t, c), gc.constant(0.0, "float64"), gc.constant(np.ones(3)))
    f = gc.compile([x], total, backend="numpy")
    assert f(np.ones((5, 2))) == 30.0
    # A checkpoint's block must receive it as an argument: it is recomputed behind a barrier.
    w = gc.variable(np.ones(2))
    with pytest.raises(gc.GraphError, match="pass it as an argument"):
        gc.checkpoint(lambda v: v * gc.sum(x), w)


def test_shapes_that_cannot_meet_fail_where_written() -> None:
    x = gc.placeholder((None,), name="x")
    with pytest.raises(gc.ShapeError, match=r"set to 240.*test_unknown_sizes.py"):
        x + gc.constant(np.ones(3, np.float32))
    with pytest.raises(gc.ShapeError, match="placeholder"):
        gc.placeholder((None, "a"))


def test_every_random_draw_is_the_one_the_declared_graph_makes() -> None:
    def build(batch):
        gc.set_seed(3)
        x = gc.placeholder((batch, 4), name="x")
        return gc.compile([x], x * gc.random_normal((4,)) + gc.dropout(x, 0.5), backend="numpy")

    f, g = build(None), build(5)
    a = RNG.normal(size=(5, 4)).astype(np.float32)
    for _ in range(2):
        np.testing.assert_array_equal(f(a), g(a))


def test_eager_tensors_are_untouched_and_saving_says_what_it_cannot(tmp_path) -> None:
    t = gc.eager.tensor(np.ones((2, 3)), requires_grad=True)
    gc.sum(gc.tanh(t)).backward()
    assert t.grad.shape == (2, 3)
    x = gc.placeholder((None, 2), name="x")
    f = gc.compile([x], gc.sum(x), backend="numpy")
    with pytest.raises(gc.GraphcError, match="one size's program"):
        gc.save(tmp_path / "f.npz", f)
    gc.save(tmp_path / "g.npz", f.program((3, 2)))
    assert gc.load(tmp_path / "g.npz")(np.ones((3, 2), np.float32)) == 6.0


# What a stranger's review found (each failed before its fix).
WS = [gc.variable(np.full((4, 4), 0.1 * (k + 1)), name=f"ws{k}") for k in range(3)]


def _layers(x, block_of):
    """Three layers, each a block built in a loop that reads the loop variable late."""
    h = x
    for k in range(3):
        h = block_of(h, k)
    loss = gc.sum(h)
    return [loss] + gc.grad(loss, WS)


def _scan_layer(h, k):
    return gc.scan(lambda c, r: (gc.tanh(c @ WS[k]) + r, r), h, gc.constant(np.ones((2, 1, 4))))[0]


def _checkpoint_layer(h, k):
    return gc.checkpoint(lambda a: gc.tanh(a @ WS[k]), h)


def _cond_layer(h, k):
    return gc.cond(gc.sum(h) > -1e9, lambda a: gc.tanh(a @ WS[k]), lambda a: a, h)


@pytest.mark.parametrize("block_of", [_scan_layer, _checkpoint_layer, _cond_layer])
def test_blocks_built_in_a_loop_read_the_loop_variable_as_it_was(block_of) -> None:
    a = RNG.normal(size=(2, 4))
    results = []
    for batch in (None, 2):
        x = gc.placeholder((batch, 4), "float64", name="x")
        results.append(gc.compile([x], _layers(x, block_of), backend="numpy")(a))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert all(np.abs(g).sum() > 0 for g in results[1][1:])  # every layer's weights get a gradient


def test_arrays_and_lists_given_to_a_call_are_the_ones_given_then() -> None:
    x = gc.placeholder((None, 4), name="x")
    scale = np.full(4, 2.0, np.float32)
    y = x * scale
    scale[:] = 100.0
    w = gc.variable(np.ones((4, 4), np.float32))
    feats = [x]
    for _ in range(2):  # a list that grows after each use
        h = gc.concatenate(feats, axis=1)
        feats.append(h[:, :4] @ w)
    f = gc.compile([x], [y, gc.concatenate(feats, axis=1)], backend="numpy")
    got_y, got_feats = f(np.ones((3, 4), np.float32))
    assert got_y.tolist() == [[2.0] * 4] * 3 and got_feats.shape == (3, 12)


def test_draws_of_a_scan_over_an_unknown_length_collide_with_no_later_draw() -> None:
    gc.set_seed(0)
    xs = gc.placeholder((None, 4), "float64", name="xs")
    _, ys = gc.scan(lambda c, t: (c + t, gc.random_normal((4,), dtype="float64")), gc.constant(np.zeros(4)), xs)
    later = gc.random_normal((4,), dtype="float64")
    f = gc.compile([xs], [ys, later], backend="numpy")
    for n in (3, 300):
        drawn, after = f(np.zeros((n, 4)))
        assert len({tuple(row) for row in drawn} | {tuple(after)}) == n + 1


def test_a_checkpointed_block_in_a_loop_differentiates_the_block_as_written() -> None:
    x = gc.placeholder((2, 4), "float64", name="x")
    ws = [gc.variable(np.eye(4) * (k + 1.0)) for k in range(2)]
    h = x
    for k in range(2):
        h = gc.checkpoint(lambda a: a @ ws[k], h)  # noqa: B023 - the late-binding idiom under test
    grads = gc.compile([x], gc.grad(gc.sum(h), ws), backend="numpy")(np.ones((2, 4)))
    np.testing.assert_allclose(grads[0], np.full((4, 4), 4.0))  # 2 rows of ones, times ws[1]'s diagonal 2
    np.testing.assert_allclose(grads[1], np.full((4, 4), 2.0))


def test_shapes_written_the_way_users_write_them() -> None:
    x = gc.placeholder((None, 2, 16), "float64", name="x")
    flat = gc.reshape(x, (x.shape[0], -1))  # PyTorch's x.view(x.size(0), -1)
    groups = gc.reshape(x, (-1, 16, 16))  # rows in groups of 8
    captured = gc.cond(gc.sum(x) > 0, lambda: x * 2.0, lambda: x)  # a branch reading x from outside
    f = gc.compile([x], [flat, groups, captured], backend="numpy")
    a = RNG.normal(size=(16, 2, 16))
    got_flat, got_groups, got_captured = f(a)
    np.testing.assert_array_equal(got_flat, a.reshape(16, -1))
    np.testing.assert_array_equal(got_groups, a.reshape(-1, 16, 16))
    np.testing.assert_array_equal(got_captured, a * 2.0 if a.sum() > 0 else a)
    with pytest.raises(gc.ShapeError, match="replayable"):
        gc.random_normal(x.shape)


def test_options_are_checked_at_compile_and_shown_before_the_first_call() -> None:
    x = gc.placeholder((None, 2), name="x")
    for options, words in (({"backend": "bogus"}, "backend"), ({"threads": 0}, "threads"), ({"disable": 3}, "pass names"),
                           ({"disable": "nosuchpass"}, "unknown passes"), ({"memory_budget": -1}, "memory_budget")):
        with pytest.raises(gc.GraphError, match=words):
            gc.compile([x], gc.sum(x), **options)
    f = gc.compile([x], gc.sum(x), backend="numpy", check_numerics=True)
    assert f.backend == "numpy" and f.check_numerics and f.optimize
    big = f.program((10**8, 2))  # no array of that size is made to check it
    assert big.graph.inputs[0].shape == (10**8, 2)


def test_the_loss_curve_costs_the_same_at_every_step() -> None:
    x = gc.placeholder((None, 2), name="x")
    w = gc.variable(np.ones(2, np.float32))
    loss = gc.sum(x * w)
    f = gc.compile([x], loss, updates={w: w - 0.01}, backend="numpy")
    for _ in range(5):
        f(np.ones((3, 2), np.float32))
    assert [len(p.losses()) for p in f._programs.values()] == [0]  # handed over, not kept twice
    assert len(f.losses()) == 5


def test_a_memory_budget_applies_to_each_size_and_says_which_it_cannot_meet() -> None:
    x = gc.placeholder((None, 16), name="x")
    w = gc.variable(np.full((16, 16), 0.1, np.float32))
    h = gc.tanh(gc.tanh(x @ w) @ w)
    loss = gc.mean(h * h)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], 0.1), memory_budget=20_000, backend="numpy")
    f(np.ones((4, 16), np.float32))
    assert f.memory.arena_bytes <= 20_000
    with pytest.raises(gc.GraphError, match=r"cannot be met.*shapes fed: x \(4096, 16\)"):
        f(np.ones((4096, 16), np.float32))


def test_a_scan_closing_over_a_tensor_of_unknown_size_is_a_loop_at_each_size() -> None:
    """The body reads (by closure, not as an argument) a tensor whose batch size is given at
    call time: the scan is recorded whole and replayed as one loop node, not unrolled."""
    x = gc.placeholder((None, 3), "float64", name="x")
    xs = gc.placeholder((5, 3), "float64", name="xs")
    c, ys = gc.scan(lambda c, v: (c + gc.sum(x) * v, c * 2.0), gc.constant(np.zeros(3)), xs)
    f = gc.compile([x, xs], [c, ys, gc.grad(gc.sum(ys), x)])
    for rows in (2, 4):
        a, b = np.ones((rows, 3)), np.arange(15.0).reshape(5, 3)
        carry, stacked, grad = f(a, b)
        np.testing.assert_allclose(carry, a.sum() * b.sum(axis=0))
        totals = np.cumsum(np.vstack([np.zeros(3), b[:-1]]), axis=0)  # what the carry held before each step
        np.testing.assert_allclose(stacked, 2.0 * a.sum() * totals)
        np.testing.assert_allclose(grad, np.full((rows, 3), 2.0 * totals.sum()))
        assert [n.op.name for n in f.program(a.shape).graph.nodes if n.op.tuple_value] == ["loop", "loop"]


def test_a_function_keeping_a_tensor_between_runs_is_told_why_it_fails() -> None:
    """A recorded call runs once per size; a branch caching a tensor of its first run breaks
    the second, and the error says so."""
    made: list = []

    def cached(a):  # type: ignore[no-untyped-def]
        if not made:
            made.append(gc.tanh(a * 0.5))
        return made[0]

    v = gc.placeholder((None, 1), "float64", name="v")
    with pytest.raises(gc.ShapeError, match="keep a tensor from one run for the next"):
        gc.cond(gc.sum(v) > 0.0, lambda a: a * cached(a), lambda a: a * 2.0, v)


def test_run_many_of_call_time_sizes_says_what_is_wrong_with_its_lists() -> None:
    # from a break-it review: raw NumPy and Python errors, or a program built at size 0
    y, t = gc.placeholder((None, 2), "float32", name="y"), gc.placeholder((), "float32", name="t")
    f = gc.compile([y, t], [gc.sum(y, axis=0) * t, gc.max(y)])
    for args, message in [(([[[1.0, 2.0]], [[1.0, 2.0], [3.0]]], [1.0, 2.0]), "input 'y' at step 1 expects"),
                          (([np.ones((3, 2)), np.ones((1, 2))], np.float32(1.0)), "'t' needs a leading steps axis"),
                          (([], []), "'y' is an empty list")]:
        with pytest.raises(gc.FeedError, match=message):
            f.run_many(*args)
    sums, _ = f.run_many([np.ones((3, 2)), np.ones((1, 2))], [1.0, 2.0])
    assert sums.tolist() == [[3.0, 3.0], [2.0, 2.0]]
