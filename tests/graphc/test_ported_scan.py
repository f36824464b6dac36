"""Structured control flow (gc.scan, gc.cond, gc.fori_loop) checked against independent NumPy
computations and float64 finite differences. The cases follow the themes of jax.lax's control
flow tests (scan impl / JVP / linearize / grad / RNN / reverse / length without xs / closures /
nested scans / cond grads / fori_loop), rewritten for graphc's define-and-run API by a
fresh-context port; the last section holds the bugs it found, each fixed (or, for `cond`
running one branch only, an open item of issue 12).

PORT_SCAN_NOOPT=1 runs every case with optimize=False.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager

CHEAP = ["numpy", "python"]
ALL = ["numpy", "python", "numba"]
F64 = "float64"


# ----------------------------------------------------------------------------- helpers


def run(inputs, outputs, feeds, backend="numpy", **kw):
    if os.environ.get("PORT_SCAN_NOOPT"):
        kw.setdefault("optimize", False)
    return gc.compile(inputs, outputs, backend=backend, **kw)(*feeds)


def close(got, want, rtol=1e-10, atol=1e-12):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def fd_grad(f, args, i, eps=1e-6):
    """Central finite-difference gradient of scalar f(*args) w.r.t. args[i] (float64)."""
    args = [np.array(a, dtype=np.float64) for a in args]
    x = args[i]
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        fp = f(*args)
        x[idx] = old - eps
        fm = f(*args)
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


def fd_jvp(f, args, tangents, eps=1e-6):
    """Directional derivative of (array-valued) f along tangents (one per arg)."""
    plus = [np.asarray(a, np.float64) + eps * np.asarray(t) for a, t in zip(args, tangents)]
    minus = [np.asarray(a, np.float64) - eps * np.asarray(t) for a, t in zip(args, tangents)]
    fp, fm = f(*plus), f(*minus)
    if isinstance(fp, tuple):
        return tuple((np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(fp, fm))
    return (np.asarray(fp) - np.asarray(fm)) / (2 * eps)


def fd_hvp(f, args, i, v, eps=1e-4):
    """Hessian (w.r.t. args[i]) times v, from second differences of the scalar f."""
    def grad_at(shift):
        a = [np.array(x, np.float64) for x in args]
        a[i] = a[i] + shift * v
        return fd_grad(f, a, i, eps=eps)
    return (grad_at(eps) - grad_at(-eps)) / (2 * eps)


def np_scan(f, init, xs, length=None, reverse=False):
    """A plain-Python reference of lax.scan semantics on NumPy values (xs: array, tuple or None)."""
    if xs is None:
        n = length
    elif isinstance(xs, dict):
        n = len(next(iter(xs.values())))
    elif isinstance(xs, (tuple, list)):
        n = len(xs[0])
    else:
        n = len(xs)
    carry, ys = init, [None] * n
    order = range(n - 1, -1, -1) if reverse else range(n)
    for t in order:
        if xs is None:
            x = None
        elif isinstance(xs, dict):
            x = {k: v[t] for k, v in xs.items()}
        elif isinstance(xs, (tuple, list)):
            x = type(xs)(v[t] for v in xs)
        else:
            x = xs[t]
        carry, ys[t] = f(carry, x)
    return carry, ys


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------- the testScanImpl family
# body: c (4,), a (3,); b = cos(sum sin a + sum cos c + sum tan d); c' = sin(c*b); y = b

D = rng(100).standard_normal(2)


def _body_gc(c, a):
    b = gc.cos(gc.sum(gc.sin(a)) + gc.sum(gc.cos(c)) + float(np.sum(np.tan(D))))
    return gc.sin(c * b), b


def _body_np(c, a):
    b = np.cos(np.sum(np.sin(a)) + np.sum(np.cos(c)) + np.sum(np.tan(D)))
    return np.sin(c * b), b


def _scan_np(c, xs):
    cf, ys = np_scan(_body_np, c, xs)
    return cf, np.array(ys)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_scan_impl_matches_python_loop(backend, unroll):
    c = gc.placeholder((4,), F64, name="c")
    xs = gc.placeholder((5, 3), F64, name="xs")
    cf, ys = gc.scan(_body_gc, c, xs, unroll=unroll)
    r = rng(1)
    cv, xv = r.standard_normal(4), r.standard_normal((5, 3))
    got_c, got_y = run([c, xs], [cf, ys], [cv, xv], backend)
    want_c, want_y = _scan_np(cv, xv)
    close(got_c, want_c, rtol=1e-13, atol=1e-14)
    close(got_y, want_y, rtol=1e-13, atol=1e-14)
    assert got_c.dtype == np.float64 and got_y.shape == (5,)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", CHEAP)
def test_scan_jvp_first_and_second_order(backend, unroll):
    """testScanJVP: jvp of (carry, ys) w.r.t. (c, xs) along (c, xs); then a jvp of the jvp."""
    c = gc.placeholder((4,), F64, name="c")
    xs = gc.placeholder((5, 3), F64, name="xs")
    tc = gc.placeholder((4,), F64, name="tc")
    txs = gc.placeholder((5, 3), F64, name="txs")
    cf, ys = gc.scan(_body_gc, c, xs, unroll=unroll)
    jc, jy = gc.jvp([cf, ys], [c, xs], [tc, txs])
    # second order in forward mode: d/dc (jvp along (tc, txs)) along tc again
    jjc = gc.jvp(jc, [c], [tc])
    r = rng(2)
    cv, xv = r.standard_normal(4), r.standard_normal((5, 3))
    got = run([c, xs, tc, txs], [jc, jy, jjc], [cv, xv, cv, xv], backend)
    want_c, want_y = fd_jvp(_scan_np, [cv, xv], [cv, xv])
    close(got[0], want_c, rtol=1e-6, atol=1e-8)
    close(got[1], want_y, rtol=1e-6, atol=1e-8)

    def jvp_c(cc):  # the carry's directional derivative, as a function of c (by finite differences)
        return fd_jvp(_scan_np, [cc, xv], [cv, xv], eps=1e-5)[0]
    want2 = fd_jvp(jvp_c, [cv], [cv], eps=1e-4)
    close(got[2], want2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", CHEAP)
def test_scan_linearize_transpose_consistency(backend):
    """testScanLinearize: the linear map (jvp) and its transpose (vjp) agree: <u, J v> = <J^T u, v>,
    and J v matches finite differences for a tangent other than the primal."""
    c = gc.placeholder((4,), F64)
    xs = gc.placeholder((5, 3), F64)
    tc, txs = gc.placeholder((4,), F64), gc.placeholder((5, 3), F64)
    uc, uy = gc.placeholder((4,), F64), gc.placeholder((5,), F64)
    cf, ys = gc.scan(_body_gc, c, xs)
    jc, jy = gc.jvp([cf, ys], [c, xs], [tc, txs])
    vc, vx = gc.vjp([cf, ys], [c, xs], [uc, uy])
    r = rng(3)
    vals = [r.standard_normal(s) for s in [(4,), (5, 3), (4,), (5, 3), (4,), (5,)]]
    got_jc, got_jy, got_vc, got_vx = run([c, xs, tc, txs, uc, uy], [jc, jy, vc, vx], vals, backend)
    lhs = vals[4] @ got_jc + vals[5] @ got_jy
    rhs = np.sum(got_vc * vals[2]) + np.sum(got_vx * vals[3])
    assert abs(lhs - rhs) < 1e-12 * max(1, abs(lhs))
    want_c, want_y = fd_jvp(_scan_np, vals[:2], vals[2:4])
    close(got_jc, want_c, rtol=1e-6, atol=1e-8)
    close(got_jy, want_y, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_scan_grad_and_hvp_match_finite_differences(backend, unroll):
    """testScanGrad: d sum(final carry) / d(c, xs), and an HVP (second order, reverse-over-reverse)."""
    c = gc.placeholder((4,), F64)
    xs = gc.placeholder((5, 3), F64)

    def body(c, a):
        b = gc.sum(gc.sin(a)) + gc.sum(gc.sin(c)) + float(np.sum(np.sin(D)))
        return gc.sin(c * b), b

    def body_np(c, a):
        b = np.sum(np.sin(a)) + np.sum(np.sin(c)) + np.sum(np.sin(D))
        return np.sin(c * b), b

    def loss_np(cv, xv):
        cf, ys = np_scan(body_np, cv, xv)
        return np.sum(cf) + 0.1 * np.sum(np.array(ys) ** 2)

    cf, ys = gc.scan(body, c, xs, unroll=unroll)
    loss = gc.sum(cf) + 0.1 * gc.sum(ys * ys)
    gc_, gx = gc.grad(loss, [c, xs])
    vc = gc.constant(np.linspace(-1, 1, 4))
    (hc,) = gc.hvp(loss, [c], [vc])
    r = rng(4)
    cv, xv = r.standard_normal(4) * 0.5, r.standard_normal((5, 3)) * 0.5
    got = run([c, xs], [loss, gc_, gx, hc], [cv, xv], backend)
    close(got[0], loss_np(cv, xv), rtol=1e-13)
    close(got[1], fd_grad(loss_np, [cv, xv], 0), rtol=1e-6, atol=1e-8)
    close(got[2], fd_grad(loss_np, [cv, xv], 1), rtol=1e-6, atol=1e-8)
    close(got[3], fd_hvp(loss_np, [cv, xv], 0, np.linspace(-1, 1, 4)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", CHEAP)
def test_scan_grad_of_grad_scalar_carry(backend):
    """testScanHigherOrderDifferentiation: scalar carry, reverse mode to second order (grad of grad)."""
    d = 0.75
    c = gc.placeholder((), F64)
    xs = gc.placeholder((3, 2), F64)

    def body(c, a):
        b = gc.sin(c * gc.sum(gc.cos(d * a)))
        return 0.9 * gc.cos(d * gc.sum(gc.sin(c * a))), b

    def body_np(c, a):
        b = np.sin(c * np.sum(np.cos(d * a)))
        return 0.9 * np.cos(d * np.sum(np.sin(c * a))), b

    def loss_np(cv, xv):
        cf, ys = np_scan(body_np, cv, xv)
        return cf + np.sum(np.array(ys) * np.array([1.0, -2.0, 3.0]))

    cf, ys = gc.scan(body, c, xs)
    loss = cf + gc.sum(ys * gc.constant(np.array([1.0, -2.0, 3.0])))
    g = gc.grad(loss, c)
    gg_c, gg_x = gc.grad(g, [c, xs])  # second derivatives: d2L/dc2 and d2L/dc dxs
    cv, xv = np.float64(1.0), np.arange(6.0).reshape(3, 2) * 0.3
    got = run([c, xs], [g, gg_c, gg_x], [cv, xv], backend)
    close(got[0], fd_grad(loss_np, [cv, xv], 0), rtol=1e-6, atol=1e-8)

    def dl_dc(cc, xx):
        return fd_grad(loss_np, [cc, xx], 0, eps=1e-5)
    close(got[1], fd_grad(dl_dc, [cv, xv], 0, eps=1e-4), rtol=1e-4, atol=1e-6)
    close(got[2], fd_grad(dl_dc, [cv, xv], 1, eps=1e-4), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------- RNN and LSTM


def _rnn_np(W_trans, W_out, inputs, targets):
    state = np.zeros(W_trans.shape[0])
    loss = 0.0
    for t in range(len(inputs)):
        stacked = np.concatenate([state, inputs[t]])
        out = np.tanh(W_out @ stacked)
        state = np.tanh(W_trans @ stacked)
        loss += np.sum((out - targets[t]) ** 2)
    return loss


@pytest.mark.parametrize("backend", ALL)
def test_scan_rnn_loss_grads_hvp_and_jvp(backend):
    """testScanRnn: an Elman RNN over a sequence; loss, grads w.r.t. captured params and inputs,
    an HVP and a JVP, all against finite differences of a NumPy loop."""
    n_in, n_hid, n_out, length = 4, 2, 1, 3
    r = rng(5)
    Wt_v = r.standard_normal((n_hid, n_hid + n_in))
    Wo_v = r.standard_normal((n_out, n_hid + n_in))
    in_v = r.standard_normal((length, n_in))
    tg_v = r.standard_normal((length, n_out))
    Wt = gc.placeholder(Wt_v.shape, F64, name="W_trans")
    Wo = gc.placeholder(Wo_v.shape, F64, name="W_out")
    inputs = gc.placeholder(in_v.shape, F64, name="inputs")
    targets = gc.placeholder(tg_v.shape, F64, name="targets")

    def step(state, x):
        stacked = gc.reshape(gc.concatenate([state, x], 0), (n_hid + n_in, 1))
        out = gc.tanh(gc.reshape(Wo @ stacked, (n_out,)))
        nxt = gc.tanh(gc.reshape(Wt @ stacked, (n_hid,)))
        return nxt, out

    _, preds = gc.scan(step, gc.constant(np.zeros(n_hid)), inputs)
    loss = gc.sum((preds - targets) ** 2)
    gWt, gWo, gin = gc.grad(loss, [Wt, Wo, inputs])
    (hWt,) = gc.hvp(loss, [Wt], [gc.constant(Wt_v)])
    jl = gc.jvp(loss, [Wt, Wo, inputs, targets], [gc.constant(a) for a in (Wt_v, Wo_v, in_v, tg_v)])
    feeds = [Wt_v, Wo_v, in_v, tg_v]
    got = run([Wt, Wo, inputs, targets], [loss, gWt, gWo, gin, hWt, jl], feeds, backend)
    close(got[0], _rnn_np(*feeds), rtol=1e-13)
    for k, g in enumerate(got[1:4]):
        close(g, fd_grad(_rnn_np, feeds, k), rtol=1e-6, atol=1e-8)
    close(got[4], fd_hvp(_rnn_np, feeds, 0, Wt_v), rtol=1e-4, atol=1e-6)
    close(got[5], fd_jvp(_rnn_np, feeds, feeds), rtol=1e-6, atol=1e-8)


def _lstm_np(params, xs, h0, c0):
    Wx, Wh, b = params
    h, c, hs = h0, c0, []
    H = h0.shape[-1]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for x in xs:
        z = x @ Wx + h @ Wh + b
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return h, c, np.stack(hs)


@pytest.mark.parametrize("dtype,backend", [("float64", "numpy"), ("float64", "python"), ("float64", "numba"),
                                           ("float32", "numpy"), ("float32", "numba")])
def test_lstm_scan_with_tuple_carry_and_variables(dtype, backend):
    """An LSTM cell (tuple carry (h, c), weights as gc.variables read from outside the body) in
    float32 and float64; values against NumPy (float64) and weight gradients against FD."""
    B, N_IN, H, T = 2, 3, 4, 5
    r = rng(6)
    Wx_v, Wh_v, b_v = r.standard_normal((N_IN, 4 * H)) * 0.4, r.standard_normal((H, 4 * H)) * 0.4, r.standard_normal(4 * H) * 0.1
    xs_v, h0_v, c0_v = r.standard_normal((T, B, N_IN)), r.standard_normal((B, H)) * 0.1, r.standard_normal((B, H)) * 0.1
    Wx, Wh, b = (gc.variable(a.astype(dtype)) for a in (Wx_v, Wh_v, b_v))
    xs = gc.placeholder((T, B, N_IN), dtype)
    h0, c0 = gc.placeholder((B, H), dtype), gc.placeholder((B, H), dtype)

    def cell(carry, x):
        h, c = carry
        z = x @ Wx + h @ Wh + b
        i, f = gc.sigmoid(z[:, :H]), gc.sigmoid(z[:, H:2 * H])
        g, o = gc.tanh(z[:, 2 * H:3 * H]), gc.sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * gc.tanh(c)
        return (h, c), h

    (h, c), hs = gc.scan(cell, (h0, c0), xs)
    weights = gc.constant(np.linspace(-1, 1, T * B * H).reshape(T, B, H).astype(dtype))
    loss = gc.sum(hs * weights) + gc.sum(c * c)
    grads = gc.grad(loss, [Wx, Wh, b, xs])
    got = run([xs, h0, c0], [h, c, hs, loss, *grads], [a.astype(dtype) for a in (xs_v, h0_v, c0_v)], backend)
    wh, wc, whs = _lstm_np((Wx_v, Wh_v, b_v), xs_v, h0_v, c0_v)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for g, w in zip(got[:3], (wh, wc, whs)):
        assert g.dtype == np.dtype(dtype)
        close(g, w, **tol)

    def loss_np(Wx_, Wh_, b_, xs_):
        _, cc, hhs = _lstm_np((Wx_, Wh_, b_), xs_, h0_v, c0_v)
        return np.sum(hhs * np.linspace(-1, 1, T * B * H).reshape(T, B, H)) + np.sum(cc * cc)

    gtol = dict(rtol=1e-6, atol=1e-8) if dtype == "float64" else dict(rtol=1e-3, atol=1e-4)
    args = [Wx_v, Wh_v, b_v, xs_v]
    for k, g in enumerate(got[4:]):
        assert g.dtype == np.dtype(dtype)
        close(g, fd_grad(loss_np, args, k), **gtol)


# --------------------------------------------------------------- reverse, cumsum, cumprod


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_scan_reverse_cumsum_int_and_float(backend, unroll):
    """test_scan_reverse: cumsum forwards and backwards, on integers (int64) and floats."""
    xi = gc.placeholder((6,), "int64")
    xf = gc.placeholder((6,), F64)
    outs = []
    for x, init in ((xi, gc.constant(0, "int64")), (xf, gc.constant(0.0, F64))):
        for rev in (False, True):
            c, ys = gc.scan(lambda c, v: (c + v, c + v), init, x, reverse=rev, unroll=unroll)
            outs += [c, ys]
    a = np.array([3, 1, 4, 1, 5, 9])
    got = run([xi, xf], outs, [a, a.astype(np.float64) / 2], backend)
    for k, v in enumerate((a, a / 2)):
        fwd_c, fwd, rev_c, rev = got[4 * k: 4 * k + 4]
        assert fwd.dtype == v.dtype and fwd_c.dtype == v.dtype
        np.testing.assert_array_equal(fwd, np.cumsum(v))
        np.testing.assert_array_equal(rev, np.cumsum(v[::-1])[::-1])
        assert fwd_c == v.sum() and rev_c == v.sum()


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", CHEAP)
def test_reverse_scan_gradient_and_ys_alignment(backend, unroll):
    """A non-commutative recurrence run reversed: ys[t] is the state after consuming xs[t]."""
    xs = gc.placeholder((5, 2), F64)
    h0 = gc.placeholder((2,), F64)

    def body(h, x):
        h = gc.tanh(0.7 * h + x * x[::-1] + 0.1)
        return h, h[0] * 2.0 - h[1]

    def body_np(h, x):
        h = np.tanh(0.7 * h + x * x[::-1] + 0.1)
        return h, h[0] * 2.0 - h[1]

    def loss_np(xv, hv):
        hf, ys = np_scan(body_np, hv, xv, reverse=True)
        return np.sum(hf ** 2) + np.sum(np.array(ys) * np.arange(1.0, 6.0))

    hf, ys = gc.scan(body, h0, xs, reverse=True, unroll=unroll)
    loss = gc.sum(hf * hf) + gc.sum(ys * gc.constant(np.arange(1.0, 6.0)))
    gx, gh = gc.grad(loss, [xs, h0])
    r = rng(7)
    xv, hv = r.standard_normal((5, 2)), r.standard_normal(2)
    got = run([xs, h0], [ys, loss, gx, gh], [xv, hv], backend)
    _, want_ys = np_scan(body_np, hv, xv, reverse=True)
    close(got[0], np.array(want_ys), rtol=1e-13)
    close(got[1], loss_np(xv, hv), rtol=1e-13)
    close(got[2], fd_grad(loss_np, [xv, hv], 0), rtol=1e-6, atol=1e-8)
    close(got[3], fd_grad(loss_np, [xv, hv], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ALL)
def test_cumprod_scan_values_and_gradient(backend):
    """test_scan_vjp_forwards_extensive_residuals: s' = x*s, y = s (the state before the step)."""
    xs = gc.placeholder((6, 2, 3), F64)
    s_fin, ys = gc.scan(lambda s, x: (x * s, s), gc.constant(np.ones((2, 3))), xs)
    loss = gc.sum(s_fin) + gc.sum(ys)
    (gx,) = gc.grad(loss, [xs])
    xv = rng(8).uniform(0.5, 1.5, (6, 2, 3))
    got_s, got_y, got_g = run([xs], [s_fin, ys, gx], [xv], backend)
    cp = np.cumprod(xv, axis=0)
    close(got_s, cp[-1], rtol=1e-14)
    close(got_y, np.concatenate([np.ones((1, 2, 3)), cp[:-1]]), rtol=1e-14)
    loss_np = lambda x: np.prod(x, 0).sum() + np.ones((2, 3)).sum() + np.cumprod(x, 0)[:-1].sum()  # noqa: E731
    close(got_g, fd_grad(loss_np, [xv], 0), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------- length, empty, length 1


@pytest.mark.parametrize("n", [0, 1, 10])
@pytest.mark.parametrize("unroll", [False, True])
def test_scan_length_without_xs_is_arange(n, unroll):
    """testScanLengthArg: scan(lambda c, _: (c + 1, c), 0, None, length=n)[1] == arange(n)."""
    c, ys = gc.scan(lambda c, _: (c + 1, c), gc.constant(0, "int64"), None, length=n, unroll=unroll)
    for backend in CHEAP:
        got_c, got_y = run([], [c, ys], [], backend)
        np.testing.assert_array_equal(got_y, np.arange(n))
        assert got_y.shape == (n,) and got_y.dtype == np.int64 and got_c == n


@pytest.mark.parametrize("backend", CHEAP)
def test_zero_length_scan_keeps_init_empty_ys_and_identity_gradient(backend):
    h0 = gc.placeholder((3,), F64)
    xs = gc.placeholder((0, 3), F64)
    w = gc.placeholder((3,), F64)
    h, ys = gc.scan(lambda h, x: (gc.sin(h * w + x), {"a": h * x, "b": gc.sum(h)}), h0, xs)
    loss = gc.sum(h * gc.constant(np.array([1.0, 2.0, 3.0])))
    gh, gw = gc.grad(loss, [h0, w])
    hv = np.array([0.1, 0.2, 0.3])
    got = run([h0, xs, w], [h, ys["a"], ys["b"], gh, gw], [hv, np.zeros((0, 3)), np.ones(3)], backend)
    close(got[0], hv)
    assert got[1].shape == (0, 3) and got[1].dtype == np.float64
    assert got[2].shape == (0,)
    close(got[3], [1.0, 2.0, 3.0])
    close(got[4], np.zeros(3))


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_length_one_scan_equals_one_body_call(backend, unroll):
    h0 = gc.placeholder((2, 2), F64)
    xs = gc.placeholder((1, 2, 2), F64)
    h, ys = gc.scan(lambda h, x: (h @ x + 1.0, gc.exp(h) * x), h0, xs, unroll=unroll)
    loss = gc.sum(h * h) + gc.sum(ys)
    gh, gx = gc.grad(loss, [h0, xs])
    r = rng(9)
    hv, xv = r.standard_normal((2, 2)), r.standard_normal((1, 2, 2))
    got = run([h0, xs], [h, ys, gh, gx], [hv, xv], backend)
    close(got[0], hv @ xv[0] + 1)
    close(got[1], (np.exp(hv) * xv[0])[None])
    loss_np = lambda a, b: np.sum((a @ b[0] + 1) ** 2) + np.sum(np.exp(a) * b[0])  # noqa: E731
    close(got[2], fd_grad(loss_np, [hv, xv], 0), rtol=1e-7, atol=1e-9)
    close(got[3], fd_grad(loss_np, [hv, xv], 1), rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------ pytrees: tuples, dicts, None


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_nested_tuple_carry_dict_xs_dict_ys(backend, unroll):
    """Carry (a, (b, c)) with a float matrix, a float64 scalar and an int counter; xs a dict of two
    tensors with different trailing shapes; ys a dict holding a tuple."""
    T = 4
    a0 = gc.placeholder((2, 3), F64)
    u = gc.placeholder((T, 3), F64)
    v = gc.placeholder((T, 2), F64)

    def body(carry, x):
        a, (b, k) = carry
        a = a * 0.5 + x["v"][:, None] * x["u"][None, :]
        b = b + gc.sum(a)
        return (a, (b, k + 2)), {"pair": (gc.sum(a, axis=0), b), "k": k}

    (a, (b, k)), ys = gc.scan(body, (a0, (gc.constant(0.0, F64), gc.constant(1, "int64"))), {"u": u, "v": v},
                              unroll=unroll)
    loss = b + gc.sum(ys["pair"][0] ** 2)
    ga, gu = gc.grad(loss, [a0, u])
    r = rng(10)
    av, uv, vv = r.standard_normal((2, 3)), r.standard_normal((T, 3)), r.standard_normal((T, 2))

    def body_np(carry, x):
        a, (b, k) = carry
        a = a * 0.5 + x["v"][:, None] * x["u"][None, :]
        b = b + a.sum()
        return (a, (b, k + 2)), {"pair": (a.sum(0), b), "k": k}

    def ref(av, uv):
        (a_, (b_, k_)), ys_ = np_scan(body_np, (av, (0.0, 1)), {"u": uv, "v": vv})
        return a_, b_, k_, np.array([y["pair"][0] for y in ys_]), np.array([y["pair"][1] for y in ys_]), \
            np.array([y["k"] for y in ys_])

    got = run([a0, u, v], [a, b, k, ys["pair"][0], ys["pair"][1], ys["k"], loss, ga, gu], [av, uv, vv], backend)
    want = ref(av, uv)
    for g, w in zip(got[:6], want):
        close(g, w, rtol=1e-13)
    assert got[2].dtype == np.int64 and got[5].dtype == np.int64
    loss_np = lambda av_, uv_: ref(av_, uv_)[1] + np.sum(ref(av_, uv_)[3] ** 2)  # noqa: E731
    close(got[7], fd_grad(loss_np, [av, uv], 0), rtol=1e-6, atol=1e-7)
    close(got[8], fd_grad(loss_np, [av, uv], 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("unroll", [False, True])
def test_dict_carry_and_ys_none(unroll):
    x = gc.placeholder((5, 2), F64)
    carry, ys = gc.scan(lambda c, xt: ({"p": c["p"] * gc.sum(xt), "s": c["s"] + xt}, None),
                        {"p": gc.constant(1.0, F64), "s": gc.constant(np.zeros(2))}, x, unroll=unroll)
    assert ys is None and set(carry) == {"s", "p"}
    g = gc.grad(carry["p"], x)
    xv = rng(11).uniform(0.5, 1.5, (5, 2))
    for backend in CHEAP:
        s, p, gv = run([x], [carry["s"], carry["p"], g], [xv], backend)
        close(s, xv.sum(0))
        close(p, np.prod(xv.sum(1)), rtol=1e-13)
        close(gv, fd_grad(lambda a: np.prod(a.sum(1)), [xv], 0), rtol=1e-7)


@pytest.mark.parametrize("unroll", [False, True])
def test_dict_carry_returned_with_keys_in_another_order(unroll):
    """A dict is a mapping: as in jax.lax.scan (whose pytrees sort dict keys), a body returning the
    same keys in another insertion order keeps the carry's structure."""
    x = gc.placeholder((3, 2), F64)
    carry, _ = gc.scan(lambda c, xt: ({"s": c["s"] + xt, "p": c["p"] * gc.sum(xt)}, None),
                       {"p": gc.constant(1.0, F64), "s": gc.constant(np.zeros(2))}, x, unroll=unroll)
    xv = np.arange(6.0).reshape(3, 2) + 1
    s, p = run([x], [carry["s"], carry["p"]], [xv])
    close(s, xv.sum(0))
    close(p, np.prod(xv.sum(1)))


def test_cond_branches_returning_dicts_with_keys_in_another_order():
    """Same keys, same types, other insertion order: one structure (as jax pytrees)."""
    a = gc.placeholder((), F64)
    out = gc.cond(a > 0.0, lambda v: {"a": v, "b": v * 2.0}, lambda v: {"b": -v, "a": v * 3.0}, a)
    f = gc.compile([a], [out["a"], out["b"]], backend="numpy")
    close(f(np.float64(1.0)), [1.0, 2.0])
    close(f(np.float64(-1.0)), [-3.0, 1.0])


@pytest.mark.parametrize("backend", CHEAP)
def test_carries_that_shift_left(backend):
    """testScanVmapFixpoint without vmap: the carry (c0, c1, c2, c3) becomes (c1, c2, c3, 0)."""
    init = gc.placeholder((3,), F64)
    z = init * 0.0
    carry, _ = gc.scan(lambda c, _: ((c[1], c[2], c[3], c[3] * 0.0), None),
                       (z, z + 1.0, z + 2.0, init), gc.constant(np.zeros(2)))
    got = run([init], list(carry), [np.array([3.0, 4.0, 5.0])], backend)
    close(got[0], [2.0, 2.0, 2.0])
    close(got[1], [3.0, 4.0, 5.0])
    close(got[2], [0.0, 0.0, 0.0])
    close(got[3], [0.0, 0.0, 0.0])


# --------------------------------------------------------- closures / captured tensors


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_scan_hoisting_captured_constants_and_grad_of_scalar_input(backend, unroll):
    """test_scan_hoisting_consts: a body reading captured A, B and sin(B), no xs, length 3;
    d/dx sum(...) where the init is x * ones."""
    A = np.arange(4.0).reshape(2, 2)
    B = A + 1.0
    x = gc.placeholder((), F64)

    def body(c, _):
        c1, c2, c3 = c
        return (gc.constant(A) @ c1, gc.constant(B) @ c2, gc.sin(gc.constant(B)) @ c3), None

    ones = gc.constant(np.ones((2, 1)))
    (c1, c2, c3), _ = gc.scan(body, (x * ones, x * ones, x * ones), None, length=3, unroll=unroll)
    out = gc.sum(c1) + gc.sum(c2) + gc.sum(c3)
    g = gc.grad(out, x)
    got_o, got_g = run([x], [out, g], [np.float64(1.5)], backend)
    mp = np.linalg.matrix_power
    lin = sum(np.sum(mp(M, 3) @ np.ones((2, 1))) for M in (A, B, np.sin(B)))
    close(got_o, 1.5 * lin, rtol=1e-13)
    close(got_g, lin, rtol=1e-13)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_gradient_wrt_captured_placeholder_and_intermediate(backend, unroll):
    """Closure over a placeholder w and an intermediate m = w * 2 (testScanOfClosures-like):
    gradients w.r.t. w (summed over the steps), the intermediate m, and a captured second-order term."""
    w = gc.placeholder((3,), F64, name="w")
    xs = gc.placeholder((4, 3), F64)
    m = w * 2.0
    h, ys = gc.scan(lambda h, x: (gc.tanh(h * m + x * w), gc.sum(h * w)), gc.constant(np.full(3, 0.3)), xs,
                    unroll=unroll)
    loss = gc.sum(h) + gc.sum(ys * ys)
    gw, gm = gc.grad(loss, [w, m])
    (hw,) = gc.hvp(loss, [w], [gc.constant(np.array([1.0, -1.0, 0.5]))])

    def loss_np(wv, xv, mv=None):
        mv = wv * 2.0 if mv is None else mv
        h_, ys_ = np_scan(lambda h, x: (np.tanh(h * mv + x * wv), np.sum(h * wv)), np.full(3, 0.3), xv)
        return np.sum(h_) + np.sum(np.array(ys_) ** 2)

    r = rng(12)
    wv, xv = r.standard_normal(3) * 0.5, r.standard_normal((4, 3))
    got = run([w, xs], [loss, gw, gm, hw], [wv, xv], backend)
    close(got[0], loss_np(wv, xv), rtol=1e-13)
    close(got[1], fd_grad(loss_np, [wv, xv], 0), rtol=1e-6, atol=1e-8)
    # d/dm holding w fixed where it is read directly
    close(got[2], fd_grad(lambda mv: loss_np(wv, xv, mv), [wv * 2.0], 0), rtol=1e-6, atol=1e-8)
    close(got[3], fd_hvp(loss_np, [wv, xv], 0, np.array([1.0, -1.0, 0.5])), rtol=1e-4, atol=1e-6)


def test_body_reads_a_batch_sized_placeholder():
    """A captured tensor of size given at call time (None batch): values and gradient for two sizes."""
    bias = gc.placeholder((None, 3), F64, name="bias")
    xs = gc.placeholder((4, 3), F64, name="xs")
    h, ys = gc.scan(lambda h, x: (gc.tanh(h + x + gc.mean(bias, axis=0)), h * bias), gc.constant(np.zeros(3)), xs)
    loss = gc.sum(h) + gc.sum(ys * ys)
    gb = gc.grad(loss, bias)
    f = gc.compile([bias, xs], [h, ys, gb], backend="numpy")
    r = rng(13)
    xv = r.standard_normal((4, 3))
    for nb in (2, 5):
        bv = r.standard_normal((nb, 3))

        def ref(b):
            h_, ys_ = np_scan(lambda hh, x: (np.tanh(hh + x + b.mean(0)), hh * b), np.zeros(3), xv)
            return h_, np.array(ys_)
        got_h, got_y, got_g = f(bv, xv)
        wh, wy = ref(bv)
        close(got_h, wh, rtol=1e-13)
        close(got_y, wy, rtol=1e-13)
        close(got_g, fd_grad(lambda b: ref(b)[0].sum() + (ref(b)[1] ** 2).sum(), [bv], 0), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_nested_scans_values_grads_and_hvp(backend, unroll):
    """A scan over rows whose body scans over the row's elements (the inner reads the outer's carry
    and a captured weight); loss, grad w.r.t. xs / w / init, HVP w.r.t. w."""
    xs = gc.placeholder((3, 4, 2), F64)
    w = gc.placeholder((2,), F64)
    h0 = gc.placeholder((2,), F64)

    def outer(h, row):
        g, inner_ys = gc.scan(lambda g, x: (gc.sin(g * w + x) + 0.1 * h, gc.sum(g * x)), h, row, unroll=unroll)
        return g * 0.9, gc.sum(inner_ys)

    def outer_np(h, row, wv):
        g, inner_ys = np_scan(lambda g, x: (np.sin(g * wv + x) + 0.1 * h, np.sum(g * x)), h, row)
        return g * 0.9, np.sum(inner_ys)

    def loss_np(xv, wv, hv):
        h_, ys_ = np_scan(lambda h, row: outer_np(h, row, wv), hv, xv)
        return np.sum(h_ ** 2) + np.sum(np.array(ys_) * np.array([1.0, 2.0, 3.0]))

    h, ys = gc.scan(outer, h0, xs, unroll=unroll)
    loss = gc.sum(h * h) + gc.sum(ys * gc.constant(np.array([1.0, 2.0, 3.0])))
    gx, gw, gh = gc.grad(loss, [xs, w, h0])
    (hw,) = gc.hvp(loss, [w], [gc.constant(np.array([1.0, -0.5]))])
    r = rng(14)
    xv, wv, hv = r.standard_normal((3, 4, 2)), r.standard_normal(2), r.standard_normal(2)
    got = run([xs, w, h0], [loss, gx, gw, gh, hw], [xv, wv, hv], backend)
    args = [xv, wv, hv]
    close(got[0], loss_np(*args), rtol=1e-13)
    for k in range(3):
        close(got[1 + k], fd_grad(loss_np, args, k), rtol=1e-6, atol=1e-8)
    close(got[4], fd_hvp(loss_np, args, 1, np.array([1.0, -0.5])), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", CHEAP)
def test_grad_inside_scan_body_then_grad_of_the_scan(backend):
    """testIssue711: a body that itself takes a gradient (one gradient-descent step on an energy
    whose parameter p is captured), then the gradient of the whole scan w.r.t. p."""
    p = gc.placeholder((), F64, name="p")
    x0 = gc.constant(np.array([1.0, 2.0, 3.0]))

    def apply(carry, _):
        i, x = carry
        energy = gc.sum(x * x * p) + gc.sum(gc.sin(x))
        return (i + 1, x - 0.1 * gc.grad(energy, x)), None

    (i, xf), _ = gc.scan(apply, (gc.constant(0, "int64"), x0), gc.constant(np.zeros((7, 0))))
    loss = gc.sum(gc.sin(1.0 - xf))
    g = gc.grad(loss, p)

    def ref(pv):
        x = np.array([1.0, 2.0, 3.0])
        for _ in range(7):
            x = x - 0.1 * (2 * x * pv + np.cos(x))
        return x

    got_i, got_x, got_g = run([p], [i, xf, g], [np.float64(0.25)], backend)
    assert got_i == 7
    close(got_x, ref(0.25), rtol=1e-13)
    close(got_g, fd_grad(lambda pv: np.sum(np.sin(1.0 - ref(pv))), [np.float64(0.25)], 0), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", CHEAP)
def test_forward_jacobian_of_scan_whose_body_takes_a_grad(backend):
    """testIssue757: jacfwd of a scan whose body is x -> d cos(x)/dx (= -sin x), 10 times."""
    x = gc.placeholder((), F64)
    xf, _ = gc.scan(lambda c, i: (gc.grad(gc.cos(c), c), i), x, gc.constant(np.arange(10)))
    jf = gc.jacobian(xf, x, mode="fwd")
    jr = gc.jacobian(xf, x, mode="rev")

    def ref(v):
        for _ in range(10):
            v = -np.sin(v)
        return v

    got = run([x], [xf, jf, jr], [np.float64(0.5)], backend)
    close(got[0], ref(0.5), rtol=1e-13)
    want = fd_grad(ref, [np.float64(0.5)], 0)
    close(got[1], want, rtol=1e-7)
    close(got[2], want, rtol=1e-7)


# ------------------------------------------------------------------------------ cond


@pytest.mark.parametrize("backend", ALL)
def test_cond_grad_constant_branch_first_and_second_order(backend):
    """testCondGrad3/4: cond(x < 3, 2 sin(y), 2 cos(x)); grads w.r.t. x and y, and second order,
    on both sides of the switch."""
    x = gc.placeholder((), F64)
    y = gc.placeholder((), F64)
    out = gc.cond(x < 3.0, lambda a, b: 2.0 * gc.sin(b), lambda a, b: 2.0 * gc.cos(a), x, y)
    gx, gy = gc.grad(out, [x, y])
    gxx, gxy = gc.grad(gx, [x, y])
    gyy = gc.grad(gy, y)
    f = gc.compile([x, y], [out, gx, gy, gxx, gxy, gyy], backend=backend)
    for xv in (3.14, 2.72):
        yv = 5.8
        got = f(np.float64(xv), np.float64(yv))
        if xv < 3:
            want = [2 * np.sin(yv), 0.0, 2 * np.cos(yv), 0.0, 0.0, -2 * np.sin(yv)]
        else:
            want = [2 * np.cos(xv), -2 * np.sin(xv), 0.0, -2 * np.cos(xv), 0.0, 0.0]
        for g, w in zip(got, want):
            close(g, w, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("backend", CHEAP)
def test_cond_linearize_vector_operand_and_jvp(backend):
    """testCondLinearize2: cond(x[0] < 2, [1, 2] * x, cos(sin(x))).sum(); value, jvp and grad."""
    x = gc.placeholder((2,), F64)
    t = gc.placeholder((2,), F64)
    out = gc.sum(gc.cond(x[0] < 2.0, lambda v: gc.constant(np.array([1.0, 2.0])) * v,
                         lambda v: gc.cos(gc.sin(v)), x))
    j = gc.jvp(out, [x], [t])
    g = gc.grad(out, x)
    f = gc.compile([x, t], [out, j, g], backend=backend)

    def ref(v):
        return np.sum(np.array([1.0, 2.0]) * v) if v[0] < 2 else np.sum(np.cos(np.sin(v)))

    for xv in (2.14 * np.ones(2), -2.14 * np.ones(2)):
        tv = np.array([0.3, -1.1])
        got = f(xv, tv)
        close(got[0], ref(xv), rtol=1e-13)
        close(got[1], fd_jvp(ref, [xv], [tv]), rtol=1e-7, atol=1e-9)
        close(got[2], fd_grad(ref, [xv], 0), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", ALL)
def test_cond_nan_in_branch_not_taken_stays_out(backend):
    """The branch not taken computes log/sqrt of a negative operand: the value and the gradient
    (first and second order) are those of the taken branch only (testCondVmapGrad-like over many x)."""
    x = gc.placeholder((), F64)
    out = gc.cond(x > 0.0, lambda v: gc.sqrt(v) * gc.log(v), lambda v: v ** 3, x)
    g = gc.grad(out, x)
    gg = gc.grad(g, x)
    j = gc.jvp(out, [x], [gc.constant(1.0, F64)])
    f = gc.compile([x], [out, g, gg, j], backend=backend)
    for xv in [*np.linspace(-1.0, 1.0, 8), 0.0]:
        got = f(np.float64(xv))
        close(got[3], got[1])  # forward mode agrees with reverse mode, NaN-free
        if xv > 0:
            want = [np.sqrt(xv) * np.log(xv), (np.log(xv) + 2) / (2 * np.sqrt(xv)),
                    -np.log(xv) / (4 * xv ** 1.5)]
        else:
            want = [xv ** 3, 3 * xv ** 2, 6 * xv]
        for gv, w in zip(got, want):
            assert np.isfinite(gv)
            close(gv, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", CHEAP)
def test_cond_with_tuple_operands_and_dict_outputs(backend):
    """Multiple operands, a (float, int) tuple, returning a dict; testIssue514-like constants."""
    a = gc.placeholder((3,), F64)
    k = gc.placeholder((), "int64")
    p = gc.placeholder((), "bool")
    out = gc.cond(p, lambda v, kk: {"v": v * 2.0, "k": kk + 1},
                  lambda v, kk: {"v": -v, "k": kk * 3}, a, k)
    gv = gc.grad(gc.sum(out["v"] * out["v"]), a)
    f = gc.compile([a, k, p], [out["v"], out["k"], gv], backend=backend)
    av = np.array([1.0, -2.0, 0.5])
    for pv in (True, False):
        got = f(av, np.int64(4), np.bool_(pv))
        close(got[0], av * 2 if pv else -av)
        assert got[1] == (5 if pv else 12) and got[1].dtype == np.int64
        close(got[2], 8 * av if pv else 2 * av)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("backend", ALL)
def test_cond_inside_scan_data_dependent(backend, unroll):
    """A body branching on its carry each step (a piecewise recurrence): values and gradients."""
    xs = gc.placeholder((6,), F64)
    h0 = gc.placeholder((), F64)

    def body(h, x):
        h = gc.cond(h > 0.0, lambda a, b: a * 0.5 - b, lambda a, b: gc.exp(a) + b * b, h, x)
        return h, h * x

    def body_np(h, x):
        h = h * 0.5 - x if h > 0 else np.exp(h) + x * x
        return h, h * x

    def loss_np(xv, hv):
        h_, ys_ = np_scan(body_np, hv, xv)
        return h_ + np.sum(ys_)

    h, ys = gc.scan(body, h0, xs, unroll=unroll)
    loss = h + gc.sum(ys)
    gx, gh = gc.grad(loss, [xs, h0])
    xv = np.array([0.3, -1.2, 2.0, 0.1, -0.4, 1.5])
    got = run([xs, h0], [h, ys, gx, gh], [xv, np.float64(0.2)], backend)
    want_h, want_ys = np_scan(body_np, 0.2, xv)
    close(got[0], want_h, rtol=1e-13)
    close(got[1], np.array(want_ys), rtol=1e-13)
    close(got[2], fd_grad(loss_np, [xv, np.float64(0.2)], 0), rtol=1e-6, atol=1e-8)
    close(got[3], fd_grad(loss_np, [xv, np.float64(0.2)], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ALL)
def test_scan_inside_cond_branches(backend):
    """Each branch of a cond runs its own scan (a cumulative sum or a cumulative product of the
    operand); values and gradients on both sides."""
    x = gc.placeholder((5,), F64)
    p = gc.placeholder((), "bool")

    def cumsum(v):
        return gc.scan(lambda c, e: (c + e, c + e), gc.constant(0.0, F64), v)[1]

    def cumprod(v):
        return gc.scan(lambda c, e: (c * e, c * e), gc.constant(1.0, F64), v, reverse=True)[1]

    out = gc.cond(p, cumsum, cumprod, x)
    loss = gc.sum(out * gc.constant(np.arange(1.0, 6.0)))
    g = gc.grad(loss, x)
    f = gc.compile([x, p], [out, g], backend=backend)
    xv = np.array([1.1, 0.9, -1.3, 0.7, 1.2])
    for pv in (True, False):
        ref = (lambda v: np.cumsum(v)) if pv else (lambda v: np.cumprod(v[::-1])[::-1])
        got_o, got_g = f(xv, np.bool_(pv))
        close(got_o, ref(xv), rtol=1e-13)
        close(got_g, fd_grad(lambda v: np.sum(ref(v) * np.arange(1.0, 6.0)), [xv], 0), rtol=1e-7, atol=1e-9)  # noqa: B023 - used within the iteration


@pytest.mark.parametrize("backend", CHEAP)
def test_while_via_scan_and_cond_linearized(backend):
    """test_xla_cpu_gpu_loop_cond_bug: a bounded while loop written as a scan of a cond on a
    (value, keep-going) carry; the derivative of x**1 (max_iter=1) is 1, of x**3 is 3x**2."""
    for max_iter in (1, 3):
        x = gc.placeholder((), F64)

        def step(carry, _):
            val, go = carry
            new = gc.cond(go, lambda v, g: (v * x, g), lambda v, g: (v, gc.constant(False)), val, go)  # noqa: B023 - traced within the iteration
            return new, None

        (val, _), _ = gc.scan(step, (gc.constant(1.0, F64), gc.constant(True)), None, length=max_iter)
        d = gc.jvp(val, [x], [gc.constant(1.0, F64)])
        got_v, got_d = run([x], [val, d], [np.float64(3.0)], backend)
        close(got_v, 3.0 ** max_iter)
        close(got_d, max_iter * 3.0 ** (max_iter - 1))


# ------------------------------------------------------------------------- fori_loop


@pytest.mark.parametrize("backend", CHEAP)
def test_fori_loop_values_jvp_and_second_order(backend):
    """testWhileJVPViaForiLoop: x*2 three times is 16x; x*(i+1) for i < 3 is 6x; with x**2
    per step, second derivatives against the closed form."""
    x = gc.placeholder((), F64)
    f1 = gc.fori_loop(0, 3, lambda i, c: c * 2.0, x)
    f2 = gc.fori_loop(0, 3, lambda i, c: c * float(i + 1), x)
    f3 = gc.fori_loop(1, 3, lambda i, c: c * c * i, x)  # i=1: x^2; i=2: 2 x^4
    one = gc.constant(1.0, F64)
    j1, j2 = gc.jvp([f1, f2], [x], [one])
    g3 = gc.grad(f3, x)
    gg3 = gc.grad(g3, x)
    got = run([x], [f1, f2, j1, j2, f3, g3, gg3], [np.float64(2.0)], backend)
    want = [16.0, 12.0, 8.0, 6.0, 2 * 2.0 ** 4, 8 * 2.0 ** 3, 24 * 2.0 ** 2]
    for g, w in zip(got, want):
        close(g, w, rtol=1e-14)


@pytest.mark.parametrize("backend", CHEAP)
def test_fori_loop_tuple_carry_inside_scan_and_empty_range(backend):
    """fori_loop with a (float, int) carry, nested in a scan body; and fori_loop(5, 5) is init."""
    xs = gc.placeholder((3, 2), F64)

    def body(h, x):
        h2, n = gc.fori_loop(0, 2, lambda i, c: (gc.sin(c[0]) + x * (i + 1), c[1] + i), (h, gc.constant(0, "int64")))
        return h2, n

    h, ns = gc.scan(body, gc.constant(np.zeros(2)), xs)
    empty = gc.fori_loop(5, 5, lambda i, c: c * 100.0, xs)
    g = gc.grad(gc.sum(h), xs)

    def ref(xv):
        hv = np.zeros(2)
        for x_ in xv:
            for i in range(2):
                hv = np.sin(hv) + x_ * (i + 1)
        return hv

    xv = rng(15).standard_normal((3, 2))
    got_h, got_n, got_e, got_g = run([xs], [h, ns, empty, g], [xv], backend)
    close(got_h, ref(xv), rtol=1e-13)
    np.testing.assert_array_equal(got_n, [1, 1, 1])
    close(got_e, xv)
    close(got_g, fd_grad(lambda v: ref(v).sum(), [xv], 0), rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("backend", ALL)
def test_float32_scan_keeps_float32_and_matches_float64_reference(backend):
    xs = gc.placeholder((20, 8), "float32")
    w = gc.variable((rng(16).standard_normal((8, 8)) * 0.3).astype(np.float32))
    h, ys = gc.scan(lambda h, x: (gc.tanh(h @ w + x), gc.mean(h)), gc.constant(np.zeros((1, 8), np.float32)),
                    gc.reshape(xs, (20, 1, 8)))
    loss = gc.sum(ys) + gc.sum(h)
    gw = gc.grad(loss, w)
    xv = rng(17).standard_normal((20, 8)).astype(np.float32)
    got_h, got_y, got_g = run([xs], [h, ys, gw], [xv], backend)
    assert got_h.dtype == got_y.dtype == got_g.dtype == np.float32
    W = w.value.astype(np.float64)

    def ref(Wv):
        h_, ys_ = np_scan(lambda hh, x: (np.tanh(hh @ Wv + x), hh.mean()), np.zeros((1, 8)), xv.astype(np.float64)[:, None])
        return h_, np.array(ys_)

    wh, wy = ref(W)
    close(got_h, wh, rtol=1e-4, atol=1e-5)
    close(got_y, wy, rtol=1e-4, atol=1e-5)
    close(got_g, fd_grad(lambda Wv: ref(Wv)[0].sum() + ref(Wv)[1].sum(), [W], 0), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("backend", CHEAP)
def test_integer_carry_next_to_float_carry_gradient(backend):
    """An int32 counter and a float64 state side by side; the gradient flows only through floats,
    and the int ys (a running argmax-ish index) comes out int32."""
    xs = gc.placeholder((5, 3), F64)
    (hh, cnt), ys = gc.scan(lambda c, x: ((c[0] * 0.8 + x, c[1] + gc.cast(gc.sum(x) > 0.0, "int32")),
                                          (c[1], gc.sum(c[0] * x))),
                            (gc.constant(np.zeros(3)), gc.constant(0, "int32")), xs)
    g = gc.grad(gc.sum(hh) + gc.sum(ys[1]), xs)
    xv = rng(18).standard_normal((5, 3))
    got_h, got_c, got_ci, got_y, got_g = run([xs], [hh, cnt, ys[0], ys[1], g], [xv], backend)
    assert got_c.dtype == np.int32 and got_ci.dtype == np.int32
    pos = (xv.sum(1) > 0).astype(np.int32)
    assert got_c == pos.sum()
    np.testing.assert_array_equal(got_ci, np.concatenate([[0], np.cumsum(pos)[:-1]]))

    def ref(v):
        h_, ys_ = np_scan(lambda c, x: (c * 0.8 + x, np.sum(c * x)), np.zeros(3), v)
        return h_, np.array(ys_)
    close(got_h, ref(xv)[0], rtol=1e-13)
    close(got_y, ref(xv)[1], rtol=1e-13, atol=1e-14)
    close(got_g, fd_grad(lambda v: ref(v)[0].sum() + ref(v)[1].sum(), [xv], 0), rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------------ bad input


def _err(fn):
    with pytest.raises(gc.GraphcError) as info:
        fn()
    return str(info.value)


def test_scan_type_errors_name_expected_and_found():
    """testScanTypeErrors: carry dtype, shape and structure changes; a body not returning a pair;
    xs of disagreeing lengths; a 0-d xs; cond branches that disagree."""
    xs = gc.constant(np.arange(5.0, dtype=np.float32))
    f32 = gc.constant(1.0, "float32")
    # dtype change: float32 carry replaced by an int32
    msg = _err(lambda: gc.scan(lambda c, x: (gc.constant(0, "int32"), x), f32, xs))
    assert "float32" in msg.replace("f32", "float32") and ("int32" in msg or "i32" in msg), msg
    # shape change
    msg = _err(lambda: gc.scan(lambda c, x: (gc.stack([c, c]), x), f32, xs))
    assert "[2]" in msg or "(2,)" in msg or "2]" in msg, msg
    # structure change: tuple of 3 where the init is (1, (2, 3))
    init = (f32, (f32, f32))
    msg = _err(lambda: gc.scan(lambda c, x: ((c[0], c[0], c[0]), x), init, xs))
    assert "carry" in msg, msg
    # not a pair
    msg = _err(lambda: gc.scan(lambda c, x: c, f32, xs))
    assert "pair" in msg, msg
    # xs lengths disagree
    msg = _err(lambda: gc.scan(lambda c, x: (c, None), f32, (xs, gc.constant(np.zeros(4)))))
    assert "4" in msg and "5" in msg, msg
    msg = _err(lambda: gc.scan(lambda c, x: (c, None), f32, xs, length=3))
    assert "3" in msg and "5" in msg, msg
    # 0-d xs
    _err(lambda: gc.scan(lambda c, x: (c, None), f32, gc.constant(1.0)))
    # no xs and no length
    _err(lambda: gc.scan(lambda c, x: (c, None), f32, None))
    # cond branches of different types / shapes
    msg = _err(lambda: gc.cond(gc.constant(True), lambda v: v, lambda v: gc.cast(v, "int32"), f32))
    assert "f32" in msg and "i32" in msg, msg
    msg = _err(lambda: gc.cond(gc.constant(True), lambda v: v, lambda v: gc.stack([v, v]), f32))
    assert "f32[]" in msg and "f32[2]" in msg, msg
    # non-scalar or non-bool predicate
    _err(lambda: gc.cond(gc.constant(np.array([True, False])), lambda v: v, lambda v: v, f32))
    _err(lambda: gc.cond(gc.constant(1.0), lambda v: v, lambda v: v, f32))


def test_fori_loop_errors():
    f32 = gc.constant(1.0, "float32")
    msg = _err(lambda: gc.fori_loop(0, 3, lambda i, c: gc.cast(c, "float64"), f32))
    assert "float32" in msg and "float64" in msg, msg
    _err(lambda: gc.fori_loop(0, 3.5, lambda i, c: c, f32))


def test_python_float_init_with_float64_body_gives_a_hint():
    """A Python 0.0 init is float32 in graphc (JAX would weak-type it): the error says so."""
    xs = gc.placeholder((4,), F64)
    msg = _err(lambda: gc.scan(lambda c, x: (c + x, c), 0.0, xs))
    assert "float32" in msg and "float64" in msg and "dtype" in msg, msg


def test_eager_scan_matches_graph_scan_and_gradients():
    """The same scan eagerly (a Python loop over eager tensors) and compiled."""
    r = rng(19)
    xv, wv = r.standard_normal((4, 3)), r.standard_normal(3)

    def model(xs, w):
        h, ys = gc.scan(lambda h, x: (gc.tanh(h * w + x), gc.sum(h * h)), xs[0] * 0.0, xs)
        return gc.sum(h) + gc.sum(ys)

    xe, we = eager.tensor(xv, requires_grad=True), eager.tensor(wv, requires_grad=True)
    le = model(xe, we)
    le.backward()
    xs, w = gc.placeholder((4, 3), F64), gc.placeholder((3,), F64)
    lg = model(xs, w)
    got = run([xs, w], [lg, *gc.grad(lg, [xs, w])], [xv, wv])
    close(le.data, got[0], rtol=1e-13)
    close(xe.grad, got[1], rtol=1e-12)
    close(we.grad, got[2], rtol=1e-12)


# ----------------------------------------------------------- more pytrees, unknown sizes


P = collections.namedtuple("P", "x y")


def test_namedtuple_carry_and_ys():
    xs = gc.placeholder((4,), F64)
    for unroll in (False, True):
        c, ys = gc.scan(lambda p, e: (P(p.x + e, p.y * e), P(p.x, e)),
                        P(gc.constant(0.0, F64), gc.constant(1.0, F64)), xs, unroll=unroll)
        assert isinstance(c, P) and isinstance(ys, P)
        got = run([xs], [c.x, c.y, ys.x, ys.y], [np.arange(1.0, 5.0)])
        close(got[0], 10.0)
        close(got[1], 24.0)
        close(got[2], [0.0, 1.0, 3.0, 6.0])
        close(got[3], [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_scan_over_a_sequence_of_unknown_length_reversed(backend):
    """xs of shape (None, 3): one compiled function for lengths 3, 1, 0 and 4, values and grads."""
    xs = gc.placeholder((None, 3), F64)
    c, ys = gc.scan(lambda c, x: (gc.sin(c) + x, gc.sum(c * x)), gc.constant(np.full(3, 0.5)), xs, reverse=True)
    loss = gc.sum(ys) + gc.sum(c)
    f = gc.compile([xs], [c, ys, gc.grad(loss, xs)], backend=backend)

    def ref(X):
        hf, ys_ = np_scan(lambda h, x: (np.sin(h) + x, np.sum(h * x)), np.full(3, 0.5), X, reverse=True)
        return hf, np.array(ys_).reshape(len(X))

    for n in (3, 1, 0, 4):
        X = rng(20 + n).standard_normal((n, 3))
        got = f(X)
        close(got[0], ref(X)[0], rtol=1e-13)
        close(got[1], ref(X)[1], rtol=1e-13)
        close(got[2], fd_grad(lambda v: ref(v)[0].sum() + ref(v)[1].sum(), [X], 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_training_an_rnn_with_run_many_matches_manual_sgd(backend):
    xs = gc.placeholder((4, 2), F64)
    w = gc.variable(np.array([0.5, -0.5]))
    c, ys = gc.scan(lambda c, x: (gc.tanh(c * w + x), gc.sum(c)), gc.constant(np.zeros(2)), xs)
    loss = gc.sum(ys) + gc.sum(c)
    f = gc.compile([xs], loss, updates=gc.optim.sgd(loss, [w], lr=0.1), backend=backend)
    X = rng(21).standard_normal((3, 4, 2))
    out = f.run_many(X)

    def L(wv, x):
        h, ys_ = np_scan(lambda h, xt: (np.tanh(h * wv + xt), np.sum(h)), np.zeros(2), x)
        return np.sum(ys_) + np.sum(h)

    wv, losses = np.array([0.5, -0.5]), []
    for x in X:
        losses.append(L(wv, x))
        wv = wv - 0.1 * fd_grad(L, [wv, x], 0)
    close(out, losses, rtol=1e-10)
    close(w.value, wv, rtol=1e-7)


# ------------------------------------------------------------ bugs the port found


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_cond_branch_not_taken_may_index_out_of_range(backend):
    """API.md section 7: `cond` runs only the branch taken. The canonical guarded gather
    cond(i < n, lambda i: table[i], lambda i: default) works eagerly and in jax.lax.cond; the
    compiled graph once evaluated table[5] anyway and raised. Its gradient is guarded too."""
    table = gc.placeholder((3,), F64)
    i = gc.placeholder((), "int64")
    out = gc.cond(i < 3, lambda j: table[j], lambda j: gc.constant(-1.0, F64), i)
    f = gc.compile([table, i], [out, gc.grad(out * out, table)], backend=backend)
    value, grad = f(np.arange(3.0), np.int64(1))
    assert value == 1.0 and grad.tolist() == [0.0, 2.0, 0.0]
    value, grad = f(np.arange(3.0), np.int64(5))
    assert value == -1.0 and grad.tolist() == [0.0, 0.0, 0.0]


def test_scan_structure_error_names_the_structures():
    """A carry whose structure changes (but whose leaf types do not) must say what was expected and
    what came; graphc prints the same flat type list twice."""
    f32 = gc.constant(1.0, "float32")
    xs = gc.constant(np.arange(5.0, dtype=np.float32))
    msg = _err(lambda: gc.scan(lambda c, x: ((c[0], c[0], c[0]), x), (f32, (f32, f32)), xs))
    expected_part, found_part = msg.split(" to ")[0], msg.split(" to ")[1].split(";")[0]
    assert expected_part.split("from ")[-1] != found_part, msg
    msg = _err(lambda: gc.scan(lambda c, x: ([c[0], c[1]], x), (f32, f32), xs))
    assert "list" in msg or "[" in msg.split(" to ")[1].split(";")[0][:2], msg


def test_eager_zero_length_scan_returns_eager_ys():
    c, ys = gc.scan(lambda c, x: (c + x, c * 2.0), eager.tensor(np.ones(3)), eager.tensor(np.zeros((0, 3))))
    assert eager.is_eager(c)
    assert eager.is_eager(ys), type(ys)
    assert ys.data.shape == (0, 3)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float64_accumulator_of_float32_products_keeps_float64_precision(backend):
    """A float64 carry summing float32 products: the loop must equal the unrolled scan (and
    optimize=False) to float64 rounding; the 'products out of loops' rewrite does the whole sum as
    one float32 matmul instead."""
    X = (rng(22).standard_normal((2000, 2, 2)) + 3).astype(np.float32)
    want = sum(x.T.astype(np.float64) @ x.astype(np.float64) for x in X)
    xs = gc.placeholder((2000, 2, 2), "float32")
    acc, _ = gc.scan(lambda a, x: (a + gc.transpose(x) @ x, None), gc.constant(np.zeros((2, 2))), xs)
    got = gc.compile([xs], acc, backend=backend)(X)
    assert got.dtype == np.float64
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-8


def test_dicts_in_namedtuples_and_ys_may_come_back_in_another_key_order() -> None:
    """Found by a review: reordered keys inside a namedtuple carry or cond branch, and ys dicts
    whose order changes from step to step when the scan is unrolled or eager."""
    xs = gc.placeholder((3, 2), "float64", name="xs")
    z = gc.constant(np.zeros(2))
    carry, _ = gc.scan(lambda c, x: (P(c.x + x, {"b": c.y["b"] * 2.0, "a": c.y["a"] + x}), None), P(z, {"a": z, "b": z}), xs)
    chosen = gc.cond(gc.constant(False), lambda: P(z, {"a": z, "b": z + 1.0}), lambda: P(z + 2.0, {"b": z + 3.0, "a": z}))
    got = run([xs], [carry.x, carry.y["a"], chosen.x, chosen.y["b"]], [np.ones((3, 2))])
    close(got[0], np.full(2, 3.0))
    close(got[1], np.full(2, 3.0))
    close(got[2], np.full(2, 2.0))
    close(got[3], np.full(2, 3.0))
    def body(c: Any, x: Any, count: list[int]) -> Any:
        count[0] += 1
        return c + x, ({"u": x, "v": x * 2.0} if count[0] % 2 else {"v": x * 2.0, "u": x})

    for unroll in (False, True):
        steps = [0]
        _, ys = gc.scan(lambda c, x, steps=steps: body(c, x, steps), z, xs, unroll=unroll)
        close(run([xs], [ys["v"]], [np.ones((3, 2))])[0], np.full((3, 2), 2.0))
