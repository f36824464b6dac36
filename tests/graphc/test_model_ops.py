"""The pieces of CNNs and transformers from the outside: convolutions and pooling against PyTorch
over a grid of geometries (ported from the configurations PyTorch's own conv tests sweep),
layer_norm and GELU against PyTorch, dropout's mask, embeddings' gradients, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager

# (x shape, w shape, stride, padding, dilation, groups)
CONV_GEOMETRIES = [
    ((2, 3, 8, 7), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 9, 9), (2, 2, 1, 1), 2, 0, 1, 1),
    ((2, 4, 7, 8), (6, 2, 3, 2), (2, 1), (1, 2), 1, 2),
    ((1, 4, 10, 9), (4, 1, 3, 3), 1, 2, (2, 3), 4),
    ((3, 1, 5, 5), (2, 1, 5, 5), 1, 0, 1, 1),
    ((1, 2, 6, 6), (3, 2, 2, 2), 3, 1, 2, 1),
    # The filter gradient sums over several images per gemm when the output is small: three
    # gemms of two padded images each, and one image per gemm (five images, 64 positions).
    ((6, 2, 10, 10), (4, 1, 3, 3), 1, 1, 1, 2),
    ((5, 2, 9, 9), (3, 2, 2, 2), 1, 0, 1, 1),
]


def _run(build, shapes, seed=0, dtype="float64", backend="numba"):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal(s).astype(dtype) for s in shapes]
    phs = [gc.placeholder(s, dtype) for s in shapes]
    out = build(*phs)
    weights = rng.standard_normal(out.shape).astype(dtype)
    grads = gc.grad(gc.sum(out * gc.constant(weights)), phs)
    return vals, weights, gc.compile(phs, [out, *grads], backend=backend)(*vals)


def _torch_result(torch, fn, vals, weights):  # type: ignore[no-untyped-def]
    ts = [torch.tensor(v, requires_grad=True) for v in vals]
    out = fn(*ts)
    (out * torch.tensor(weights)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=lambda g: "x".join(map(str, g[0])) + f"-g{g[5]}")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv2d_and_its_gradients_match_pytorch(geometry, dtype) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    xs, ws, stride, padding, dilation, groups = geometry
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    vals, weights, got = _run(lambda x, w: gc.conv2d(x, w, **kw), [xs, ws], dtype=dtype)
    want = _torch_result(torch, lambda x, w: torch.nn.functional.conv2d(x, w, **kw), vals, weights)
    tol = 1e-12 if dtype == "float64" else 2e-5
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), ((2, 3), (0, 1), (1, 2), 1, 2), (1, 1, 0, 2, 1), (3, 0, 1, (1, 2), 2),
    (1, 0, 1, 2, 1), ((1, 2), (1, 0), (2, 1), (3, 2), 1),  # output_padding at or above the stride
])
def test_conv_transpose2d_matches_pytorch(stride, padding, output_padding, dilation, groups) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    shapes = [(2, 4, 4, 3), (4, 3, 3, 2)]
    vals, weights, got = _run(lambda y, w: gc.conv_transpose2d(y, w, **kw), shapes)
    want = _torch_result(torch, lambda y, w: torch.nn.functional.conv_transpose2d(y, w, **kw), vals, weights)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 1), ((2, 3), (1, 2)), (3, 2)])
def test_pooling_matches_pytorch(kernel, stride) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for ours, theirs in ((gc.max_pool2d, F.max_pool2d), (gc.avg_pool2d, F.avg_pool2d)):
        vals, weights, got = _run(lambda x, ours=ours: ours(x, kernel, stride), [(2, 3, 7, 8)])
        want = _torch_result(torch, lambda x, theirs=theirs: theirs(x, kernel, stride), vals, weights)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_batch_of_no_images_has_zero_weight_gradients() -> None:
    x, w = gc.placeholder((0, 3, 10, 10), "float32"), gc.placeholder((4, 3, 3, 3), "float32")
    y = gc.conv2d(x, w)
    grads = gc.grad(gc.sum(y * y), [x, w])
    for backend in ("numpy", "numba"):
        out, gx, gw = gc.compile([x, w], [y, *grads], backend=backend)(np.zeros((0, 3, 10, 10), np.float32),
                                                                         np.ones((4, 3, 3, 3), np.float32))
        assert out.shape == (0, 4, 8, 8) and gx.shape == (0, 3, 10, 10)
        np.testing.assert_array_equal(gw, np.zeros((4, 3, 3, 3), np.float32))


def test_max_pool_gives_a_tied_window_gradient_to_its_first_maximum() -> None:
    x = gc.placeholder((1, 1, 2, 4), "float64")
    g = gc.grad(gc.sum(gc.max_pool2d(x, 2)), x)
    value = np.array([[[[1.0, 1.0, np.nan, 2.0], [1.0, 0.0, 3.0, 3.0]]]])
    for backend in ("numpy", "numba"):
        out, grad = gc.compile([x], [gc.max_pool2d(x, 2), g], backend=backend)(value)
        np.testing.assert_array_equal(out.ravel(), [1.0, np.nan])  # NaN is the maximum, as PyTorch
        np.testing.assert_array_equal(grad.ravel(), [1, 0, 1, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_with_several_nans_in_a_window_matches_pytorch(dtype) -> None:  # type: ignore[no-untyped-def]
    # PyTorch's rule: a NaN beats any number and any earlier NaN; among numbers the first maximum wins.
    torch = pytest.importorskip("torch")
    nan = np.nan
    value = np.array([[[[nan, 1.0, 2.0, nan, 5.0, 5.0],
                        [nan, 2.0, nan, 1.0, 4.0, 5.0],
                        [3.0, nan, -1.0, -1.0, nan, nan]]]], dtype)
    for kernel, stride in ((2, 1), ((3, 2), 2), ((1, 3), (1, 1))):
        t = torch.tensor(value, requires_grad=True)
        torch.nn.functional.max_pool2d(t, kernel, stride).sum().backward()
        x = gc.placeholder(value.shape, dtype)
        y = gc.max_pool2d(x, kernel, stride)
        for backend in ("numpy", "numba"):
            out, grad = gc.compile([x], [y, gc.grad(gc.sum(y), x)], backend=backend)(value)
            np.testing.assert_array_equal(grad, t.grad.numpy(), err_msg=f"{backend} {kernel} {stride}")
        ex = eager.tensor(value, requires_grad=True)
        gc.sum(gc.max_pool2d(ex, kernel, stride)).backward()
        np.testing.assert_array_equal(ex.grad.data, t.grad.numpy())


def test_layer_norm_and_gelu_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for approximate in ("tanh", "none"):
        def ours(x, g, b, approximate=approximate):  # type: ignore[no-untyped-def]
            return gc.gelu(gc.layer_norm(x, g, b), approximate)

        def theirs(x, g, b, approximate=approximate):  # type: ignore[no-untyped-def]
            return F.gelu(F.layer_norm(x, (6,), g, b, 1e-5), approximate=approximate)

        vals, weights, got = _run(ours, [(3, 4, 6), (6,), (6,)])
        want = _torch_result(torch, theirs, vals, weights)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_embedding_gradient_adds_up_repeated_tokens() -> None:
    table = gc.variable(np.arange(12.0).reshape(4, 3), name="E")
    tokens = gc.placeholder((2, 3), "int64")
    loss = gc.sum(table[tokens] * gc.constant(np.arange(18.0).reshape(2, 3, 3)))
    tok = np.array([[1, 1, 3], [0, 1, -1]])
    for backend in ("numpy", "numba"):
        (g,) = gc.compile([tokens], [gc.grad(loss, table)], backend=backend)(tok)
        want = np.zeros((4, 3))
        np.add.at(want, tok.ravel() % 4, np.arange(18.0).reshape(6, 3))
        np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_index_out_of_range_is_a_clear_error_and_loses_nothing(backend: str) -> None:
    table = gc.variable(np.ones((4, 2)), name="E")
    tokens = gc.placeholder((3,), "int64")
    loss = gc.sum(gc.take(table, tokens))
    f = gc.compile([tokens], [loss], updates={table: table - 0.1 * gc.grad(loss, table)}, backend=backend)
    with pytest.raises(gc.GraphcError, match="take: index 4 is out of range for axis 0 of size 4"):
        f(np.array([0, 4, 1]))
    with pytest.raises(gc.GraphcError, match="index -5 is out of range"):
        f(np.array([0, -5, 1]))
    np.testing.assert_array_equal(table.value, np.ones((4, 2)))
    (value,) = f(np.array([0, -1, 1]))
    assert value == 6.0
    with pytest.raises(gc.FeedError, match=r"index 7 is out of range .*\(step 2 of run_many\)"):
        f.run_many(np.array([[0, 1, 2], [3, 3, 3], [0, 7, 1]]))
    np.testing.assert_array_equal(table.value, [[0.9, 0.9], [0.9, 0.9], [1.0, 1.0], [0.9, 0.9]])  # as after the good call


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_single_index_out_of_range_is_the_same_clear_error(backend: str) -> None:
    # A 0-d index: the gradient (a scatter-add) gets a 0-d cotangent, whose shape the error
    # message must not read the axis size from (helper review: a bare IndexError, natively).
    table = gc.variable(np.array([0.5]), name="E")
    i = gc.placeholder((), "int64", name="i")
    loss = gc.sum(gc.take(table, i) * 0.7)
    f = gc.compile([i], [loss], updates={table: table - 0.5 * gc.grad(loss, table)}, backend=backend)
    with pytest.raises(gc.FeedError, match="take: index 3 is out of range for axis 0 of size 1"):
        f(np.array(3))
    np.testing.assert_array_equal(table.value, [0.5])


def test_dropout_drops_p_scales_the_rest_and_backpropagates_through_the_same_mask() -> None:
    x = gc.placeholder((200, 50), "float32")
    y = gc.dropout(x, 0.3, seed=7)
    g = gc.grad(gc.sum(y * y), x)
    f = gc.compile([x], [y, g])
    ones = np.ones((200, 50), np.float32)
    out1, g1 = f(ones)
    out2, _ = f(ones)
    kept = out1 != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(out1[kept], np.float32(1 / 0.7))
    np.testing.assert_allclose(g1, np.where(kept, 2 / 0.7**2, 0), rtol=1e-6)
    assert (out2 != out1).any()  # a new mask on every call
    again = gc.compile([x], [y], backend="numpy")
    np.testing.assert_array_equal(again(ones)[0], out1)  # (seed, call, node) decide it, whatever runs it
    assert gc.dropout(x, 0.0) is x
    np.testing.assert_array_equal(gc.compile([x], [gc.dropout(x, 1.0)])(ones)[0], 0)


def test_dropout_runs_eagerly() -> None:
    t = eager.tensor(np.ones((100, 100)), requires_grad=True)
    y = gc.dropout(t, 0.5)
    gc.sum(y).backward()
    np.testing.assert_array_equal(t.grad.data, y.data)  # gradient 2 where kept, 0 where dropped
    assert 0.4 < (y.data != 0).mean() < 0.6


@pytest.mark.parametrize("build,message", [
    (lambda x: gc.conv2d(x, np.ones((2, 3, 3, 3))), "need weights of shape"),
    (lambda x: gc.conv2d(x, np.ones((2, 4, 9, 3))), "does not fit"),
    (lambda x: gc.conv2d(x, np.ones((2, 4, 3, 3)), stride=0), "stride must be an int >= 1"),
    (lambda x: gc.conv2d(x, np.ones((2, 4, 0, 3))), "no empty axis"),
    (lambda x: gc.conv_transpose2d(x, np.ones((4, 2, 3, 0))), "no empty axis"),
    (lambda x: gc.max_pool2d(x, 9), "does not fit"),
    (lambda x: gc.layer_norm(x, np.ones(3)), "gain must have shape"),
    (lambda x: gc.squeeze(x, 1), "has size 4, not 1"),
    (lambda x: gc.einsum("ij,jk", x, x), "names 2 operands, got 2|names 4 axes|names 2 axes"),
    (lambda x: gc.einsum("iijk->ijk", x), "a diagonal needs equal sizes"),
    (lambda x: gc.take(x, np.array([0.5])), "must be integers"),
    (lambda x: gc.dropout(x, 1.5), "probability"),
    (lambda x: gc.triu(x[0, 0, 0]), "2 or more dimensions"),
    (lambda x: gc.var(x, ddof=-1), "ddof"),
])
def test_bad_input_names_what_was_expected(build, message) -> None:  # type: ignore[no-untyped-def]
    x = gc.placeholder((2, 4, 5, 6), "float32")
    with pytest.raises(gc.ShapeError, match=message):
        build(x)


def test_einsum_contracts_like_numpy_on_every_pair_pattern() -> None:
    rng = np.random.default_rng(1)
    specs = ["ab,bc->ac", "ab,cb->ac", "ba,bc->ca", "abc,acd->abd", "abc,c->ab", "a,a->", "ab,ab->", "abc,bd->acd",
             "ab,b->a", "abc,cba->", "ab,cd->abcd"]
    sizes = dict(zip("abcd", (2, 3, 4, 5)))
    for spec in specs:
        terms = spec.split("->")[0].split(",")
        vals = [rng.standard_normal(tuple(sizes[c] for c in t)) for t in terms]
        phs = [gc.placeholder(v.shape, "float64") for v in vals]
        (got,) = gc.compile(phs, [gc.einsum(spec, *phs)])(*vals)
        np.testing.assert_allclose(got, np.einsum(spec, *vals), rtol=1e-12, atol=1e-12, err_msg=spec)


def test_every_new_function_keeps_its_dtype_in_float32() -> None:
    x = gc.placeholder((1, 2, 6, 6), "float32")
    outs = [gc.conv2d(x, np.ones((2, 2, 3, 3), np.float32)), gc.max_pool2d(x, 2), gc.avg_pool2d(x, 2),
            gc.layer_norm(x), gc.var(x), gc.std(x, 1), gc.erf(x), gc.log1p(x * x), gc.take(x, [0], 1),
            gc.einsum("nchw->nc", x), gc.triu(x), gc.dropout(x, 0.1)]
    assert all(o.dtype == np.float32 for o in outs), [o.dtype for o in outs]


def test_mixed_dtype_convolutions_compute_in_the_common_dtype() -> None:
    # float32 images with float64 weights: both operands (and every gradient) in float64.
    x = gc.placeholder((2, 2, 6, 5), "float32")
    w = gc.placeholder((3, 2, 3, 2), "float64")
    y = gc.conv2d(x, w, stride=(1, 2), padding=1)
    outs = [y, *gc.grad(gc.sum(y * y), [w]), gc.conv_transpose2d(x, w[:2], stride=2)]
    rng = np.random.default_rng(0)
    feeds = rng.standard_normal((2, 2, 6, 5)).astype(np.float32), rng.standard_normal((3, 2, 3, 2))
    native, reference = gc.compile([x, w], outs)(*feeds), gc.compile([x, w], outs, backend="numpy")(*feeds)
    for a, b in zip(native, reference):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_training_step_records_its_loss_curve_for_the_report_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = gc.variable(np.array([3.0]))
    x = gc.placeholder((1,), "float64")
    loss = gc.sum((w - x) ** 2)
    f = gc.compile([x], [loss, w * 1.0], updates=gc.optim.sgd(loss, [w], 0.1))
    f(np.array([1.0]))
    f.run_many(np.ones((4, 1)))
    np.testing.assert_allclose(f.losses(), [4.0, 2.56, 1.6384, 1.048576, 0.67108864])
    f.save_html(tmp_path / "page.html")
    assert "Loss curve" in (tmp_path / "page.html").read_text()
    assert len(gc.compile([x], loss).losses()) == 0  # no updates: not a training step


def test_what_a_stranger_found_stays_fixed() -> None:
    # var/std past the count are inf (NumPy), std of equal values has gradient 0 (PyTorch).
    x = gc.placeholder((3,), "float64")
    np.testing.assert_array_equal(gc.compile([x], [gc.var(x, ddof=4), gc.std(x, ddof=4)])(np.array([1.0, 2, 4])),
                                  [np.inf, np.inf])
    np.testing.assert_array_equal(gc.compile([x], gc.grad(gc.std(x), x))(np.ones(3)), 0.0)
    # Indices known when the graph is built are checked there.
    with pytest.raises(gc.ShapeError, match="as long as its axis"):
        _ = x[[True]]
    with pytest.raises(gc.ShapeError, match="index 3 is out of range"):
        _ = x[[0, 3]]
    assert x[range(2)].shape == (2,)
    with pytest.raises(gc.ShapeError, match="repeated axis"):
        gc.squeeze(gc.reshape(x, (1, 3)), (0, 0))
    # Errors name the function the user called; einsum says what does not broadcast.
    with pytest.raises(gc.ShapeError, match="max_pool2d: a 3x3 window"):
        gc.max_pool2d(gc.placeholder((1, 1, 2, 2)), 3)
    with pytest.raises(gc.ShapeError, match="sizes 3 and 5 of the axes under '...' do not broadcast"):
        gc.einsum("...ij,...jk->...ik", gc.placeholder((2, 3, 3, 4)), gc.placeholder((5, 4, 2)))
    # Optimizer settings that would make NaN are refused, as torch.optim refuses them.
    w = gc.variable(np.ones(2))
    for call in (lambda: gc.optim.adam(gc.sum(w * w), [w], betas=(1.0, 0.999)),
                 lambda: gc.optim.sgd(gc.sum(w * w), [w], -0.1), lambda: gc.optim.adam(gc.sum(w * w), [w], eps=-1)):
        with pytest.raises(gc.GraphError):
            call()
    # The global norm of huge gradients does not overflow.
    g = gc.placeholder((2,), "float64")
    (clipped,), norm = gc.optim.clip_by_global_norm([g], 1.0)
    out = gc.compile([g], [clipped, norm])(np.array([1e200, 0.0]))
    np.testing.assert_allclose(out[0], [1.0, 0.0]) and np.testing.assert_allclose(out[1], 1e200)


def test_the_loss_curve_marks_steps_that_are_not_finite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w, x = gc.variable(np.zeros(3)), gc.placeholder((3,), "float64")
    loss = gc.sum((w - x) ** 2)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], 0.1))
    f.run_many(np.ones((10, 3)))
    f(np.full(3, np.nan))
    page = f.save_html(tmp_path / "page.html").read_text()
    assert "step 11" in page and "1 steps not finite" in page


def test_prod_and_its_gradient_at_zeros_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    value = np.array([[1.0, 2.0, 0.0, 3.0], [2.0, -1.0, 0.5, 4.0], [0.0, 0.0, 2.0, 1.0]])
    x = gc.placeholder((3, 4), "float64")
    for backend in ("numpy", "numba"):
        out, grad = gc.compile([x], [gc.prod(x, 1), gc.grad(gc.sum(gc.prod(x, 1) * np.array([1.0, 2.0, 3.0])), x)],
                               backend=backend)(value)
        t = torch.tensor(value, requires_grad=True)
        (torch.prod(t, 1) * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
        np.testing.assert_allclose(out, np.prod(value, 1))
        np.testing.assert_allclose(grad, t.grad.numpy())


@pytest.mark.parametrize(
    ("transposed", "x_shape", "w_shape", "geometry"),
    [
        # kernel columns that only ever tap the padding (the native code has no row for them)
        (True, (5, 6, 6, 1), (6, 2, 1, 2), dict(stride=(1, 3), padding=(0, 1), groups=3, dilation=(1, 3))),
        (False, (2, 2, 3, 1), (3, 2, 2, 3), dict(stride=1, padding=(1, 2), dilation=(1, 2))),
        # column padding: each kernel column's run of outputs known when generating
        (False, (2, 3, 5, 9), (4, 3, 3, 3), dict(stride=(2, 1), padding=1)),
        (True, (2, 4, 4, 7), (4, 2, 3, 3), dict(stride=1, padding=(0, 1))),
        (True, (1, 2, 3, 40), (2, 3, 2, 5), dict(stride=(2, 1), padding=(1, 2), output_padding=(1, 0))),
        # rows wider than one vector run (64): several runs a row
        (False, (1, 2, 3, 150), (2, 2, 3, 3), dict(padding=(1, 2))),
        (True, (1, 2, 2, 140), (2, 2, 2, 3), dict(padding=(0, 1))),
    ],
)
def test_padded_convolutions_natively_equal_the_reference(transposed: bool, x_shape: tuple[int, ...],
                                                           w_shape: tuple[int, ...], geometry: dict) -> None:
    rng = np.random.default_rng(3)
    xv, wv = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    x, w = gc.placeholder(x_shape, "float64"), gc.placeholder(w_shape, "float64")
    y = (gc.conv_transpose2d if transposed else gc.conv2d)(x, w, **geometry)
    loss = gc.sum(y * np.cos(np.arange(y.size)).reshape(y.shape))
    outs = [y, *gc.grad(loss, [x, w])]
    native, reference = (gc.compile([x, w], outs, backend=b)(xv, wv) for b in ("numba", "numpy"))
    for got, want in zip(native, reference):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size, kernel", [(4, 2), (6, 3), (8, 2)])  # rows of 2, 2 and 4 windows
def test_pooling_compiles_without_llvm_warnings(size: int, kernel: int, capfd: pytest.CaptureFixture[str]) -> None:
    # A row of windows runs in vector lanes when it holds more than two; asked for two, LLVM
    # printed "loop not vectorized" warnings on stderr.
    x = gc.placeholder((2, 3, size, size), "float32")
    data = np.arange(2 * 3 * size * size, dtype=np.float32).reshape(2, 3, size, size)
    got = gc.compile([x], gc.max_pool2d(x, kernel), cache=False)(data)
    k = size // kernel
    np.testing.assert_array_equal(got, data.reshape(2, 3, k, kernel, k, kernel).max(axis=(3, 5)))
    assert "warning" not in capfd.readouterr().err
