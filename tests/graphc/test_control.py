"""gc.scan, gc.fori_loop and gc.cond against plain Python loops and NumPy, with their gradients
(first and second order), on the reference and native back ends and eagerly (cases in the
manner of jax.lax's own tests: carries that are tuples and dicts, reversed scans, scans with no
xs, conditionals whose other branch is NaN)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager

from .ops.test_ops import central_difference


def _rnn_step(carry, x):  # type: ignore[no-untyped-def]
    h, total = carry
    h = gc.tanh(h * 0.5 + x)
    return (h, total + gc.sum(h)), {"h": h, "sq": h * h}


def _rnn_numpy(h, xs, reverse=False):  # type: ignore[no-untyped-def]
    total, hs = 0.0, [None] * len(xs)
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        h = np.tanh(h * 0.5 + xs[t])
        total += h.sum()
        hs[t] = h
    return h, total, np.stack(hs)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_scan_carries_a_tuple_and_stacks_a_dict(reverse: bool, backend: str) -> None:
    xs = gc.placeholder((6, 3), "float64", name="xs")
    h0 = gc.placeholder((3,), "float64", name="h0")
    (h, total), ys = gc.scan(_rnn_step, (h0, gc.constant(0.0, "float64")), xs, reverse=reverse)
    assert set(ys) == {"h", "sq"} and ys["h"].shape == (6, 3)
    rng = np.random.default_rng(0)
    feeds = rng.standard_normal((6, 3)), rng.standard_normal(3)
    got = gc.compile([xs, h0], [h, total, ys["h"], ys["sq"]], backend=backend)(*feeds)
    want_h, want_total, want_hs = _rnn_numpy(feeds[1], feeds[0], reverse)
    np.testing.assert_allclose(got[0], want_h, rtol=1e-13)
    np.testing.assert_allclose(got[1], want_total, rtol=1e-13)
    np.testing.assert_allclose(got[2], want_hs, rtol=1e-13)  # ys[t] belongs to step t, reversed or not
    np.testing.assert_allclose(got[3], want_hs**2, rtol=1e-13)


def test_scan_gradients_match_finite_differences_to_second_order() -> None:
    xs = gc.placeholder((4, 2), "float64")
    h0 = gc.placeholder((2,), "float64")
    (h, total), ys = gc.scan(_rnn_step, (h0, gc.constant(0.0, "float64")), xs)
    loss = total + gc.sum(ys["sq"] * gc.constant(np.arange(8.0).reshape(4, 2)))
    g_xs, g_h0 = gc.grad(loss, [xs, h0])
    direction = gc.constant(np.ones((4, 2)))
    hv = gc.hvp(loss, [xs], [direction])[0]
    f = gc.compile([xs, h0], [loss, g_xs, g_h0, hv])
    rng = np.random.default_rng(1)
    vals = [rng.standard_normal((4, 2)), rng.standard_normal(2)]
    got = f(*vals)
    np.testing.assert_allclose(got[1], central_difference(lambda v: f(*v)[0], vals, 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[2], central_difference(lambda v: f(*v)[0], vals, 1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[3], central_difference(lambda v: f(*v)[1], vals, 0, np.ones((4, 2))),
                               rtol=1e-5, atol=1e-6)


def test_scan_without_xs_and_eager() -> None:
    carry, ys = gc.scan(lambda c, _: (c * 2.0, c), gc.constant(1.0, "float64"), None, length=5)
    got = gc.compile([], [carry, ys])()
    np.testing.assert_array_equal(got[0], 32.0)
    np.testing.assert_array_equal(got[1], [1, 2, 4, 8, 16])
    x = eager.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    total, prods = gc.scan(lambda c, v: (c * v, c * v), eager.tensor(1.0, dtype="float64"), x)
    total.backward()
    np.testing.assert_allclose(prods.data, [1, 2, 6])
    np.testing.assert_allclose(x.grad.data, [6, 3, 2])


@pytest.mark.parametrize("fn,init,xs,message", [
    (lambda c, x: (gc.stack([c, c]), x), 0.0, np.ones(3), "changed the carry"),
    (lambda c, x: (c + gc.sum(x), None), 0.0, np.ones((2, 3)), r"from f32\[\] to f64\[\].*give it its dtype"),
    (lambda c, x: c + x, 0.0, np.ones(3), "a pair"),
    (lambda c, x: (c, x), 0.0, [np.ones(3), np.ones(4)], "one leading length"),
])
def test_scan_says_what_is_wrong(fn, init, xs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(gc.GraphError, match=message):
        gc.scan(fn, init, xs)


def test_fori_loop_is_a_loop_with_a_python_index() -> None:
    x = gc.placeholder((2,), "float64")
    out = gc.fori_loop(1, 4, lambda i, c: c * x + i, x * 0.0)
    g = gc.grad(gc.sum(out), x)
    got = gc.compile([x], [out, g])(np.array([2.0, 3.0]))
    # ((0 * x + 1) * x + 2) * x + 3 = x^2 + 2x + 3; derivative 2x + 2
    np.testing.assert_allclose(got[0], [11.0, 18.0])
    np.testing.assert_allclose(got[1], [6.0, 8.0])
    with pytest.raises(gc.GraphError, match="bounds must be ints"):
        gc.fori_loop(0, x, lambda i, c: c, x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_cond_keeps_the_other_branchs_nan_out_of_values_and_gradients(backend: str) -> None:
    p = gc.placeholder((), "bool")
    a = gc.placeholder((2,), "float64")
    out = gc.cond(p, lambda v: gc.sqrt(v) + gc.log(v), lambda v: v * v, a)
    g = gc.grad(gc.sum(out), a)
    (h,) = gc.grad(gc.sum(g), [a])  # second order too
    f = gc.compile([p, a], [out, g, h], backend=backend)
    value, grad, second = f(False, np.array([-4.0, 0.0]))  # sqrt and log of these are NaN / -inf
    np.testing.assert_array_equal(value, [16.0, 0.0])
    np.testing.assert_array_equal(grad, [-8.0, 0.0])
    np.testing.assert_array_equal(second, [2.0, 2.0])
    value, grad, _ = f(True, np.array([4.0, 1.0]))
    np.testing.assert_allclose(value, [2 + np.log(4), 1.0])
    np.testing.assert_allclose(grad, [0.25 + 0.25, 0.5 + 1.0])


def test_cond_runs_only_the_branch_taken_eagerly_and_checks_the_branches_agree() -> None:
    ran = []
    x = eager.tensor(np.array([1.0, 2.0]), requires_grad=True)
    out = gc.cond(eager.tensor(True), lambda v: (ran.append("true"), v * 3.0)[1],
                  lambda v: (ran.append("false"), v)[1], x)
    gc.sum(out).backward()
    assert ran == ["true"] and np.allclose(x.grad.data, 3.0)
    a = gc.placeholder((2,), "float64")
    with pytest.raises(gc.GraphError, match="different structures or types"):
        gc.cond(gc.placeholder((), "bool"), lambda v: v, lambda v: gc.sum(v), a)
    with pytest.raises(gc.GraphError, match="scalar bool"):
        gc.cond(a > 0, lambda v: v, lambda v: v, a)


def test_an_empty_scan_traces_its_body_once_for_the_types_of_ys() -> None:
    c = gc.placeholder((3,), "float32")
    carry, ys = gc.scan(lambda cc, _: (cc + 1, {"twice": cc * 2}), c, None, length=0)
    assert ys["twice"].shape == (0, 3) and ys["twice"].dtype == np.float32
    got = gc.compile([c], [carry, ys["twice"]])(np.ones(3, np.float32))
    np.testing.assert_array_equal(got[0], 1.0)
    assert got[1].shape == (0, 3)


def test_cond_names_how_the_branches_differ() -> None:
    a, p = gc.placeholder((3,)), gc.placeholder((), "bool")
    with pytest.raises(gc.GraphError, match=r"\(f32\[3\], f32\[3\]\) and \[f32\[3\], f32\[3\]\]"):
        gc.cond(p, lambda v: (v, v), lambda v: [v, v], a)


def test_a_scan_drawing_random_numbers_takes_the_streams_eager_mode_takes() -> None:
    # found by a break-it review: the loop trace, dropped for an unrolled one, kept the streams
    # its draws had taken, so every draw after it differed from unroll=True and from eager mode
    xv, xsv = np.linspace(0.1, 1.0, 6), np.full((3, 6), 0.5)

    def model(x: Any, xs: Any, unroll: bool, unused: bool) -> Any:
        def step(c: Any, t: Any) -> Any:
            gc.random_normal((6,))  # a draw the step does not read takes a stream too
            return (c + t if unused else gc.dropout(c + t, 0.5)), None

        c, _ = gc.scan(step, x, xs, unroll=unroll)
        return gc.sum(c) + gc.sum(gc.dropout(x, 0.5) * 100.0)

    for unused in (False, True):
        got = []
        for unroll in (False, True):
            gc.set_seed(3)
            x, xs = gc.placeholder((6,), "float64"), gc.placeholder((3, 6), "float64")
            got.append(float(gc.compile([x, xs], model(x, xs, unroll, unused), backend="numpy")(xv, xsv)))
        gc.set_seed(3)
        got.append(float(np.asarray(model(eager.tensor(xv), eager.tensor(xsv), False, unused))))
        assert got[0] == got[1] == got[2], unused


def test_a_none_among_a_scans_ys_stays_none() -> None:
    # as jax.lax.scan, where None is an empty subtree
    def body(c: Any, t: Any) -> Any:
        return c + t, (c * 2.0, None)

    xs = gc.placeholder((3, 2), "float64")
    _, (ys, nothing) = gc.scan(body, xs[0] * 0.0, xs)
    assert nothing is None
    np.testing.assert_array_equal(gc.compile([xs], ys)(np.ones((3, 2))), [[0, 0], [2, 2], [4, 4]])
    for x in (eager.tensor(np.ones((3, 2))), eager.tensor(np.ones((0, 2)))):
        _, (ys, nothing) = gc.scan(body, x[0] * 0.0 if len(x.data) else eager.tensor(np.zeros(2)), x)
        assert nothing is None and ys.shape == (len(x.data), 2)
