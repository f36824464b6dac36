"""Cases ported from the ONNX backend node tests (onnx/onnx, onnx/backend/test/case/node/*.py).

Each ONNX node case that maps onto a documented graphc operation is re-expressed here: the same
inputs (random inputs drawn from a seeded generator), the expected output computed with our own
NumPy expression, the graph compiled with the native back end and with backend="numpy".
Differentiable float cases also check gc.grad (float64) against PyTorch autograd where PyTorch
is installed (`_Absent` stands in for it elsewhere).
ONNX-only attributes without a documented graphc equivalent (auto_pad, ceil_mode, pooling pads,
count_include_pad, CumSum exclusive/reverse, Mod fmod=1, Pad reflect/edge/wrap, Einsum diagonals,
class weights / ignore_index) are left out.
Source files: conv, convtranspose, maxpool, averagepool, globalaveragepool, globalmaxpool, einsum,
matmul, gemm, pad, tile, expand, reshape, flatten, transpose, concat, split, squeeze, unsqueeze,
gather, trilu, where, cumsum, mod, pow, round, floor, ceil, clip, add, sub, mul, div, equal, less,
greater, less_equal, greater_equal, and, or, not, max, min, argmax, abs, neg, exp, log, sqrt,
sigmoid, tanh, relu, leakyrelu, softplus, sign, sin, cos, tan, atan, sinh, cosh, erf, gelu,
reciprocal, softmax, logsoftmax, softmaxcrossentropy, layernormalization, reducesum, reducemean,
reducemax, reducemin, reduceprod, reducelogsumexp, reducesumsquare, reducel1, reducel2, reducelogsum.
"""

import math
from typing import Any

import numpy as np
import pytest

import graphc as gc


class _Absent:
    """PyTorch's stand-in where it is not installed: the cases name its functions as gradient
    oracles; without it only the gradient checks are left out, never the forward ones."""

    def __getattr__(self, name: str) -> Any:
        return None


try:
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's own idiom
except ImportError:
    torch = F = _Absent()  # type: ignore[assignment]
HAVE_TORCH = not isinstance(torch, _Absent)

rng = np.random.default_rng(20240607)


def rnd(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- helpers


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _tol(dtype):
    if dtype == np.float64:
        return dict(rtol=1e-12, atol=1e-12)
    return dict(rtol=1e-6, atol=1e-6)


def _assert_close(got, want):
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, **_tol(want.dtype))
    else:
        np.testing.assert_array_equal(got, want)


def check_forward(build, inputs, expected):
    """Compile build(*placeholders) with both back ends and compare with `expected`."""
    phs = [gc.placeholder(a.shape, str(a.dtype)) for a in inputs]
    outs = _as_list(build(*phs))
    want = _as_list(expected)
    for backend in ("default", "numpy"):
        kw = {} if backend == "default" else {"backend": "numpy"}
        f = gc.compile(phs, outs, **kw)
        got = f(*inputs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_close(np.asarray(g), w)


def check_grad(build, inputs, torch_fn):
    """gc.grad of sum(out * R) in float64 against PyTorch autograd of the same loss."""
    x64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs]
    diff = [i for i, a in enumerate(x64) if a.dtype == np.float64]
    phs = [gc.placeholder(a.shape, str(a.dtype)) for a in x64]
    outs = _as_list(build(*phs))
    cots = [rng.standard_normal(o.shape) for o in outs]
    loss = sum(gc.sum(o * gc.constant(c)) for o, c in zip(outs, cots))
    grads = gc.grad(loss, [phs[i] for i in diff])

    ts = [torch.tensor(a, requires_grad=(i in diff)) for i, a in enumerate(x64)]
    touts = _as_list(torch_fn(*ts))
    tloss = sum((o * torch.tensor(c)).sum() for o, c in zip(touts, cots))
    tgrads = torch.autograd.grad(tloss, [ts[i] for i in diff])

    for backend in ("default", "numpy"):
        kw = {} if backend == "default" else {"backend": "numpy"}
        f = gc.compile(phs, list(grads), **kw)
        got = f(*x64)
        for g, t in zip(got, tgrads):
            np.testing.assert_allclose(np.asarray(g), t.numpy(), rtol=1e-10, atol=1e-10)


def run_case(build, inputs, expected, torch_fn=None):
    check_forward(build, inputs, expected)
    if torch_fn is not None and HAVE_TORCH:
        check_grad(build, inputs, torch_fn)


def ids(cases):
    return [c[0] for c in cases]


# ----------------------------------------------------------------------------- NumPy references


def np_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation, NCHW / OIHW, zero padding, computed in float64."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (wd - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return y


def np_conv_transpose2d(x, w, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Scatter each input pixel times the kernel into the output, then crop the padding."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    oph, opw = (output_padding, output_padding) if np.isscalar(output_padding) else output_padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // groups
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    y = np.zeros((n, og * groups, full_h, full_w))
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg].astype(np.float64)
        ws = w[g * cg:(g + 1) * cg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", xs, ws[:, :, i, j])
                y[:, g * og:(g + 1) * og, i * dh:i * dh + sh * (h - 1) + 1:sh,
                  j * dw:j * dw + sw * (wd - 1) + 1:sw] += contrib
    return y[:, :, ph:full_h - ph, pw:full_w - pw]


def np_pool(x, k, s, reduce):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return reduce(win, axis=(-2, -1)).astype(x.dtype)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_layer_norm(x, w, b, axis, eps):
    """Normalise over axes [axis:]; returns (y, mean, inverse standard deviation)."""
    red = tuple(range(axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=red, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=red, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    y = (x64 - mean) * inv * w + b
    return [a.astype(x.dtype) for a in (y, mean, inv)]


# ----------------------------------------------------------------------------- Conv (conv.py)

X5 = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
X75 = np.arange(35, dtype=np.float32).reshape(1, 1, 7, 5)
W33 = np.ones((1, 1, 3, 3), np.float32)

CONV_CASES = [
    ("test_basic_conv_with_padding", X5, W33, dict(padding=1)),
    ("test_basic_conv_without_padding", X5, W33, dict(padding=0)),
    ("test_conv_with_strides_padding", X75, W33, dict(stride=2, padding=1)),
    ("test_conv_with_strides_no_padding", X75, W33, dict(stride=2, padding=0)),
    ("test_conv_with_strides_and_asymmetric_padding", X75, W33, dict(stride=2, padding=(1, 0))),
]


@pytest.mark.parametrize("name,x,w,kw", CONV_CASES, ids=ids(CONV_CASES))
def test_conv(name, x, w, kw):
    expected = np_conv2d(x, w, **kw).astype(np.float32)
    run_case(lambda a, b: gc.conv2d(a, b, **kw), [x, w], expected,
             lambda a, b: F.conv2d(a, b, **kw))


# ----------------------------------------------------------------------------- ConvTranspose

XT = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
WT = np.ones((1, 2, 3, 3), np.float32)
XD = np.array([[3, 8, 1], [9, 5, 7], [3, 2, 6]], np.float32).reshape(1, 1, 3, 3)
WD = np.array([[7, 2], [1, 9]], np.float32).reshape(1, 1, 2, 2)

CONVT_CASES = [
    ("test_convtranspose", XT, WT, dict()),
    ("test_convtranspose_pad", XT, WT, dict(stride=(3, 2), output_padding=(1, 1))),
    ("test_convtranspose_pads", XT, WT, dict(stride=(3, 2), padding=(1, 2))),
    ("test_convtranspose_dilations", XD, WD, dict(dilation=2)),
    ("test_convtranspose_group_2", np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3),
     np.ones((2, 1, 3, 3), np.float32), dict(groups=2)),
    ("test_convtranspose_group_2_image_3", np.arange(54, dtype=np.float32).reshape(3, 2, 3, 3),
     np.ones((2, 1, 3, 3), np.float32), dict(groups=2)),
]


@pytest.mark.parametrize("name,x,w,kw", CONVT_CASES, ids=ids(CONVT_CASES))
def test_conv_transpose(name, x, w, kw):
    expected = np_conv_transpose2d(x, w, **kw).astype(np.float32)
    run_case(lambda a, b: gc.conv_transpose2d(a, b, **kw), [x, w], expected,
             lambda a, b: F.conv_transpose2d(a, b, **kw))


# ----------------------------------------------------------------------------- MaxPool / AveragePool

P5 = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
P32 = rnd(1, 3, 32, 32)

POOL_CASES = [
    ("test_maxpool_2d_precomputed_strides", "max", P5, 2, 2),
    ("test_maxpool_2d_default", "max", P32, 2, 1),
    ("test_maxpool_2d_strides", "max", P32, 5, 3),
    ("test_averagepool_2d_precomputed_strides", "avg", P5, 2, 2),
    ("test_averagepool_2d_default", "avg", P32, 2, 1),
    ("test_averagepool_2d_strides", "avg", P32, 5, 3),
]


@pytest.mark.parametrize("name,kind,x,k,s", POOL_CASES, ids=ids(POOL_CASES))
def test_pool(name, kind, x, k, s):
    if kind == "max":
        expected = np_pool(x, k, s, np.max)
        run_case(lambda a: gc.max_pool2d(a, k, s), [x], expected, lambda a: F.max_pool2d(a, k, s))
    else:
        expected = np_pool(x.astype(np.float64), k, s, np.mean).astype(np.float32)
        run_case(lambda a: gc.avg_pool2d(a, k, s), [x], expected, lambda a: F.avg_pool2d(a, k, s))


# ----------------------------------------------------------------------------- Einsum / MatMul

EINSUM_CASES = [
    ("test_einsum_transpose", "ij->ji", [rnd(3, 4, dtype=np.float64)]),
    ("test_einsum_sum", "ij->i", [rnd(3, 4, dtype=np.float64)]),
    ("test_einsum_inner_prod", "i,i", [rnd(5, dtype=np.float64), rnd(5, dtype=np.float64)]),
    ("test_einsum_batch_matmul", "bij, bjk -> bik",
     [rnd(5, 2, 3, dtype=np.float64), rnd(5, 3, 4, dtype=np.float64)]),
    ("test_einsum_scalar", "->", [np.array(5.0)]),
]


@pytest.mark.parametrize("name,spec,xs", EINSUM_CASES, ids=ids(EINSUM_CASES))
def test_einsum(name, spec, xs):
    run_case(lambda *a: gc.einsum(spec, *a), xs, np.einsum(spec, *xs),
             lambda *a: torch.einsum(spec.replace(" ", ""), *a))


MATMUL_CASES = [
    ("test_matmul_2d", rnd(3, 4), rnd(4, 3)),
    ("test_matmul_3d", rnd(2, 3, 4), rnd(2, 4, 3)),
    ("test_matmul_4d", rnd(1, 2, 3, 4), rnd(1, 2, 4, 3)),
]


@pytest.mark.parametrize("name,a,b", MATMUL_CASES, ids=ids(MATMUL_CASES))
def test_matmul(name, a, b):
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    run_case(gc.matmul, [a, b], expected, torch.matmul)


# ----------------------------------------------------------------------------- Pad / Tile

XP = rnd(1, 3, 4, 5)
PAD_CASES = [
    ("test_constant_pad", ((0, 0), (0, 0), (1, 2), (3, 4))),
    ("test_constant_pad_axes", ((0, 0), (0, 0), (0, 0), (3, 4))),
    ("test_constant_pad_negative_axes", ((0, 0), (0, 0), (0, 0), (3, 4))),
]


@pytest.mark.parametrize("name,width", PAD_CASES, ids=ids(PAD_CASES))
def test_pad(name, width):
    expected = np.pad(XP, width, mode="constant", constant_values=np.float32(1.2))
    torch_width = [p for pair in reversed(width) for p in pair]
    run_case(lambda a: gc.pad(a, width, constant_values=1.2), [XP], expected,
             lambda a: F.pad(a, torch_width, value=1.2))


TILE_CASES = [
    ("test_tile", rng.random((2, 3, 4, 5)).astype(np.float32), tuple(int(r) for r in rng.integers(1, 10, 4))),
    ("test_tile_precomputed", np.array([[0, 1], [2, 3]], np.float32), (2, 2)),
]


@pytest.mark.parametrize("name,x,reps", TILE_CASES, ids=ids(TILE_CASES))
def test_tile(name, x, reps):
    run_case(lambda a: gc.tile(a, reps), [x], np.tile(x, reps), lambda a: a.repeat(*reps))


# ----------------------------------------------------------------------------- CumSum (no exclusive / reverse)

X6 = np.arange(1.0, 7.0).reshape(2, 3)
CUMSUM_CASES = [
    ("test_cumsum_1d", np.arange(1.0, 6.0), 0),
    ("test_cumsum_2d_axis_0", X6, 0),
    ("test_cumsum_2d_axis_1", X6, 1),
    ("test_cumsum_2d_negative_axis", X6, -1),
]


@pytest.mark.parametrize("name,x,axis", CUMSUM_CASES, ids=ids(CUMSUM_CASES))
def test_cumsum(name, x, axis):
    run_case(lambda a: gc.cumsum(a, axis=axis), [x], np.cumsum(x, axis=axis),
             lambda a: torch.cumsum(a, dim=axis))


# ----------------------------------------------------------------------------- Mod (fmod=0 only)

MS_X = [-4, 7, 5, 4, -7, 8]
MS_Y = [2, -3, 8, -2, 3, 5]
MOD_CASES = [
    ("test_mod_float_mixed_sign_example", np.array([-4.3, 7.2, 5.0, 4.3, -7.2, 8.0]),
     np.array([2.1, -3.4, 8.0, -2.1, 3.4, 5.0])),
    ("test_mod_example_float32", np.array([4, 7, 5], np.float32), np.array([2, 3, 8], np.float32)),
    ("test_mod_int64_mixed_sign_example", np.array(MS_X, np.int64), np.array(MS_Y, np.int64)),
    ("test_mod_mixed_sign_int32", np.array(MS_X, np.int32), np.array(MS_Y, np.int32)),
    ("test_mod_mixed_sign_int16", np.array(MS_X, np.int16), np.array(MS_Y, np.int16)),
    ("test_mod_mixed_sign_int8", np.array(MS_X, np.int8), np.array(MS_Y, np.int8)),
    ("test_mod_uint8", np.array([4, 7, 5], np.uint8), np.array([2, 3, 8], np.uint8)),
    ("test_mod_broadcast", np.arange(30, dtype=np.int64).reshape(3, 2, 5), np.array([7], np.int64)),
    ("test_mod_bcast_float32", rnd(3, 4, 5), rnd(1)),  # the first Mod version's random case
]


@pytest.mark.parametrize("name,x,y", MOD_CASES, ids=ids(MOD_CASES))
def test_mod(name, x, y):
    run_case(gc.mod, [x, y], np.mod(x, y), torch.remainder if x.dtype.kind == "f" else None)


# ----------------------------------------------------------------------------- Round / Floor / Ceil

ROUND_CASES = [
    ("test_round", "round", np.array([0.1, 0.5, 0.9, 1.2, 1.5, 1.8, 2.3, 2.5, 2.7, -1.1, -1.5, -1.9,
                                       -2.2, -2.5, -2.8], np.float32)),
    ("test_floor_example", "floor", np.array([-1.5, 1.2, 2], np.float32)),
    ("test_floor", "floor", rnd(3, 4, 5)),
    ("test_ceil_example", "ceil", np.array([-1.5, 1.2], np.float32)),
    ("test_ceil", "ceil", rnd(3, 4, 5)),
]


@pytest.mark.parametrize("name,fn,x", ROUND_CASES, ids=ids(ROUND_CASES))
def test_rounding(name, fn, x):
    """The derivative is zero almost everywhere (as PyTorch's)."""
    run_case(getattr(gc, fn), [x], {"round": np.round, "floor": np.floor, "ceil": np.ceil}[fn](x),
             getattr(torch, fn))


# ----------------------------------------------------------------------------- Where

COND = np.array([[1, 0], [1, 1]], bool)
WHERE_CASES = [
    ("test_where_example", np.array([[1, 2], [3, 4]], np.float32), np.array([[9, 8], [7, 6]], np.float32)),
    ("test_where_long_example", np.array([[1, 2], [3, 4]], np.int64), np.array([[9, 8], [7, 6]], np.int64)),
]


@pytest.mark.parametrize("name,x,y", WHERE_CASES, ids=ids(WHERE_CASES))
def test_where(name, x, y):
    tfn = torch.where if x.dtype.kind == "f" else None
    run_case(gc.where, [COND, x, y], np.where(COND, x, y), tfn)


# ----------------------------------------------------------------------------- Trilu

T45 = rng.integers(0, 10, (4, 5)).astype(np.int64)
T233 = rng.integers(0, 10, (2, 3, 3)).astype(np.int64)
T315 = rng.integers(0, 10, (3, 1, 5)).astype(np.int64)
TRILU_CASES = [
    ("test_triu", "triu", T45, 0),
    ("test_triu_neg", "triu", T45, -1),
    ("test_triu_out_neg_out", "triu", T45, -7),
    ("test_triu_pos", "triu", T45, 2),
    ("test_triu_out_pos", "triu", T45, 6),
    ("test_triu_square", "triu", T233, 0),
    ("test_triu_square_neg", "triu", T233, -1),
    ("test_triu_one_row", "triu", T315, 1),
    ("test_triu_zero", "triu", np.zeros((0, 5), np.int64), 6),
    ("test_tril", "tril", T45, 0),
    ("test_tril_neg", "tril", T45, -1),
    ("test_tril_out_neg", "tril", T45, -7),
    ("test_tril_pos", "tril", T45, 2),
    ("test_tril_out_pos", "tril", T45, 6),
    ("test_tril_square", "tril", T233, 0),
    ("test_tril_square_neg", "tril", T233, -1),
    ("test_tril_one_row_neg", "tril", T315, 0),
    ("test_tril_zero", "tril", np.zeros((3, 0, 5), np.int64), 6),
    # the same masks on float data, for the gradient
    ("test_triu_pos_float", "triu", rnd(4, 5), 2),
    ("test_tril_square_neg_float", "tril", rnd(2, 3, 3), -1),
]


@pytest.mark.parametrize("name,fn,x,k", TRILU_CASES, ids=ids(TRILU_CASES))
def test_trilu(name, fn, x, k):
    tfn = (lambda a: getattr(torch, fn)(a, k)) if x.dtype.kind == "f" else None
    run_case(lambda a: getattr(gc, fn)(a, k), [x], getattr(np, fn)(x, k), tfn)


# ----------------------------------------------------------------------------- Gather (take / x[idx])

G4 = rnd(5, 4, 3, 2)
GATHER_CASES = [
    ("test_gather_0", G4, np.array([0, 1, 3], np.int64), 0),
    ("test_gather_1", G4, np.array([0, 1, 3], np.int64), 1),
    ("test_gather_2d_indices", rnd(3, 3), np.array([[0, 2]], np.int64), 1),
    ("test_gather_negative_indices", np.arange(10, dtype=np.float32), np.array([0, -9, -10], np.int64), 0),
]


def _torch_take(a, idx, axis):
    return a[(slice(None),) * axis + (idx,)]


@pytest.mark.parametrize("name,x,idx,axis", GATHER_CASES, ids=ids(GATHER_CASES))
def test_gather(name, x, idx, axis):
    expected = np.take(x, idx, axis=axis)
    run_case(lambda a, i: gc.take(a, i, axis=axis), [x, idx], expected,
             lambda a, i: _torch_take(a, i, axis))
    if axis == 0:  # the same gather written as integer-array indexing
        run_case(lambda a, i: a[i], [x, idx], expected, lambda a, i: a[i])


# ----------------------------------------------------------------------------- Split

S1 = np.arange(1.0, 7.0, dtype=np.float32)
S2 = np.arange(1.0, 13.0, dtype=np.float32).reshape(2, 6)
SPLIT_CASES = [
    ("test_split_equal_parts_1d", S1, 3, 0),
    ("test_split_variable_parts_1d", S1, [2], 0),
    ("test_split_equal_parts_2d", S2, 2, 1),
    ("test_split_variable_parts_2d", S2, [2], 1),
    ("test_split_equal_parts_default_axis", S1, 3, None),
    ("test_split_variable_parts_default_axis", S1, [2], None),
    ("test_split_1d_uneven_split", np.arange(1.0, 8.0, dtype=np.float32), [2, 4, 6], 0),
    ("test_split_2d_uneven_split", np.arange(1.0, 17.0, dtype=np.float32).reshape(2, 8), [3, 6], 1),
    ("test_split_zero_size_splits", np.zeros((0,), np.float32), [0, 0], 0),
]


def _torch_split(a, ind, axis):
    return torch.tensor_split(a, ind, dim=axis)


@pytest.mark.parametrize("name,x,ind,axis", SPLIT_CASES, ids=ids(SPLIT_CASES))
def test_split(name, x, ind, axis):
    kw = {} if axis is None else {"axis": axis}
    expected = np.split(x, ind, **kw)
    tfn = None if x.size == 0 else (lambda a: _torch_split(a, ind, axis or 0))
    run_case(lambda a: gc.split(a, ind, **kw), [x], expected, tfn)


# ----------------------------------------------------------------------------- Squeeze / Unsqueeze

U = rnd(3, 4, 5)
SQ = rnd(1, 3, 1, 5)
SQUEEZE_CASES = [
    ("test_squeeze", "squeeze", rnd(1, 3, 4, 5), 0),
    ("test_squeeze_negative_axes", "squeeze", SQ, -2),
    ("test_unsqueeze_axis_0", "expand_dims", U, 0),
    ("test_unsqueeze_axis_1", "expand_dims", U, 1),
    ("test_unsqueeze_axis_2", "expand_dims", U, 2),
    ("test_unsqueeze_two_axes", "expand_dims", U, (1, 4)),
    ("test_unsqueeze_three_axes", "expand_dims", U, (2, 4, 5)),
    ("test_unsqueeze_unsorted_axes", "expand_dims", U, (5, 4, 2)),
    ("test_unsqueeze_negative_axes", "expand_dims", SQ, -2),
]


@pytest.mark.parametrize("name,fn,x,axis", SQUEEZE_CASES, ids=ids(SQUEEZE_CASES))
def test_squeeze_unsqueeze(name, fn, x, axis):
    expected = getattr(np, fn)(x, axis)
    run_case(lambda a: getattr(gc, fn)(a, axis), [x], expected, lambda a: a.reshape(expected.shape))


# ----------------------------------------------------------------------------- Unary float math

_verf = np.vectorize(math.erf)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _gelu_exact(x):
    return 0.5 * x * (1 + _verf(x / np.sqrt(2)))


EX3 = np.array([-1, 0, 1], np.float32)
UNARY_CASES = [
    ("test_erf", gc.erf, _verf, torch.erf, rnd(1, 3, 32, 32)),
    ("test_sinh_example", gc.sinh, np.sinh, torch.sinh, EX3),
    ("test_sinh", gc.sinh, np.sinh, torch.sinh, rnd(3, 4, 5)),
    ("test_cosh_example", gc.cosh, np.cosh, torch.cosh, EX3),
    ("test_cosh", gc.cosh, np.cosh, torch.cosh, rnd(3, 4, 5)),
    ("test_tan_example", gc.tan, np.tan, torch.tan, EX3),
    ("test_tan", gc.tan, np.tan, torch.tan, rnd(3, 4, 5)),
    ("test_atan_example", gc.arctan, np.arctan, torch.atan, EX3),
    ("test_atan", gc.arctan, np.arctan, torch.atan, rnd(3, 4, 5)),
    ("test_reciprocal_example", gc.reciprocal, np.reciprocal, torch.reciprocal, np.array([-4, 2], np.float32)),
    ("test_reciprocal", gc.reciprocal, np.reciprocal, torch.reciprocal,
     (rng.random((3, 4, 5)) + 0.5).astype(np.float32)),
    ("test_gelu_tanh_1", lambda a: gc.gelu(a, approximate="tanh"), _gelu_tanh,
     lambda a: F.gelu(a, approximate="tanh"), EX3),
    ("test_gelu_tanh_2", lambda a: gc.gelu(a, approximate="tanh"), _gelu_tanh,
     lambda a: F.gelu(a, approximate="tanh"), rnd(3, 4, 5)),
    ("test_gelu_default_1", lambda a: gc.gelu(a, approximate="none"), _gelu_exact, F.gelu, EX3),
    ("test_gelu_default_2", lambda a: gc.gelu(a, approximate="none"), _gelu_exact, F.gelu, rnd(3, 4, 5)),
]


@pytest.mark.parametrize("name,fn,ref,tfn,x", UNARY_CASES, ids=ids(UNARY_CASES))
def test_unary(name, fn, ref, tfn, x):
    expected = ref(x.astype(np.float64)).astype(np.float32)
    run_case(fn, [x], expected, tfn)


# ----------------------------------------------------------------------------- LayerNormalization

LN_X4, LN_X2, LN_X3 = rnd(2, 3, 4, 5), rnd(3, 4), rnd(2, 3, 5)


def _ln_cases():
    out = [("test_layer_normalization_default_axis", LN_X4, -1, 1e-5)]
    for x, tag, eps in ((LN_X4, "4d", 1e-5), (LN_X2, "2d", 1e-5), (LN_X3, "3d", 1e-1)):
        suffix = "_epsilon" if eps != 1e-5 else ""
        for axis in range(x.ndim):
            out.append((f"test_layer_normalization_{tag}_axis{axis}{suffix}", x, axis, eps))
            out.append((f"test_layer_normalization_{tag}_axis_negative_{x.ndim - axis}{suffix}",
                        x, axis - x.ndim, eps))
    return out


LN_CASES = [c + (rnd(*c[1].shape[c[2] % c[1].ndim:]), rnd(*c[1].shape[c[2] % c[1].ndim:])) for c in _ln_cases()]


@pytest.mark.parametrize("name,x,axis,eps,w,b", LN_CASES, ids=ids(LN_CASES))
def test_layer_norm(name, x, axis, eps, w, b):
    """graphc normalises the last axis: axes [axis:] are flattened into one (a reshape)."""
    lead = x.shape[:axis % x.ndim]
    red_shape = lead + (1,) * (x.ndim - len(lead))

    def build(a, g, h):
        a2 = gc.reshape(a, lead + (-1,))
        y = gc.layer_norm(a2, gc.reshape(g, (-1,)), gc.reshape(h, (-1,)), eps=eps)
        mean = gc.mean(a2, axis=-1, keepdims=True)
        inv = gc.reciprocal(gc.sqrt(gc.var(a2, axis=-1, keepdims=True) + eps))
        return [gc.reshape(y, x.shape), gc.reshape(mean, red_shape), gc.reshape(inv, red_shape)]

    def tfn(a, g, h):
        dims = tuple(range(axis % x.ndim, x.ndim))
        mean = a.mean(dim=dims, keepdim=True)
        inv = 1 / torch.sqrt(a.var(dim=dims, unbiased=False, keepdim=True) + eps)
        return [F.layer_norm(a, g.shape, g, h, eps), mean, inv]

    run_case(build, [x, w, b], np_layer_norm(x, w, b, axis, eps), tfn)


# ----------------------------------------------------------------------------- ReduceProd

RP_EX = np.array([[[5, 1], [20, 2]], [[30, 1], [40, 2]], [[55, 1], [60, 2]]], np.float32)
RP_RAND = rng.uniform(-10, 10, (3, 2, 2)).astype(np.float32)
PROD_CASES = [
    ("test_reduce_prod_axis0_keepdims", np.arange(1, 13, dtype=np.float32).reshape(3, 2, 2), 0, True),
    ("test_reduce_prod_do_not_keepdims_example", RP_EX, 1, False),
    ("test_reduce_prod_do_not_keepdims_random", RP_RAND, 1, False),
    ("test_reduce_prod_keepdims_example", RP_EX, 1, True),
    ("test_reduce_prod_keepdims_random", RP_RAND, 1, True),
    ("test_reduce_prod_default_axes_keepdims_example", RP_EX, None, True),
    ("test_reduce_prod_default_axes_keepdims_random", RP_RAND, None, True),
    ("test_reduce_prod_negative_axes_keepdims_example", RP_EX, -2, True),
    ("test_reduce_prod_negative_axes_keepdims_random", RP_RAND, -2, True),
    ("test_reduce_prod_empty_set", np.zeros((2, 0, 4), np.float32), 1, True),
]


def _torch_prod(a, axis, keepdims):
    if axis is None:
        p = a.prod()
        return p.reshape((1,) * a.ndim) if keepdims else p
    return a.prod(dim=axis, keepdim=keepdims)


@pytest.mark.parametrize("name,x,axis,keepdims", PROD_CASES, ids=ids(PROD_CASES))
def test_reduce_prod(name, x, axis, keepdims):
    expected = np.prod(x.astype(np.float64), axis=axis, keepdims=keepdims).astype(np.float32)
    tfn = None if x.size == 0 else (lambda a: _torch_prod(a, axis, keepdims))
    run_case(lambda a: gc.prod(a, axis=axis, keepdims=keepdims), [x], expected, tfn)


# ----------------------------------------------------------------------------- Softmax / LogSoftmax

SM_X = np.abs(rnd(3, 4, 5))
SM_LARGE = np.array([[0, 1, 2, 3], [10000, 10001, 10002, 10003]], np.float32)
SOFTMAX_CASES = []
for _op in ("softmax", "logsoftmax"):
    SOFTMAX_CASES += [
        (f"test_{_op}_example", _op, np.array([[-1, 0, 1]], np.float32), -1),
        (f"test_{_op}_large_number", _op, SM_LARGE, -1),
        (f"test_{_op}_axis_0", _op, SM_X, 0),
        (f"test_{_op}_axis_1", _op, SM_X, 1),
        (f"test_{_op}_axis_2", _op, SM_X, 2),
        (f"test_{_op}_default_axis", _op, SM_X, -1),
        (f"test_{_op}_negative_axis", _op, SM_X, -1),
    ]


@pytest.mark.parametrize("name,op,x,axis", SOFTMAX_CASES, ids=ids(SOFTMAX_CASES))
def test_softmax(name, op, x, axis):
    x64 = x.astype(np.float64)
    if op == "softmax":
        expected = np_softmax(x64, axis)
        fn, tfn = gc.softmax, torch.softmax
    else:
        expected = x64 - x64.max(axis=axis, keepdims=True)
        expected = expected - np.log(np.exp(expected).sum(axis=axis, keepdims=True))
        fn, tfn = gc.log_softmax, torch.log_softmax
    run_case(lambda a: fn(a, axis=axis), [x], expected.astype(np.float32), lambda a: tfn(a, axis))


# ----------------------------------------------------------------------------- Clip (constant bounds)

CLIP_CASES = [
    ("test_clip_example", np.array([-2, 0, 2], np.float32), -1, 1),
    ("test_clip", rnd(3, 4, 5), -1, 1),
    ("test_clip_inbounds", np.array([-1, 0, 1], np.float32), -5, 5),
    ("test_clip_outbounds", np.array([-6, 0, 6], np.float32), -5, 5),
    ("test_clip_splitbounds", np.array([-1, 0, 6], np.float32), -5, 5),
]
for _dt in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32, np.float64):
    _n = np.dtype(_dt).name
    CLIP_CASES += [
        (f"test_clip_default_min_{_n}", rnd(3, 4, 5, dtype=np.float64).astype(_dt), 0, None),
        (f"test_clip_default_max_{_n}", rnd(3, 4, 5, dtype=np.float64).astype(_dt), None, 0),
        (f"test_clip_default_inbounds_{_n}", np.array([-1, 0, 1]).astype(_dt), None, None),
    ]


@pytest.mark.parametrize("name,x,lo,hi", CLIP_CASES, ids=ids(CLIP_CASES))
def test_clip(name, x, lo, hi):
    expected = x
    if lo is not None:
        expected = np.maximum(expected, x.dtype.type(lo))
    if hi is not None:
        expected = np.minimum(expected, x.dtype.type(hi))
    tfn = None
    if x.dtype.kind == "f":  # without bounds, clip is the identity and so is its gradient
        tfn = (lambda a: a * 1.0) if lo is None and hi is None else (lambda a: torch.clamp(a, lo, hi))
    run_case(lambda a: gc.clip(a, lo, hi), [x], expected, tfn)


# ----------------------------------------------------------------------------- Pow

POW_CASES = [
    ("test_pow_example", np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32), True),
    ("test_pow", np.arange(60, dtype=np.float32).reshape(3, 4, 5), rnd(3, 4, 5), False),
    ("test_pow_bcast_scalar", np.array([1, 2, 3], np.float32), np.array(2, np.float32), True),
    ("test_pow_bcast_array", np.array([[1, 2, 3], [4, 5, 6]], np.float32), np.array([1, 2, 3], np.float32), True),
    ("test_pow_types_int64_int64", np.array([1, 2, 3], np.int64), np.array([4, 5, 6], np.int64), False),
    ("test_pow_types_int32_int32", np.array([1, 2, 3], np.int32), np.array([4, 5, 6], np.int32), False),
]


@pytest.mark.parametrize("name,x,y,grad", POW_CASES, ids=ids(POW_CASES))
def test_pow(name, x, y, grad):
    with np.errstate(divide="ignore"):
        expected = np.power(x.astype(np.float64), y.astype(np.float64)).astype(x.dtype)
    run_case(gc.pow, [x, y], expected, torch.pow if grad else None)



# ----------------------------------------------------------------------------- ReduceSum/Mean/Max/Min/LogSumExp

RED_EX = np.array([[[5, 1], [20, 2]], [[30, 1], [40, 2]], [[55, 1], [60, 2]]], np.float32)
RED_RAND = rng.uniform(-10, 10, (3, 2, 2)).astype(np.float32)
RED_PATTERNS = [("do_not_keepdims", 1, False), ("keepdims", 1, True),
                ("default_axes_keepdims", None, True), ("negative_axes_keepdims", -2, True)]
NP_RED = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
          "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))}
ONNX_RED = {"sum": "reduce_sum", "mean": "reduce_mean", "max": "reduce_max", "min": "reduce_min",
            "logsumexp": "reduce_log_sum_exp"}
REDUCE_CASES = []
for _op in NP_RED:
    _dt = np.float64 if _op == "logsumexp" else np.float32
    for _pat, _ax, _kd in RED_PATTERNS:
        for _tag, _x in (("example", RED_EX), ("random", RED_RAND)):
            REDUCE_CASES.append((f"test_{ONNX_RED[_op]}_{_pat}_{_tag}", _op, _x.astype(_dt), _ax, _kd))
REDUCE_CASES += [
    ("test_reduce_sum_empty_set", "sum", np.zeros((2, 0, 4), np.float32), 1, True),
    ("test_reduce_log_sum_exp_empty_set", "logsumexp", np.zeros((2, 0, 4), np.float64), 1, True),
]


def _torch_reduce(op, a, axis, keepdims):
    dims = tuple(range(a.ndim)) if axis is None else axis
    if op in ("max", "min"):
        return torch.amax(a, dims, keepdims) if op == "max" else torch.amin(a, dims, keepdims)
    return getattr(torch, op)(a, dims, keepdims)


@pytest.mark.parametrize("name,op,x,axis,keepdims", REDUCE_CASES, ids=ids(REDUCE_CASES))
def test_reduce(name, op, x, axis, keepdims):
    with np.errstate(divide="ignore"):
        expected = NP_RED[op](x.astype(np.float64), axis=axis, keepdims=keepdims).astype(x.dtype)
    tfn = None if x.size == 0 else (lambda a: _torch_reduce(op, a, axis, keepdims))
    run_case(lambda a: getattr(gc, op)(a, axis=axis, keepdims=keepdims), [x], expected, tfn)


# ----------------------------------------------------------------------------- Add / Sub / Mul / Div

U8 = [rng.integers(0, 24, (3, 4, 5)).astype(np.uint8) for _ in range(2)]
ARITH_CASES = [
    ("test_add", "add", rnd(3, 4, 5), rnd(3, 4, 5)),
    ("test_add_bcast", "add", rnd(3, 4, 5), rnd(5)),
    ("test_add_uint8", "add", U8[0], U8[1]),
    ("test_sub_example", "subtract", np.array([1, 2, 3], np.float32), np.array([3, 2, 1], np.float32)),
    ("test_sub", "subtract", rnd(3, 4, 5), rnd(3, 4, 5)),
    ("test_sub_bcast", "subtract", rnd(3, 4, 5), rnd(5)),
    ("test_sub_uint8", "subtract", U8[0], U8[1]),
    ("test_mul_example", "multiply", np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32)),
    ("test_mul", "multiply", rnd(3, 4, 5), rnd(3, 4, 5)),
    ("test_mul_bcast", "multiply", rnd(3, 4, 5), rnd(5)),
    ("test_mul_uint8", "multiply", U8[0], U8[1]),
    ("test_div_example", "divide", np.array([3, 4], np.float32), np.array([1, 2], np.float32)),
    ("test_div", "divide", rnd(3, 4, 5), (rng.random((3, 4, 5)) + 1.0).astype(np.float32)),
    ("test_div_bcast", "divide", rnd(3, 4, 5), (rng.random(5) + 1.0).astype(np.float32)),
]
NP_BIN = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide}
T_BIN = {"add": torch.add, "subtract": torch.sub, "multiply": torch.mul, "divide": torch.div}


@pytest.mark.parametrize("name,op,x,y", ARITH_CASES, ids=ids(ARITH_CASES))
def test_arith(name, op, x, y):
    if x.dtype.kind == "f":
        expected = NP_BIN[op](x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    else:
        expected = NP_BIN[op](x, y)  # uint8 wraps around, as NumPy
    run_case(getattr(gc, op), [x, y], expected, T_BIN[op] if x.dtype.kind == "f" else None)


# ----------------------------------------------------------------------------- Comparisons / logical ops

I32 = [rng.integers(0, 24, (3, 4, 5)).astype(np.int32) for _ in range(2)]
CMP_CASES = [
    ("test_equal", "equal", I32[0], I32[1]),
    ("test_equal_bcast", "equal", I32[0], rng.integers(0, 24, 5).astype(np.int32)),
]
for _op in ("less", "greater", "less_equal", "greater_equal"):
    _ox = {"less_equal": "less_equal", "greater_equal": "greater_equal"}.get(_op, _op)
    CMP_CASES += [(f"test_{_ox}", _op, rnd(3, 4, 5), rnd(3, 4, 5)),
                  (f"test_{_ox}_bcast", _op, rnd(3, 4, 5), rnd(5))]


def _b(*shape):
    return rng.standard_normal(shape) > 0


for _op in ("logical_and", "logical_or"):
    _on = _op.split("_")[1]
    CMP_CASES += [
        (f"test_{_on}2d", _op, _b(3, 4), _b(3, 4)),
        (f"test_{_on}3d", _op, _b(3, 4, 5), _b(3, 4, 5)),
        (f"test_{_on}4d", _op, _b(3, 4, 5, 6), _b(3, 4, 5, 6)),
        (f"test_{_on}_bcast3v1d", _op, _b(3, 4, 5), _b(5)),
        (f"test_{_on}_bcast3v2d", _op, _b(3, 4, 5), _b(4, 5)),
        (f"test_{_on}_bcast4v2d", _op, _b(3, 4, 5, 6), _b(5, 6)),
        (f"test_{_on}_bcast4v3d", _op, _b(3, 4, 5, 6), _b(4, 5, 6)),
        (f"test_{_on}_bcast4v4d", _op, _b(1, 4, 1, 6), _b(3, 1, 5, 6)),
    ]
CMP_CASES += [(f"test_not_{n}d", "logical_not", _b(*s), None)
              for n, s in ((2, (3, 4)), (3, (3, 4, 5)), (4, (3, 4, 5, 6)))]


@pytest.mark.parametrize("name,op,x,y", CMP_CASES, ids=ids(CMP_CASES))
def test_compare_logical(name, op, x, y):
    if y is None:
        check_forward(getattr(gc, op), [x], getattr(np, op)(x))
    else:
        check_forward(getattr(gc, op), [x, y], getattr(np, op)(x, y))


# ----------------------------------------------------------------------------- Max / Min (variadic)

MM3 = [np.array([3, 2, 1]), np.array([1, 4, 4]), np.array([2, 5, 3])]
MAXMIN_CASES = []
for _op in ("maximum", "minimum"):
    _on = _op[:3]
    MAXMIN_CASES += [
        (f"test_{_on}_example", _op, [a.astype(np.float32) for a in MM3]),
        (f"test_{_on}_one_input", _op, [MM3[0].astype(np.float32)]),
        (f"test_{_on}_two_inputs", _op, [a.astype(np.float32) for a in MM3[:2]]),
    ]
    for _dt in (np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8):
        MAXMIN_CASES.append((f"test_{_on}_{np.dtype(_dt).name}", _op, [a.astype(_dt) for a in MM3[:2]]))


def _fold(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


@pytest.mark.parametrize("name,op,xs", MAXMIN_CASES, ids=ids(MAXMIN_CASES))
def test_max_min(name, op, xs):
    expected = _fold(getattr(np, op), xs)
    tfn = (lambda *a: _fold(getattr(torch, op), a)) if xs[0].dtype.kind == "f" and len(xs) > 1 else None
    if len(xs) == 1:  # one operand: the identity
        check_forward(lambda a: a, xs, expected)
        return
    run_case(lambda *a: _fold(getattr(gc, op), a), xs, expected, tfn)


# ----------------------------------------------------------------------------- More unary float ops

EX3B = np.array([-1, 0, 1], np.float32)
MORE_UNARY_CASES = [
    ("test_abs", "abs", np.abs, torch.abs, rnd(3, 4, 5)),
    ("test_neg_example", "negative", np.negative, torch.neg, np.array([-4, 2], np.float32)),
    ("test_neg", "negative", np.negative, torch.neg, rnd(3, 4, 5)),
    ("test_exp_example", "exp", np.exp, torch.exp, EX3B),
    ("test_exp", "exp", np.exp, torch.exp, rnd(3, 4, 5)),
    ("test_log_example", "log", np.log, torch.log, np.array([1, 10], np.float32)),
    ("test_log", "log", np.log, torch.log, np.exp(rnd(3, 4, 5))),
    ("test_sqrt_example", "sqrt", np.sqrt, torch.sqrt, np.array([1, 4, 9], np.float32)),
    ("test_sqrt", "sqrt", np.sqrt, torch.sqrt, np.abs(rnd(3, 4, 5))),
    ("test_sigmoid_example", "sigmoid", lambda a: 1 / (1 + np.exp(-a)), torch.sigmoid, EX3B),
    ("test_sigmoid", "sigmoid", lambda a: 1 / (1 + np.exp(-a)), torch.sigmoid, rnd(3, 4, 5)),
    ("test_tanh_example", "tanh", np.tanh, torch.tanh, EX3B),
    ("test_tanh", "tanh", np.tanh, torch.tanh, rnd(3, 4, 5)),
    ("test_relu", "relu", lambda a: np.maximum(a, 0), torch.relu, rnd(3, 4, 5)),
    ("test_softplus_example", "softplus", lambda a: np.log1p(np.exp(a)), F.softplus, EX3B),
    ("test_softplus", "softplus", lambda a: np.log1p(np.exp(a)), F.softplus, rnd(3, 4, 5)),
    ("test_sign", "sign", np.sign, torch.sign, np.arange(-5, 6).astype(np.float32)),
    ("test_sin_example", "sin", np.sin, torch.sin, EX3B),
    ("test_sin", "sin", np.sin, torch.sin, rnd(3, 4, 5)),
    ("test_cos_example", "cos", np.cos, torch.cos, EX3B),
    ("test_cos", "cos", np.cos, torch.cos, rnd(3, 4, 5)),
    ("test_leakyrelu_example", lambda a: gc.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
     lambda a: F.leaky_relu(a, 0.1), EX3B),
    ("test_leakyrelu", lambda a: gc.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
     lambda a: F.leaky_relu(a, 0.1), rnd(3, 4, 5)),
    ("test_leakyrelu_default", "leaky_relu", lambda a: np.where(a > 0, a, 0.01 * a), F.leaky_relu, rnd(3, 4, 5)),
]


@pytest.mark.parametrize("name,fn,ref,tfn,x", MORE_UNARY_CASES, ids=ids(MORE_UNARY_CASES))
def test_more_unary(name, fn, ref, tfn, x):
    fn = getattr(gc, fn) if isinstance(fn, str) else fn
    run_case(fn, [x], ref(x.astype(np.float64)).astype(np.float32), tfn)


# ----------------------------------------------------------------------------- Transpose / Concat / Expand / ArgMax

TR_X = rnd(2, 3, 4)
TRANSPOSE_CASES = [("test_transpose_default", None)] + [
    (f"test_transpose_all_permutations_{i}", p)
    for i, p in enumerate([(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)])]


@pytest.mark.parametrize("name,perm", TRANSPOSE_CASES, ids=ids(TRANSPOSE_CASES))
def test_transpose(name, perm):
    run_case(lambda a: gc.transpose(a, perm), [TR_X], np.transpose(TR_X, perm),
             lambda a: a.permute(*(perm or (2, 1, 0))))


_CC = {"1d": ([1, 2], [3, 4]), "2d": ([[1, 2], [3, 4]], [[5, 6], [7, 8]]),
       "3d": ([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], [[[9, 10], [11, 12]], [[13, 14], [15, 16]]])}
CONCAT_CASES = []
for _k, (_a, _c) in _CC.items():
    _vals = [np.asarray(_a, np.float32), np.asarray(_c, np.float32)]
    for _ax in range(_vals[0].ndim):
        CONCAT_CASES.append((f"test_concat_{_k}_axis_{_ax}", _vals, _ax))
        CONCAT_CASES.append((f"test_concat_{_k}_axis_negative_{_vals[0].ndim - _ax}", _vals, _ax - _vals[0].ndim))


@pytest.mark.parametrize("name,vals,axis", CONCAT_CASES, ids=ids(CONCAT_CASES))
def test_concat(name, vals, axis):
    run_case(lambda *a: gc.concatenate(list(a), axis=axis), vals, np.concatenate(vals, axis),
             lambda *a: torch.cat(a, axis))


EXPAND_X = np.arange(1, 4, dtype=np.float32).reshape(3, 1)
EXPAND_CASES = [("test_expand_dim_changed", (2, 1, 6)), ("test_expand_dim_unchanged", (3, 4))]


@pytest.mark.parametrize("name,shape", EXPAND_CASES, ids=ids(EXPAND_CASES))
def test_expand(name, shape):
    expected = EXPAND_X * np.ones(shape, np.float32)  # bidirectional broadcast
    run_case(lambda a: gc.broadcast_to(a, expected.shape), [EXPAND_X], expected,
             lambda a: a.expand(*expected.shape))


AM_EX = np.array([[2, 1], [3, 10]], np.float32)
AM_RAND = rng.uniform(-10, 10, (2, 3, 4)).astype(np.float32)
ARGMAX_CASES = []
for _tag, _x in (("example", AM_EX), ("random", AM_RAND)):
    ARGMAX_CASES += [(f"test_argmax_no_keepdims_{_tag}", _x, 1, False),
                     (f"test_argmax_keepdims_{_tag}", _x, 1, True),
                     (f"test_argmax_default_axis_{_tag}", _x, 0, True),
                     (f"test_argmax_negative_axis_keepdims_{_tag}", _x, -1, True)]


@pytest.mark.parametrize("name,x,axis,keepdims", ARGMAX_CASES, ids=ids(ARGMAX_CASES))
def test_argmax(name, x, axis, keepdims):
    """graphc's argmax has no keepdims: the kept axis is put back with expand_dims."""
    expected = np.argmax(x, axis=axis)
    if keepdims:
        expected = np.expand_dims(expected, axis)

    def build(a):
        r = gc.argmax(a, axis=axis)
        return gc.expand_dims(r, axis) if keepdims else r

    check_forward(build, [x], expected)


# ----------------------------------------------------------------------------- Reshape / Flatten

RS_X = rng.random((2, 3, 4)).astype(np.float32)
RESHAPE_CASES = [
    ("test_reshape_reordered_all_dims", (4, 2, 3)),
    ("test_reshape_reordered_last_dims", (2, 4, 3)),
    ("test_reshape_reduced_dims", (2, 12)),
    ("test_reshape_extended_dims", (2, 3, 2, 2)),
    ("test_reshape_one_dim", (24,)),
    ("test_reshape_negative_dim", (2, -1, 2)),
    ("test_reshape_negative_extended_dims", (-1, 2, 3, 4)),
    # ONNX's 0 ("keep the input's size here") is graphc's None
    ("test_reshape_zero_dim", (2, None, 4, 1)),
    ("test_reshape_zero_and_negative_dim", (2, None, 1, -1)),
]


@pytest.mark.parametrize("name,shape", RESHAPE_CASES, ids=ids(RESHAPE_CASES))
def test_reshape(name, shape):
    np_shape = tuple(RS_X.shape[i] if s is None else s for i, s in enumerate(shape))
    expected = RS_X.reshape(np_shape)
    run_case(lambda a: gc.reshape(a, shape), [RS_X], expected, lambda a: a.reshape(expected.shape))


FL_X = rnd(2, 3, 4, 5)
FLATTEN_CASES = [(f"test_flatten_axis{i}", i) for i in range(4)] + [
    (f"test_flatten_negative_axis{i}", -i) for i in range(1, 5)] + [("test_flatten_default_axis", 1)]


@pytest.mark.parametrize("name,axis", FLATTEN_CASES, ids=ids(FLATTEN_CASES))
def test_flatten(name, axis):
    rows = int(np.prod(FL_X.shape[:axis % FL_X.ndim])) if axis != 0 else 1
    expected = FL_X.reshape(rows, -1)
    run_case(lambda a: gc.reshape(a, (rows, -1)), [FL_X], expected, lambda a: a.reshape(expected.shape))


# ----------------------------------------------------------------------------- ReduceSumSquare / L1 / L2 / LogSum

COMPOSITE_RED = {
    "reduce_sum_square": (lambda a, ax, kd: gc.sum(gc.square(a), axis=ax, keepdims=kd),
                          lambda a, ax, kd: np.sum(a * a, axis=ax, keepdims=kd),
                          lambda a, ax, kd: (a * a).sum(dim=ax, keepdim=kd)),
    "reduce_l1": (lambda a, ax, kd: gc.sum(gc.abs(a), axis=ax, keepdims=kd),
                  lambda a, ax, kd: np.sum(np.abs(a), axis=ax, keepdims=kd),
                  lambda a, ax, kd: a.abs().sum(dim=ax, keepdim=kd)),
    "reduce_l2": (lambda a, ax, kd: gc.sqrt(gc.sum(gc.square(a), axis=ax, keepdims=kd)),
                  lambda a, ax, kd: np.sqrt(np.sum(a * a, axis=ax, keepdims=kd)),
                  lambda a, ax, kd: (a * a).sum(dim=ax, keepdim=kd).sqrt()),
    "reduce_log_sum": (lambda a, ax, kd: gc.log(gc.sum(a, axis=ax, keepdims=kd)),
                       lambda a, ax, kd: np.log(np.sum(a, axis=ax, keepdims=kd)),
                       lambda a, ax, kd: a.sum(dim=ax, keepdim=kd).log()),
}
CRED_EX = np.arange(1, 13, dtype=np.float32).reshape(3, 2, 2)
CRED_RAND = rng.uniform(-10, 10, (3, 2, 2)).astype(np.float32)
COMPOSITE_RED_CASES = []
for _op in COMPOSITE_RED:
    for _pat, _ax, _kd in RED_PATTERNS:
        _ax = tuple(range(3)) if _ax is None else _ax
        COMPOSITE_RED_CASES.append((f"test_{_op}_{_pat}_example", _op, CRED_EX, _ax, _kd))
        if _op != "reduce_log_sum":  # log of a random-signed sum is not defined
            COMPOSITE_RED_CASES.append((f"test_{_op}_{_pat}_random", _op, CRED_RAND, _ax, _kd))


@pytest.mark.parametrize("name,op,x,axis,keepdims", COMPOSITE_RED_CASES, ids=ids(COMPOSITE_RED_CASES))
def test_composite_reduce(name, op, x, axis, keepdims):
    gfn, nfn, tfn = COMPOSITE_RED[op]
    expected = nfn(x.astype(np.float64), axis, keepdims).astype(np.float32)
    run_case(lambda a: gfn(a, axis, keepdims), [x], expected, lambda a: tfn(a, axis, keepdims))


# ----------------------------------------------------------------------------- SoftmaxCrossEntropyLoss (no weights)

SCE_X = rng.random((3, 5)).astype(np.float32)
SCE_Y = rng.integers(0, 5, 3).astype(np.int64)
SCE_X3 = rng.random((3, 5, 2)).astype(np.float32)
SCE_Y3 = rng.integers(0, 5, (3, 2)).astype(np.int64)


def _np_sce(x, y):
    """Per-position loss, classes on axis 1."""
    x = np.moveaxis(x.astype(np.float64), 1, -1)
    logp = x - x.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, y[..., None], -1)[..., 0]


SCE_CASES = [
    ("test_softmax_cross_entropy_none", SCE_X, SCE_Y, "none"),
    ("test_softmax_cross_entropy_sum", SCE_X, SCE_Y, "sum"),
    ("test_softmax_cross_entropy_mean", SCE_X, SCE_Y, "mean"),
    ("test_softmax_cross_entropy_mean_3d", SCE_X3, SCE_Y3, "mean"),
]


@pytest.mark.parametrize("name,x,y,red", SCE_CASES, ids=ids(SCE_CASES))
def test_softmax_cross_entropy(name, x, y, red):
    """graphc takes the classes on the last axis: ONNX's axis 1 is moved there."""
    loss = _np_sce(x, y)
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[red].astype(np.float32)

    def build(a, t):
        per = gc.softmax_cross_entropy(gc.moveaxis(a, 1, -1), t)
        return {"none": per, "sum": gc.sum(per), "mean": gc.mean(per)}[red]

    def tfn(a, t):
        return F.cross_entropy(a, t, reduction=red)

    run_case(build, [x, y], expected, tfn)


# ----------------------------------------------------------------------------- GlobalAveragePool / GlobalMaxPool

GP_CASES = [
    ("test_globalaveragepool", "avg", rnd(1, 3, 5, 5)),
    ("test_globalaveragepool_precomputed", "avg", np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)),
    ("test_globalmaxpool", "max", rnd(1, 3, 5, 5)),
    ("test_globalmaxpool_precomputed", "max", np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)),
]


@pytest.mark.parametrize("name,kind,x", GP_CASES, ids=ids(GP_CASES))
def test_global_pool(name, kind, x):
    """A window as large as the (square) image: graphc's pools with kernel = H."""
    k = x.shape[2]
    if kind == "avg":
        expected = x.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)
        run_case(lambda a: gc.avg_pool2d(a, k), [x], expected, lambda a: F.avg_pool2d(a, k))
    else:
        expected = x.max(axis=(2, 3), keepdims=True)
        run_case(lambda a: gc.max_pool2d(a, k), [x], expected, lambda a: F.max_pool2d(a, k))


# ----------------------------------------------------------------------------- Gemm (matmul + transposes)

def _r(*s):
    return rng.random(s).astype(np.float32)


GEMM_CASES = [
    ("test_gemm_default_zero_bias", _r(3, 5), _r(5, 4), np.zeros((1, 4), np.float32), False, False, 1.0, 1.0),
    ("test_gemm_default_no_bias", _r(2, 10), _r(10, 3), None, False, False, 1.0, 1.0),
    ("test_gemm_default_scalar_bias", _r(2, 3), _r(3, 4), np.array(3.14, np.float32), False, False, 1.0, 1.0),
    ("test_gemm_default_single_elem_vector_bias", _r(3, 7), _r(7, 3), _r(1), False, False, 1.0, 1.0),
    ("test_gemm_default_vector_bias", _r(2, 7), _r(7, 4), _r(1, 4), False, False, 1.0, 1.0),
    ("test_gemm_default_matrix_bias", _r(3, 6), _r(6, 4), _r(3, 4), False, False, 1.0, 1.0),
    ("test_gemm_transposeA", _r(6, 3), _r(6, 4), np.zeros((1, 4), np.float32), True, False, 1.0, 1.0),
    ("test_gemm_transposeB", _r(3, 6), _r(4, 6), np.zeros((1, 4), np.float32), False, True, 1.0, 1.0),
    ("test_gemm_alpha", _r(3, 5), _r(5, 4), np.zeros((1, 4), np.float32), False, False, 0.5, 1.0),
    ("test_gemm_beta", _r(2, 7), _r(7, 4), _r(1, 4), False, False, 1.0, 0.5),
    ("test_gemm_all_attributes", _r(4, 3), _r(5, 4), _r(1, 5), True, True, 0.25, 0.35),
]


@pytest.mark.parametrize("name,a,b,c,ta,tb,alpha,beta", GEMM_CASES, ids=ids(GEMM_CASES))
def test_gemm(name, a, b, c, ta, tb, alpha, beta):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = alpha * ((a64.T if ta else a64) @ (b64.T if tb else b64))
    if c is not None:
        expected = expected + beta * c.astype(np.float64)
    expected = expected.astype(np.float32)

    def build(x, y, *z):
        out = gc.matmul(gc.transpose(x) if ta else x, gc.transpose(y) if tb else y) * alpha
        return out + z[0] * beta if z else out

    def tfn(x, y, *z):
        out = (x.T if ta else x) @ (y.T if tb else y) * alpha
        return out + z[0] * beta if z else out

    run_case(build, [a, b] + ([] if c is None else [c]), expected, tfn)
