"""Native programs that once failed to compile, trained nothing, or disagreed with the reference."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _reference_and_native(inputs, outputs, feeds, updates=None):  # type: ignore[no-untyped-def]
    want = gc.compile(inputs, outputs, updates, backend="numpy", optimize=False)
    got = gc.compile(inputs, outputs, updates)
    return want, got


@pytest.mark.parametrize("reduce", [gc.sum, gc.mean])
def test_sgd_on_a_reduced_product_compiles_and_trains(reduce) -> None:  # type: ignore[no-untyped-def]
    # The gradient x.T @ fill reaches the gemm update with a literal operand.
    start = np.arange(6.0).reshape(3, 2)
    w = gc.variable(start, name="w")
    x = gc.placeholder((4, 3), "float64", name="x")
    loss = reduce(x @ w)
    updates = gc.optim.sgd(loss, [w], 0.1)
    want, got = _reference_and_native([x], loss, None, updates)
    feed = np.arange(12.0).reshape(4, 3) / 10
    want(feed)
    expected = w.value
    w.assign(start)
    got(feed)
    np.testing.assert_allclose(w.value, expected, rtol=1e-12)


def test_a_variable_made_from_a_transposed_array_trains() -> None:
    # Fortran-ordered data was updated in a temporary copy natively: the weights never changed.
    start = np.arange(6.0).reshape(2, 3).T
    w = gc.variable(start, name="w")
    assert w.value.flags.c_contiguous
    x = gc.placeholder((4, 3), "float64", name="x")
    loss = gc.sum(gc.tanh(x @ w))
    updates = gc.optim.sgd(loss, [w], 0.5)
    feed = np.linspace(-1, 1, 12).reshape(4, 3)
    reference = gc.compile([x], loss, updates, backend="numpy")
    reference(feed)
    expected = w.value
    w.assign(start)
    gc.compile([x], loss, updates)(feed)
    assert not np.allclose(w.value, start)
    np.testing.assert_allclose(w.value, expected, rtol=1e-12)


def test_a_deep_step_with_accuracy_compiles() -> None:
    # Enough loop indices that fresh names once reached i8, i16, i32, i64: the dtype constructors.
    rng = np.random.default_rng(0)
    sizes = [6, 5, 5, 5, 5, 3]
    params = [gc.variable(rng.standard_normal((a, b)) * 0.5, name=f"W{k}") for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    x = gc.placeholder((8, 6), "float64", name="x")
    y = gc.placeholder((8,), "int64", name="y")
    h = x
    for w in params[:-1]:
        h = gc.relu(h @ w)
    logits = h @ params[-1]
    loss = gc.mean(gc.softmax_cross_entropy(logits, y))
    accuracy = gc.mean(gc.cast(gc.argmax(logits, 1) == y, "float64"))
    f = gc.compile([x, y], [loss, accuracy, gc.cast(gc.argmax(logits, 1), "int32")])
    want = gc.compile([x, y], [loss, accuracy, gc.cast(gc.argmax(logits, 1), "int32")], backend="numpy")
    feeds = (rng.standard_normal((8, 6)), rng.integers(0, 3, 8))
    for a, b in zip(f(*feeds), want(*feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_edge_values_of_pow_and_sign_agree_natively() -> None:
    a = gc.placeholder((7,), "float64", name="a")
    b = gc.placeholder((7,), "float64", name="b")
    i = gc.placeholder((6,), "int64", name="i")
    j = gc.placeholder((6,), "int64", name="j")
    u = gc.placeholder((3,), "uint8", name="u")
    outs = [a**b, i**j, gc.sign(u), gc.sign(i), gc.sign(a)]
    feeds = [np.array([-np.inf, -np.inf, -np.inf, 0.0, 2.0, -8.0, np.nan]), np.array([0.5, -0.5, 3.0, -1, 0.5, 1 / 3, 1]),
             np.array([0, 1, -1, 2, -2, 3]), np.array([-1, -2, -3, -1, 2, 3]), np.array([0, 1, 200], np.uint8)]
    want, got = _reference_and_native([a, b, i, j, u], outs, feeds)
    for x, y in zip(got(*feeds), want(*feeds)):
        np.testing.assert_array_equal(x, y)
    w = want(*feeds)
    assert np.isnan(w[0][0]) and np.isnan(w[0][1]) and w[0][2] == -np.inf  # (-inf) ** +-0.5: sqrt's NaN, as PyTorch
    assert w[1].tolist() == [0, 1, -1, 0, 4, 27]  # integer x ** -n: the integer part of 1 / x**n
    assert w[2].tolist() == [0, 1, 1]


def test_second_derivatives_through_masked_pow_branches_are_finite() -> None:
    x = gc.placeholder((), "float64", name="x")
    y = gc.placeholder((), "float64", name="y")
    d2x = gc.grad(gc.grad(x**0.0, x), x)  # d2/dx2 x**0 at 0: 0 (was NaN)
    d2y = gc.grad(gc.grad(gc.constant(0.0, "float64") ** y, y), y)  # d2/dy2 0**y for y > 0: 0
    d1x = gc.grad(x**1.0, x)
    f = gc.compile([x, y], [d2x, d2y, d1x])
    assert [float(v) for v in f(np.float64(0.0), np.float64(2.0))] == [0.0, 0.0, 1.0]
    r = gc.compile([x, y], [d2x, d2y, d1x], backend="numpy", optimize=False)
    assert [float(v) for v in r(np.float64(0.0), np.float64(2.0))] == [0.0, 0.0, 1.0]


def test_generated_locals_never_shadow_module_names() -> None:
    import ast
    import re

    x = gc.placeholder((3, 4), "float64", name="x")
    outs = [gc.cast(gc.argmax(gc.tanh(x * k), 1), dt) for k in range(1, 12) for dt in ("int8", "int16", "int32", "uint8")]
    outs += [gc.sum(gc.cast(x > k, "int64")) for k in range(10)]
    f = gc.compile([x], outs, backend="python")
    stored: set[str] = set()
    for text in f._native.texts:  # type: ignore[union-attr]
        module = ast.parse(text)
        globals_ = {t.id for node in module.body if isinstance(node, ast.Assign) for t in ast.walk(node) if isinstance(t, ast.Name)}
        globals_ |= {a.asname or a.name for node in module.body if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names}
        assert {"i8", "i16", "i32", "i64", "u8", "f64"} <= globals_
        kernel = next(node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == "kernel")
        names = {n.id for n in ast.walk(kernel) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assert not names & globals_, f"locals shadow module names: {sorted(names & globals_)}"
        stored |= names
    assert len(f._native.texts) > 40 and any(re.fullmatch(r"i_[0-9]+", n) for n in stored)  # type: ignore[union-attr]
    # The rule that makes collisions impossible: every lowercase local is <prefix>_<number>
    # (or a kernel parameter, arg<n>), a form no module-level name has.
    assert all(re.fullmatch(r"[a-z]+_[0-9]+|arg[0-9]+|step|status", n) for n in stored if n.islower()), sorted(stored)[:10]
    feed = np.linspace(-1, 1, 12).reshape(3, 4)
    for a, b in zip(f(feed), gc.compile([x], outs, backend="numpy")(feed)):
        np.testing.assert_array_equal(a, b)


def test_updates_of_every_form_agree_with_the_reference() -> None:
    # Forms that are one BLAS gemm into the variable, and forms that are not (a scale fed at run
    # time, reversed operands, a product reading the variable itself, batched matmuls, an update
    # reading a variable another update writes): each computed in place or copied, never wrong.
    rng = np.random.default_rng(3)
    x = gc.placeholder((5, 4), "float64", name="x")
    lr = gc.placeholder((), "float64", name="lr")
    gs = [gc.placeholder((5, 3), "float64", name=f"g{k}") for k in range(5)]  # a product per update
    ws = {k: gc.variable(rng.standard_normal(shape), name=k)
          for k, shape in [("a", (4, 3)), ("b", (4, 3)), ("c", (4, 3)), ("d", (4, 3)), ("e", (3, 3)), ("f", (2, 3, 3)),
                           ("h", (4, 3)), ("k", (4, 3))]}
    xt = gc.transpose(x)
    a, b, c, d, e, f, h, k = ws.values()
    updates = {
        a: a - 0.1 * (xt @ gs[0]),        # one gemm, alpha -0.1
        b: b - lr * (xt @ gs[1]),         # a fed scale: not a gemm
        c: (xt @ gs[2]) * 0.5 + c,        # reversed operands, alpha 0.5
        d: (xt @ gs[3]) - d,              # not var - product: computed, then copied
        e: e - 0.1 * (e @ e),             # the product reads the variable
        f: f - 0.1 * (f @ f),             # batched
        h: h * 0.9 - (xt @ gs[4]),        # three members
        k: k + a * 0.5,                   # reads a variable another update writes
    }
    feeds = [rng.standard_normal((5, 4)), np.float64(0.25), *(rng.standard_normal((5, 3)) for _ in gs)]
    start = {v: v.value for v in ws.values()}
    want = {}
    gc.compile([x, lr, *gs], gc.sum(x), updates, backend="numpy")(*feeds)
    for v in ws.values():
        want[v] = v.value
        v.assign(start[v])
    for backend in ("python", "numba"):
        gc.compile([x, lr, *gs], gc.sum(x), updates, backend=backend)(*feeds)
        for name, v in zip(ws, ws.values()):
            np.testing.assert_allclose(v.value, want[v], rtol=1e-12, err_msg=f"{backend}: {name}")
            v.assign(start[v])


def test_leaky_relu_of_integers_is_computed_in_the_float_result_everywhere() -> None:
    # Found by a new user: the reference multiplied by int64(0.2) == 0.
    x = gc.placeholder((3,), "int64", name="x")
    y = gc.leaky_relu(x, 0.2)
    data = np.array([-4, 0, 5])
    for backend in ("numpy", "python", "numba"):
        np.testing.assert_allclose(gc.compile([x], y, backend=backend)(data), [-0.8, 0.0, 5.0], rtol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "python", "numba"])
def test_minimum_and_maximum_of_signed_zeros_return_the_first_as_pytorch(backend: str) -> None:
    """Of 0.0 and -0.0 (equal), PyTorch's minimum and maximum return the first; NumPy's return
    the second. Both back ends and eager mode now agree with PyTorch (1/result shows the sign)."""
    a = gc.placeholder((2,), "float64", name="a")
    b = gc.placeholder((2,), "float64", name="b")
    f = gc.compile([a, b], [gc.minimum(a, b), gc.maximum(a, b)], backend=backend)
    first, second = np.array([0.0, -0.0]), np.array([-0.0, 0.0])
    for got in f(first, second):
        assert np.signbit(got).tolist() == [False, True]
    eager_min = gc.minimum(gc.eager.tensor(first), gc.eager.tensor(second)).data
    assert np.signbit(eager_min).tolist() == [False, True]


@pytest.mark.parametrize("backend", ["numpy", "python", "numba"])
def test_relu_clip_and_sign_of_signed_zeros_agree_everywhere_as_pytorch(backend: str) -> None:
    """Found by a new user: relu(-0.0) and clip(-0.0, 0, 1) were -0.0 natively and +0.0 in the
    reference, sign(-0.0) -0.0 natively. As PyTorch: relu and clamp keep -0.0, sign gives +0.0."""
    x = gc.placeholder((4,), "float32", name="x")
    f = gc.compile([x], [gc.relu(x), gc.clip(x, 0.0, 1.0), gc.sign(x)], backend=backend)
    data = np.array([-0.0, 0.0, np.nan, -2.0], np.float32)
    relu, clip, sign = f(data)
    assert np.signbit(relu[:2]).tolist() == [True, False] and np.signbit(clip[:2]).tolist() == [True, False]
    assert np.signbit(sign[:2]).tolist() == [False, False] and np.isnan(sign[2]) and sign[3] == -1
    eager = gc.eager.tensor(data)
    assert np.signbit(gc.relu(eager).data[:2]).tolist() == [True, False]
    assert np.signbit(gc.sign(eager).data[:2]).tolist() == [False, False]


@pytest.mark.parametrize("scale", [float("inf"), float("nan"), 1e39])
def test_an_update_scaled_by_a_non_finite_number_is_no_gemm(scale: float) -> None:
    """Found by a break-it review: `W - c * (a @ b)` wrote c into the generated gemm call as
    `inf`, an undefined name, and the compile failed. A non-finite c (1e39 is inf in float32)
    takes the elementwise path, which also gives inf * 0 its NaN."""
    x, g = gc.placeholder((4, 3), name="x"), gc.placeholder((4, 2), name="g")
    w = gc.variable(np.ones((3, 2), np.float32), name="W")
    data = np.diag(np.array([1.0, 2.0, 0.0], np.float32))[[0, 1, 2, 0]]  # W's last row meets 0
    gc.compile([x, g], gc.sum(w), updates={w: w - scale * (gc.transpose(x) @ g)})(data, np.ones((4, 2), np.float32))
    with np.errstate(all="ignore"):
        want = np.ones((3, 2), np.float32) - np.float32(scale) * (data.T @ np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(w.value, want)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_0d_transpose_keeps_its_shape_in_every_back_end_unoptimized(backend: str) -> None:
    """Found by a port of autograd's suite: the NumPy reference of transpose made a 0-d result
    1-d (np.ascontiguousarray does), so the unoptimized reference refused its own shape rule."""
    x = gc.placeholder((), "float64")
    y = gc.transpose(x) ** 2.0
    value, slope = gc.compile([x], [y, gc.grad(y, x)], backend=backend, optimize=False)(np.array(3.0))
    assert value.shape == () and (float(value), float(slope)) == (9.0, 6.0)


@pytest.mark.parametrize("options", [{}, {"optimize": False}, {"backend": "numpy"}])
def test_floats_become_integers_as_numpy_converts_them_fed_or_constant(options: dict) -> None:  # type: ignore[type-arg]
    """Found by a break-it review: LLVM's conversion of an out-of-range float is poison, and a
    constant one folded to 0 (-1.0 as uint8 gave 0, not 255; NaN as int32 0, not INT32_MIN).
    Every way a program runs now converts as NumPy does one value (C on x86-64)."""
    edges = np.array([np.nan, np.inf, -np.inf, -1.0, -0.5, 0.7, 255.9, 300.0, -128.9, 70000.0, 3e9, -3e9,
                      2147483648.0, -2147483649.0, 9.3e18, 1e19, -1e19])
    targets = ["int8", "int16", "int32", "int64", "uint8"]
    for dtype in ("float64", "float32"):
        with np.errstate(all="ignore"):
            values = np.tile(edges.astype(dtype), 3)  # long enough for vector loops
            want = [np.array([np.array([v]).astype(t)[0] for v in values]) for t in targets]
        x = gc.placeholder(values.shape, dtype)
        fed = [gc.cast(x, t) for t in targets]
        # each value a scalar constant, which the kernels hold as a literal (`where` keeps the
        # simplifier from folding the cast first)
        constants = [gc.stack([gc.cast(gc.where(True, gc.constant(v, dtype), x[0]), t) for v in values[:len(edges)]])
                     for t in targets]
        outs = gc.compile([x], fed + constants, **options)(values)
        for t, got, constant, expected in zip(targets, outs[:5], outs[5:], want):
            np.testing.assert_array_equal(got, expected, err_msg=f"{dtype} -> {t}, fed")
            np.testing.assert_array_equal(constant, expected[:len(edges)], err_msg=f"{dtype} -> {t}, constant")


def test_one_new_value_given_to_two_variables_updates_both() -> None:
    """Found by a break-it review (and by the fuzzer once it drew such steps: 14 programs in
    300): an SGD step that also keeps a copy of the new weights. One variable's update was
    written early, from the value's buffer, and that value counted as done for the other too,
    which then never changed."""
    rng = np.random.default_rng(0)
    w0, data = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    x = gc.placeholder((5, 3), "float32", name="x")
    w = gc.variable(w0, name="w")
    kept = gc.variable(np.zeros_like(w0), name="kept")
    loss = gc.mean((x @ w) ** 2)
    new = gc.optim.sgd(loss, [w], 0.1)[w]
    f = gc.compile([x], [loss, w], updates={w: new, kept: new})
    f(data)
    want = w0 - np.float32(0.1) * (2 * data.T @ (data @ w0) / 10)
    np.testing.assert_allclose(w.value, want, rtol=1e-6)
    np.testing.assert_array_equal(kept.value, w.value)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_step_computing_only_gradients_checks_its_labels(backend: str) -> None:
    """Found by a break-it review: cross-entropy checks its labels, but a training step whose
    loss is not an output ran only the gradient, whose one-hot rows gave a bad label zeros: the
    step trained silently on wrong targets. The rows now check as the loss does."""
    x, y = gc.placeholder((3, 3), "float32", name="x"), gc.placeholder((3,), "int64", name="y")
    w = gc.variable(np.eye(3, dtype=np.float32), name="w")
    loss = gc.mean(gc.softmax_cross_entropy(x @ w, y))
    step = gc.compile([x, y], [], updates=gc.optim.sgd(loss, [w], 0.1), backend=backend)
    with pytest.raises(gc.FeedError, match="label 7 is out of range for 3 classes"):
        step(np.eye(3, dtype=np.float32), np.array([0, 7, 1]))
    np.testing.assert_array_equal(w.value, np.eye(3))  # nothing lost
    step(np.eye(3, dtype=np.float32), np.array([0, 2, 1]))
    assert not np.array_equal(w.value, np.eye(3))


def test_integer_corners_found_by_a_review_agree_with_numpy_in_every_mode() -> None:
    """From a break-it review of integer and dtype corners: the mean and variance of int64
    wrapped in an int64 sum (NumPy accumulates in float64); tied zeros of opposite signs gave
    max/min the first natively and NumPy's pick in the reference (now the first everywhere, as
    PyTorch's reductions along an axis); big-endian arrays were refused as variables and
    constants; pad's float value turned an int tensor float (NumPy casts the value)."""
    big = gc.placeholder((4,), "int64")
    zeros = gc.placeholder((3, 2), "float64")
    small = gc.placeholder((3,), "int8")
    outs = [gc.mean(big), gc.var(big), gc.max(zeros, axis=1), gc.min(zeros, axis=1), gc.min(zeros, axis=0),
            gc.pad(small, 1, constant_values=0.5), gc.constant(np.arange(3, dtype=">f8")) + 1.0]
    feeds = (np.full(4, 2**62), np.array([[0.0, -0.0], [-0.0, 0.0], [0.0, 0.0]]), np.arange(3, dtype=np.int8))
    results = [gc.compile([big, zeros, small], outs, **options)(*feeds)
               for options in ({}, {"optimize": False}, {"backend": "numpy"})]
    results.append([np.asarray(o) for o in [
        gc.mean(gc.eager.tensor(feeds[0])), gc.var(gc.eager.tensor(feeds[0])),
        gc.max(gc.eager.tensor(feeds[1]), axis=1), gc.min(gc.eager.tensor(feeds[1]), axis=1),
        gc.min(gc.eager.tensor(feeds[1]), axis=0), gc.pad(gc.eager.tensor(feeds[2]), 1, constant_values=0.5),
        gc.eager.tensor(np.arange(3, dtype=">f8")) + 1.0]])
    for mean, var, top, bottom, columns, padded, shifted in results:
        assert float(mean) == 2.0**62 and float(var) == 0.0
        assert np.signbit(top).tolist() == np.signbit(bottom).tolist() == [False, True, False]
        assert np.signbit(columns).tolist() == [False, True]
        assert padded.dtype == np.int8 and padded.tolist() == [0, 0, 1, 2, 0]
        assert shifted.tolist() == [1.0, 2.0, 3.0]
    assert gc.variable(np.arange(3, dtype=">i4")).dtype == np.int32


def test_pad_writes_the_value_numpy_pad_writes() -> None:
    """From a break-it review: -0.0 padded +0.0 (a `!= 0` shortcut), and -1.0 was refused for
    uint8, where NumPy's pad writes 255."""
    x, u = gc.placeholder((2,), "float64"), gc.placeholder((2,), "uint8")
    padded, wrapped = gc.compile([x, u], [gc.pad(x, 1, constant_values=-0.0), gc.pad(u, 1, constant_values=-1.0)])(
        np.ones(2), np.ones(2, np.uint8))
    assert np.signbit(padded).tolist() == [True, False, False, True]
    assert wrapped.tolist() == np.pad(np.ones(2, np.uint8), 1, constant_values=-1.0).tolist() == [255, 1, 1, 255]
