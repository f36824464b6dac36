"""`gc.cond` as one node running one branch: values, derivatives to second order, nesting with
scans and conds, the passes inside the branches, the memory plan, inspection and saving."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.ops.conditional import COND, Branches

from .ops.test_ops import central_difference

BACKENDS = ["numpy", "numba"]


def _conds(f: gc.Function) -> list[gc.Node]:
    return [n for n in f.graph.nodes if n.op is COND]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_branch_not_taken_never_runs(backend: str) -> None:
    """With numerics checked, a log of a negative number trips the check only when its branch
    runs: the other branch's values are never computed."""
    p = gc.placeholder((), "bool", name="p")
    a = gc.placeholder((2,), "float64", name="a")
    out = gc.cond(p, lambda v: gc.log(v), lambda v: v * 2.0, a)
    f = gc.compile([p, a], [out], backend=backend, check_numerics=True)
    assert len(_conds(f)) == 1 and isinstance(_conds(f)[0].attrs["body"], Branches)
    np.testing.assert_array_equal(f(False, np.array([-1.0, 3.0]))[0], [-2.0, 6.0])
    with pytest.raises(gc.NumericsError, match="log"):
        f(True, np.array([-1.0, 3.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cond_gradients_match_finite_differences_to_second_order(backend: str) -> None:
    """Each branch reads its operand and a value from outside (closed over); the derivative of
    each input is the taken branch's, first and second order, reverse and forward mode."""
    x = gc.placeholder((3,), "float64", name="x")
    w = gc.placeholder((3,), "float64", name="w")
    pred = gc.sum(x) > 0.0
    y = gc.cond(pred, lambda v: gc.sin(v) * w + v * v, lambda v: gc.exp(v * 0.5) * gc.sum(w * w), x)
    loss = gc.sum(y * gc.constant(np.array([1.0, -2.0, 0.5])))
    g_x, g_w = gc.grad(loss, [x, w])
    direction = gc.constant(np.array([0.3, -0.1, 0.7]))
    (hv,) = gc.hvp(loss, [x], [direction])
    (tangent,) = gc.jvp([loss], [w], [direction])
    f = gc.compile([x, w], [loss, g_x, g_w, hv, tangent], backend=backend)
    rng = np.random.default_rng(3)
    for sign in (1.0, -1.0):  # one call takes each branch
        vals = [sign * (np.abs(rng.standard_normal(3)) + 0.2), rng.standard_normal(3)]
        got = f(*vals)
        np.testing.assert_allclose(got[1], central_difference(lambda v: f(*v)[0], vals, 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got[2], central_difference(lambda v: f(*v)[0], vals, 1), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got[3], central_difference(lambda v: f(*v)[1], vals, 0, np.array([0.3, -0.1, 0.7])),
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[4], got[2] @ np.array([0.3, -0.1, 0.7]), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conds_and_scans_nest_both_ways(backend: str) -> None:
    """A cond inside a scan's body (a step's predicate), a scan inside a branch, a cond in a
    branch: values and gradients as NumPy computes them step by step."""
    xs = gc.placeholder((5, 2), "float64", name="xs")

    def step(c, x):  # type: ignore[no-untyped-def]
        h = gc.cond(gc.sum(x) > 0.0, lambda a: gc.tanh(a + x), lambda a: a * 0.5 - x, c)
        return h, h

    def inner(v):  # type: ignore[no-untyped-def]
        return gc.scan(step, v[0], v)[1]

    def outer(v):  # type: ignore[no-untyped-def]
        return gc.cond(gc.max(v) > 1.0, lambda a: a * 3.0, lambda a: a + 1.0, v)

    out = gc.cond(gc.sum(xs) > 0.0, inner, outer, xs)
    (g,) = gc.grad(gc.sum(out * out), [xs])
    f = gc.compile([xs], [out, g], backend=backend)

    def numpy_value(v):  # type: ignore[no-untyped-def]
        if v.sum() > 0:
            h, hs = v[0], []
            for x in v:
                h = np.tanh(h + x) if x.sum() > 0 else h * 0.5 - x
                hs.append(h)
            return np.stack(hs)
        return v * 3.0 if v.max() > 1.0 else v + 1.0

    rng = np.random.default_rng(5)
    for shift in (0.8, -0.8, -3.0):
        v = rng.standard_normal((5, 2)) + shift
        value, grad = f(v)
        np.testing.assert_allclose(value, numpy_value(v), rtol=1e-13)
        np.testing.assert_allclose(grad, central_difference(lambda a: (numpy_value(a[0]) ** 2).sum(), [v], 0),
                                   rtol=1e-6, atol=1e-8)


def test_a_training_step_with_a_cond_runs_natively_as_the_reference_does() -> None:
    """SGD on a loss that takes one branch or the other per batch: variables after ten steps
    are the reference back end's to rounding."""
    def build(backend: str) -> tuple[gc.Function, gc.Variable]:
        w = gc.variable(np.array([0.5, -0.25, 1.0]), name="w")
        x = gc.placeholder((4, 3), "float64", name="x")
        h = x @ w
        loss = gc.cond(gc.mean(h) > 0.0, lambda a: gc.mean(a * a), lambda a: gc.mean(gc.softplus(-a)), h)
        return gc.compile([x], [loss], updates=gc.optim.sgd(loss, [w], lr=0.1), backend=backend), w

    rng = np.random.default_rng(7)
    batches = [rng.standard_normal((4, 3)) for _ in range(10)]
    (native, w_native), (reference, w_reference) = build("numba"), build("numpy")
    for batch in batches:
        np.testing.assert_allclose(native(batch)[0], reference(batch)[0], rtol=1e-12)
    np.testing.assert_allclose(w_native.value, w_reference.value, rtol=1e-12)


def test_a_bad_index_in_the_branch_taken_raises_and_changes_nothing() -> None:
    table = gc.variable(np.array([1.0, 2.0, 3.0]), name="table")
    i = gc.placeholder((), "int64", name="i")
    use = gc.placeholder((), "bool", name="use")
    out = gc.cond(use, lambda j: table[j], lambda j: gc.constant(0.0, "float64"), i)
    f = gc.compile([use, i], [out], updates={table: table * 2.0})
    assert f(False, np.int64(7))[0] == 0.0
    np.testing.assert_array_equal(table.value, [2.0, 4.0, 6.0])
    with pytest.raises(gc.GraphcError, match="index"):
        f(True, np.int64(7))
    np.testing.assert_array_equal(table.value, [2.0, 4.0, 6.0])  # the failed call changed nothing
    assert f(True, np.int64(1))[0] == 4.0


def test_passes_work_inside_the_branches_and_prune_unread_results() -> None:
    """CSE and simplification inside each branch; a result no one reads leaves both branches,
    with the values only it read."""
    a = gc.placeholder((3,), "float64", name="a")
    b = gc.placeholder((3,), "float64", name="b")
    p = gc.placeholder((), "bool", name="p")
    first, _unread = gc.cond(p, lambda u, v: (gc.exp(u) + gc.exp(u) * 1.0, gc.sin(v)),
                             lambda u, v: (u - u * 1.0 + 2.0, gc.cos(v)), a, b)
    f = gc.compile([p, a, b], [first])
    (node,) = _conds(f)
    body = node.attrs["body"]
    assert body.outputs == 1 and len(node.inputs) == 2  # the predicate and a: b is read by no result kept
    assert sum(1 for n in body.true.nodes if n.op.name == "exp") == 1
    assert not any(n.op.name == "multiply" for g in body.graphs for n in g.nodes)
    np.testing.assert_allclose(f(True, np.zeros(3), np.ones(3))[0], 2.0)
    np.testing.assert_allclose(f(False, np.zeros(3), np.ones(3))[0], 2.0)


def test_the_branches_share_their_arena_space() -> None:
    """Only one branch runs, so the memory plan places their buffers over each other: the arena
    holds one branch's work, not both."""
    x = gc.placeholder((4096,), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")

    def heavy(scale: float):  # type: ignore[no-untyped-def]
        def branch(v):  # type: ignore[no-untyped-def]
            s = gc.cumsum(v * scale, 0)
            return gc.cumsum(s, 0) + gc.cumsum(s * s, 0)
        return branch

    out = gc.cond(p, heavy(2.0), heavy(-3.0), x)
    f = gc.compile([p, x], [out])
    both = gc.compile([p, x], [gc.where(p, heavy(2.0)(x), heavy(-3.0)(x))])
    assert f.memory.arena_bytes <= both.memory.arena_bytes - 2 * 4096 * 8, (f.memory.arena_bytes, both.memory.arena_bytes)
    v = np.linspace(-1, 1, 4096)
    for pred, scale in ((True, 2.0), (False, -3.0)):
        s = np.cumsum(v * scale)
        np.testing.assert_allclose(f(pred, v)[0], np.cumsum(s) + np.cumsum(s * s), rtol=1e-12)


def test_the_cond_is_shown_with_its_two_branches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = gc.placeholder((2,), "float64", name="x")
    y = gc.cond(gc.sum(x) > 0.0, lambda v: gc.tanh(v) * 2.0, lambda v: v - 1.0, x)
    f = gc.compile([x], [y, gc.grad(gc.sum(y), x)])
    text = f.pretty()
    assert "= cond " in text and "    if (reads" in text and "    else (reads" in text
    kernels = "\n".join(f.kernels())
    assert "cond " in kernels and "\nelse:" in kernels
    dot = f.to_dot()
    assert "/if" in dot and "/else" in dot
    page = f.save_html(tmp_path / "report.html").read_text()
    assert "a cond, running one branch" in page and "else:" in page


def test_a_saved_function_with_a_cond_loads_and_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = gc.placeholder((3,), "float64", name="x")
    w = gc.variable(np.array([1.0, 2.0, 3.0]), name="w")
    y = gc.cond(gc.sum(x) > 0.0, lambda v: v * w, lambda v: v - w, x)
    f = gc.compile([x], [y, gc.grad(gc.sum(y * y), w)])
    gc.save(tmp_path / "f.gcz", f)
    g = gc.load(tmp_path / "f.gcz")
    for v in (np.array([1.0, 0.5, -0.2]), np.array([-1.0, 0.5, -0.2])):
        for got, want in zip(g(v), f(v)):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_constant_predicate_and_results_read_straight_from_outside(backend: str) -> None:
    x = gc.placeholder((2,), "float64", name="x")
    w = gc.variable(np.array([5.0, 6.0]), name="w")
    y, z = gc.cond(gc.constant(False), lambda v: (v, w), lambda v: (w, gc.constant(np.full(2, 1.5))), x)
    f = gc.compile([x], [y, z, gc.grad(gc.sum(y), x)], backend=backend)
    plain = gc.compile([x], [y, z, gc.grad(gc.sum(y), x)], backend=backend, optimize=False)
    assert not _conds(f) and _conds(plain)  # simplification inlines the branch a known predicate picks
    for g in (f, plain):
        value, other, grad = g(np.array([1.0, 2.0]))
        np.testing.assert_array_equal(value, [5.0, 6.0])
        np.testing.assert_array_equal(other, [1.5, 1.5])
        np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_branch_drawing_random_numbers_draws_the_same_in_its_derivative(backend: str) -> None:
    """The derivative's branch recomputes the forward one's draws (the same node: the same
    stream), so d/dx sum((r * x)^2) = 2 r^2 x exactly; each call draws anew."""
    x = gc.placeholder((3,), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    y = gc.cond(p, lambda v: v * gc.random_normal((3,), seed=1, dtype="float64"), lambda v: v * 2.0, x)
    f = gc.compile([p, x], [y, gc.grad(gc.sum(y * y), x)], backend=backend)
    assert _conds(f)
    first, grad = f(True, np.ones(3))
    np.testing.assert_allclose(grad, 2 * first**2, rtol=1e-14)
    second, _ = f(True, np.ones(3))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(f(False, np.ones(3))[0], 2.0)


def test_a_cond_drawing_random_numbers_in_a_scan_draws_anew_each_step() -> None:
    xs = gc.placeholder((4, 2), "float64", name="xs")
    _, ys = gc.scan(lambda c, x: (c, gc.cond(gc.sum(x) > -1e9, lambda a: a * gc.random_normal((2,), seed=3, dtype="float64"),
                                              lambda a: a, x)), gc.constant(0.0, "float64"), xs)
    rows = gc.compile([xs], [ys])(np.ones((4, 2)))[0]
    assert len({tuple(r) for r in rows}) == 4


def test_what_a_branch_creates_for_the_program_stays_the_programs() -> None:
    """A variable made while a branch is traced (a layer making its weight on first use) is the
    program's: its gradient flows and updates reach it; a placeholder made there is an input."""
    x = gc.placeholder((3,), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    made = {}

    def layer(v):  # type: ignore[no-untyped-def]
        made["w"] = gc.variable(np.array([2.0, 2.0, 2.0]), name="w")
        made["s"] = gc.placeholder((3,), "float64", name="s")
        return v * made["w"] + made["s"]

    y = gc.cond(p, layer, lambda v: v, x)
    loss = gc.sum(y)
    f = gc.compile([p, x, made["s"]], [loss, gc.grad(loss, made["w"])], updates=gc.optim.sgd(loss, [made["w"]], 0.1))
    value, grad = f(True, np.array([1.0, 2.0, 3.0]), np.ones(3))
    assert value == 15.0 and grad.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(made["w"].value, [1.9, 1.8, 1.7])


def test_a_predicate_known_now_calls_only_its_branch() -> None:
    """A Python or NumPy bool picks the branch before anything is traced: eagerly the other is
    never called (its bad index never raises), and in a graph no cond is built."""
    called = []
    x = eager.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = gc.cond(True, lambda v: (called.append("true"), v * v)[1], lambda v: (called.append("false"), v[7])[1], x)
    gc.sum(out).backward()
    assert called == ["true"] and x.grad.data.tolist() == [2.0, 4.0, 6.0]
    a = gc.placeholder((3,), "float64")
    assert gc.cond(np.bool_(False), lambda v: v[7], lambda v: v * 2.0, a).op.name == "multiply"


def test_eagerly_a_predicate_computed_from_draws_alone_is_known_now() -> None:
    # Found by the fuzzer: the branches close over an eager tensor, the predicate comes from a
    # random draw (a graph tensor needing no feed), which eager mode evaluates on the spot.
    w = eager.tensor(np.array([1.0, -2.0]), requires_grad=True)
    draw = gc.random_normal((3,), seed=7, dtype="float64")
    pred = gc.sum(draw) > 0.0
    out = gc.cond(pred, lambda: w * 2.0, lambda: w * 3.0)
    gc.sum(out).backward()
    factor = 2.0 if eager.to_eager(pred).data else 3.0
    np.testing.assert_array_equal(out.data, w.data * factor)
    np.testing.assert_array_equal(w.grad.data, [factor, factor])
    x = gc.placeholder((), "float64", name="fed")
    with pytest.raises(gc.GraphError, match="fed"):  # a predicate needing a feed cannot be known now
        gc.cond(x > 0.0, lambda: w * 2.0, lambda: w * 3.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_numbers_take_the_other_branchs_dtype_and_none_passes_through(backend: str) -> None:
    table = gc.placeholder((3,), "float64", name="table")
    i = gc.placeholder((), "int64", name="i")
    value, nothing = gc.cond(i < 3, lambda j: (table[j], None), lambda j: (0, None), i)
    assert value.dtype == np.float64 and nothing is None
    f = gc.compile([table, i], [value], backend=backend)
    assert f(np.arange(3.0), np.int64(2))[0] == 2.0 and f(np.arange(3.0), np.int64(9))[0] == 0.0
    with pytest.raises(gc.GraphError, match="different structures or types"):
        gc.cond(i < 3, lambda j: (table[j], None), lambda j: (0.0, table[0]), i)


def test_a_branch_reading_a_tensor_of_sizes_given_at_call_time_runs_alone() -> None:
    """A branch closing over a tensor whose batch size is given at call time: the cond is
    replayed at each size, still one node running one branch (its other branch's NaN and bad
    index stay out)."""
    x = gc.placeholder((None, 3), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    loss = gc.cond(p, lambda: gc.mean(gc.sqrt(x - 100.0)), lambda: gc.mean(x * x))
    f = gc.compile([p, x], [loss, gc.grad(loss, x)], check_numerics=True)
    value, grad = f(False, np.ones((2, 3)))
    assert value == 1.0
    np.testing.assert_allclose(grad, np.full((2, 3), 1 / 3))
    i = gc.placeholder((), "int64", name="i")
    row = gc.cond(i < 2, lambda j: x[j], lambda j: gc.constant(np.zeros(3)), i)
    np.testing.assert_array_equal(gc.compile([x, i], [row])(np.ones((2, 3)), np.int64(7))[0], 0.0)


def test_a_gradient_and_an_optimizer_of_one_cond_share_its_derivative() -> None:
    """`gc.grad(loss, W)` as an output beside `optim.sgd(loss, [W])` builds the cond's
    derivative twice; CSE compares the branches by what they compute and keeps one."""
    x = gc.placeholder((8, 8), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    w = gc.variable(np.eye(8), name="w")
    loss = gc.cond(p, lambda v: gc.sum(gc.tanh(v @ w) ** 2), lambda v: gc.sum(v @ w), x)
    f = gc.compile([p, x], [loss, gc.grad(loss, w)], updates=gc.optim.sgd(loss, [w], 0.1))
    assert len(_conds(f)) == 2  # the forward cond and one derivative


def test_cond_refuses_branches_that_are_not_callable() -> None:
    a = gc.placeholder((2,), "float64")
    with pytest.raises(gc.GraphError, match="callable"):
        gc.cond(gc.placeholder((), "bool"), a, lambda v: v, a)


def test_the_derivative_reads_the_forward_values_it_needs_instead_of_recomputing_them() -> None:
    """d/dx of a branch's tanh(x @ w) needs the tanh: the forward cond returns it beside its
    result (zeros where the other branch ran), CSE merges that copy with the forward cond, and
    the derivative's branch computes no product nor tanh of its own."""
    x = gc.placeholder((4, 4), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    w = gc.variable(np.eye(4) * 0.5, name="w")
    loss = gc.cond(p, lambda v: gc.sum(gc.tanh(v @ w)), lambda v: gc.sum(v * 3.0), x)
    f = gc.compile([p, x], [loss, gc.grad(loss, [x, w])[0]], updates=gc.optim.sgd(loss, [w], 0.1))
    forward, *derivatives = _conds(f)
    assert any(n.op.name == "tanh" for n in forward.attrs["body"].true.nodes)
    inside = [n.op.name for d in derivatives for n in d.attrs["body"].true.nodes]
    assert "tanh" not in inside and inside.count("matmul") == 2  # dx and dw, no forward product
    v = np.arange(16.0).reshape(4, 4) / 10
    value, grad = f(True, v)
    t = np.tanh(v @ (np.eye(4) * 0.5))
    np.testing.assert_allclose(value, t.sum(), rtol=1e-14)
    np.testing.assert_allclose(grad, (1 - t**2) @ (np.eye(4) * 0.5).T, rtol=1e-14)
    value, grad = f(False, v)
    assert value == (3 * v).sum() and np.all(grad == 3.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_node_both_branches_read_is_each_derivatives_own(backend: str) -> None:
    """A value built on first use while the true branch is traced, read by both branches: the
    derivative of each reads the value its own forward branch returned (once both read one
    placeholder, and the true branch's gradient came out zero)."""
    x = gc.placeholder((3,), "float64", name="x")
    p = gc.placeholder((), "bool", name="p")
    made: list = []

    def table():  # type: ignore[no-untyped-def]
        if not made:
            made.append(gc.exp(gc.constant(np.array([0.5, 1.0, 1.5]))))
        return made[0]

    y = gc.cond(p, lambda v: gc.sin(v * table()), lambda v: gc.cos(v * table()), x)
    f = gc.compile([p, x], [gc.grad(gc.sum(y), x)], backend=backend)
    v, t = np.array([0.1, -0.4, 0.7]), np.exp([0.5, 1.0, 1.5])
    np.testing.assert_allclose(f(True, v)[0], np.cos(v * t) * t, rtol=1e-14)
    np.testing.assert_allclose(f(False, v)[0], -np.sin(v * t) * t, rtol=1e-14)


def test_a_cond_in_a_scan_is_not_recomputed_by_the_loops_derivative() -> None:
    """The copy of a cond its derivative builds (to return what the derivative reads) runs in the
    forward loop, merged with the cond there, and the backward loop reads its results stacked:
    the backward step computes no forward tanh."""
    xs = gc.placeholder((6, 4), "float64", name="xs")
    w = gc.placeholder((4, 4), "float64", name="w")

    def step(h, x):  # type: ignore[no-untyped-def]
        h = gc.cond(gc.sum(x) > 0.0, lambda a: gc.tanh(a @ w), lambda a: a * 0.5, h + x)
        return h, gc.sum(h)

    _, ys = gc.scan(step, xs[0], xs)
    loss = gc.sum(ys)
    f = gc.compile([xs, w], [loss, gc.grad(loss, w)])
    assert f.pretty().count("= tanh ") == 1
    rng = np.random.default_rng(2)
    vals = [rng.standard_normal((6, 4)), rng.standard_normal((4, 4)) * 0.5]
    np.testing.assert_allclose(f(*vals)[1], central_difference(lambda v: f(*v)[0], vals, 1), rtol=1e-6, atol=1e-8)
