"""2-D convolution (NCHW input, OIHW weights, as PyTorch), its transpose, and pooling.

Three ops close under differentiation. conv2d is bilinear, B(x, w); its transpose T(y, w) is
the adjoint of B(., w) (<T(y, w), z> = <y, B(z, w)>), and the filter gradient F(x, g) the
adjoint of B(x, .) (<F(x, g), c> = <g, B(x, c)>). Every derivative of each is one of the three
(the VJPs below), so gradients of any order stay convolutions. Geometry (stride, padding,
dilation: pairs (rows, columns)) follows torch.nn.functional.conv2d: an output row r reads input
rows r * stride - padding + i * dilation for kernel rows i, zero outside the input.

Max pooling takes each window's maximum by index, `pool_argmax` (as PyTorch: the first of equal
maxima, and NaN beats any number, the last NaN any earlier one), and picks it with `take`: its
gradient is take's scatter-add, exact at ties as PyTorch's. Average pooling is a depthwise conv2d with constant weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..builder import apply, lift
from ..dtypes import is_int, result_type
from ..errors import ShapeError
from ..opdef import OpDef, register
from . import elementwise as ew
from . import shape as sh
from .leaves import constant

Pair = tuple[int, int]


def _out_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _out_sides(x_shape: tuple[int, ...], kernel: tuple[int, ...], stride: Pair, padding: Pair, dilation: Pair) -> Pair:
    """conv2d's output rows and columns for input shape (N, C, H, W)."""
    return (_out_size(x_shape[2], kernel[0], stride[0], padding[0], dilation[0]),
            _out_size(x_shape[3], kernel[1], stride[1], padding[1], dilation[1]))


def _check_float(*xs: Any) -> np.dtype:
    dtype = result_type(*(x.dtype for x in xs))
    if dtype.kind != "f":
        raise ShapeError(f"needs float tensors, got {' and '.join(x.dtype.name for x in xs)}")
    return dtype


def _check_kernel(w_shape: tuple[int, ...]) -> None:
    """A kernel covers at least one tap, and there is at least one output channel (as PyTorch)."""
    if min(w_shape) < 1:
        raise ShapeError(f"needs weights with no empty axis (a kernel of at least 1x1), got {w_shape}")


def _conv_rule(x: Any, w: Any, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> tuple[tuple[int, ...], np.dtype]:
    dtype = _check_float(x, w)
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"needs a 4-D input (N, C, H, W) and 4-D weights (O, C/groups, kh, kw), got {x.shape} and {w.shape}")
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    _check_kernel(w.shape)
    if c % groups:
        raise ShapeError(f"{c} input channels do not split into {groups} groups")
    if o % groups or cg * groups != c:
        raise ShapeError(f"{c} input channels in {groups} groups need weights of shape (O, {c // groups}, kh, kw)"
                         f" with O divisible by {groups}, got {w.shape}")
    ho, wo = _out_sides(x.shape, (kh, kw), stride, padding, dilation)
    if ho < 1 or wo < 1:
        raise ShapeError(f"a {kh}x{kw} kernel (dilation {dilation}, padding {padding}) does not fit a {h}x{wd} input")
    return (n, o, ho, wo), dtype


def _transpose_size(size: int, k: int, stride: int, padding: int, dilation: int, extra: int) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (k - 1) + extra + 1


def _conv_t_rule(y: Any, w: Any, stride: Pair, padding: Pair, output_padding: Pair, dilation: Pair,
                 groups: int) -> tuple[tuple[int, ...], np.dtype]:
    dtype = _check_float(y, w)
    if y.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"needs a 4-D input (N, C, H, W) and 4-D weights (C, O/groups, kh, kw), got {y.shape} and {w.shape}")
    n, c, h, wd = y.shape
    ci, og, kh, kw = w.shape
    _check_kernel(w.shape)
    if ci != c or c % groups:
        raise ShapeError(f"an input of {c} channels in {groups} groups needs weights of shape ({c}, O/groups, kh, kw), got {w.shape}")
    for extra, st, d in zip(output_padding, stride, dilation):
        if not 0 <= extra < max(st, d):
            raise ShapeError(f"output_padding {output_padding} must be below stride {stride} or dilation {dilation}")
    ho, wo = (_transpose_size(s, k, st, p, d, e)
              for s, k, st, p, d, e in zip((h, wd), (kh, kw), stride, padding, dilation, output_padding))
    if ho < 1 or wo < 1:
        raise ShapeError(f"padding {padding} leaves no output of a {h}x{wd} input")
    return (n, og * groups, ho, wo), dtype


def _filter_rule(x: Any, g: Any, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                 groups: int) -> tuple[tuple[int, ...], np.dtype]:
    dtype = _check_float(x, g)
    shape = (g.shape[1], x.shape[1] // groups) + tuple(kernel)
    if x.ndim != 4 or g.ndim != 4 or _conv_rule(x, _Like(shape, dtype), stride, padding, dilation, groups)[0] != g.shape:
        raise ShapeError(f"an output gradient of shape {g.shape} does not belong to input {x.shape} and kernel {kernel}")
    return shape, dtype


class _Like:
    """A stand-in with a shape and a dtype, for reusing a shape rule."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)


def _windows(xp: np.ndarray, i: int, j: int, out: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """The padded input's entries that kernel position (i, j) meets, (N, C, Ho, Wo)."""
    r, c = i * dilation[0], j * dilation[1]
    return xp[:, :, r : r + stride[0] * (out[0] - 1) + 1 : stride[0], c : c + stride[1] * (out[1] - 1) + 1 : stride[1]]


def _padded(x: np.ndarray, padding: Pair) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))


def _conv_ref(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> np.ndarray:
    dtype = np.result_type(x, w)
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    out_hw = _out_sides(x.shape, (kh, kw), stride, padding, dilation)
    xp = _padded(x.astype(dtype), padding)
    wg = w.astype(dtype).reshape(groups, o // groups, cg, kh, kw)
    out = np.zeros((n, groups, o // groups) + out_hw, dtype)
    for i in range(kh):
        for j in range(kw):
            win = _windows(xp, i, j, out_hw, stride, dilation).reshape((n, groups, cg) + out_hw)
            out += np.einsum("ngchw,goc->ngohw", win, wg[:, :, :, i, j])
    return out.reshape((n, o) + out_hw)


def _conv_t_ref(y: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, output_padding: Pair, dilation: Pair,
                groups: int) -> np.ndarray:
    dtype = np.result_type(y, w)
    n, c, h, wd = y.shape
    _, og, kh, kw = w.shape
    out_hw = tuple(_transpose_size(s, k, st, p, d, e)
                   for s, k, st, p, d, e in zip((h, wd), (kh, kw), stride, padding, dilation, output_padding))
    full = tuple(max((s - 1) * st + d * (k - 1) + 1, p + o)
                 for s, st, d, k, p, o in zip((h, wd), stride, dilation, (kh, kw), padding, out_hw))
    out = np.zeros((n, groups, og) + full, dtype)
    yg = y.astype(dtype).reshape(n, groups, c // groups, h, wd)
    wg = w.astype(dtype).reshape(groups, c // groups, og, kh, kw)
    for i in range(kh):
        for j in range(kw):
            r, s = i * dilation[0], j * dilation[1]
            rows = slice(r, r + stride[0] * (h - 1) + 1, stride[0])
            cols = slice(s, s + stride[1] * (wd - 1) + 1, stride[1])
            out[:, :, :, rows, cols] += np.einsum("ngchw,gco->ngohw", yg, wg[:, :, :, i, j])
    out = out[:, :, :, padding[0] : padding[0] + out_hw[0], padding[1] : padding[1] + out_hw[1]]
    return np.ascontiguousarray(out.reshape((n, og * groups) + out_hw))


def _filter_ref(x: np.ndarray, g: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                groups: int) -> np.ndarray:
    dtype = np.result_type(x, g)
    n, c = x.shape[:2]
    o = g.shape[1]
    out_hw = (g.shape[2], g.shape[3])
    xp = _padded(x.astype(dtype), padding)
    gg = g.astype(dtype).reshape((n, groups, o // groups) + out_hw)
    out = np.zeros((groups, o // groups, c // groups) + tuple(kernel), dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            win = _windows(xp, i, j, out_hw, stride, dilation).reshape((n, groups, c // groups) + out_hw)
            out[..., i, j] = np.einsum("ngohw,ngchw->goc", gg, win)
    return out.reshape((o, c // groups) + tuple(kernel))


def _leftover(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Pair, padding: Pair, dilation: Pair) -> Pair:
    """The output_padding taking conv2d's output size back to x's: the rows a stride skipped."""
    out = _out_sides(x_shape, w_shape[2:], stride, padding, dilation)
    return (x_shape[2] - _transpose_size(out[0], w_shape[2], stride[0], padding[0], dilation[0], 0),
            x_shape[3] - _transpose_size(out[1], w_shape[3], stride[1], padding[1], dilation[1], 0))


def _b(x: Any, w: Any, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> Any:
    return apply(CONV2D, (x, w), stride=stride, padding=padding, dilation=dilation, groups=groups)


def _t(y: Any, w: Any, stride: Pair, padding: Pair, extra: Pair, dilation: Pair, groups: int) -> Any:
    return apply(CONV_TRANSPOSE2D, (y, w), stride=stride, padding=padding, output_padding=extra, dilation=dilation,
                 groups=groups)


def _f(x: Any, g: Any, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> Any:
    return apply(CONV2D_FILTER_GRAD, (x, g), kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                 groups=groups)


def _t_input_grad(g: Any, y: Any, w: Any, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> Any:
    """conv_transpose2d's gradient in y: conv2d of g, cut to y's size (with output_padding at or
    above the stride, allowed when the dilation is larger, conv2d reaches rows past y's)."""
    b = _b(g, w, stride, padding, dilation, groups)
    if b.shape[2:] == y.shape[2:]:
        return b
    return sh.getitem(b, (slice(None), slice(None), slice(0, y.shape[2]), slice(0, y.shape[3])))


def _t_filter_grad(g: Any, y: Any, w: Any, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> Any:
    """conv_transpose2d's gradient in w: the filter gradient of g against y, y padded with zeros to
    conv2d's output size of g where that reaches past y (as in `_t_input_grad`)."""
    sides = _out_sides(g.shape, w.shape[2:], stride, padding, dilation)
    extra = (sides[0] - y.shape[2], sides[1] - y.shape[3])
    if any(extra):
        y = sh.pad(y, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    return _f(g, y, w.shape[2:], stride, padding, dilation, groups)


CONV2D = register(
    OpDef(
        "conv2d",
        "nn",
        2,
        _conv_rule,
        _conv_ref,
        (
            lambda g, out, x, w, stride, padding, dilation, groups: _t(
                g, w, stride, padding, _leftover(x.shape, w.shape, stride, padding, dilation), dilation, groups),
            lambda g, out, x, w, stride, padding, dilation, groups: _f(
                x, g, w.shape[2:], stride, padding, dilation, groups),
        ),
        (
            lambda t, out, x, w, stride, padding, dilation, groups: _b(t, w, stride, padding, dilation, groups),
            lambda t, out, x, w, stride, padding, dilation, groups: _b(x, t, stride, padding, dilation, groups),
        ),
        doc="2-D cross-correlation of NCHW x with OIHW weights (PyTorch's conv2d)",
    )
)
CONV_TRANSPOSE2D = register(
    OpDef(
        "conv_transpose2d",
        "nn",
        2,
        _conv_t_rule,
        _conv_t_ref,
        (
            lambda g, out, y, w, stride, padding, output_padding, dilation, groups: _t_input_grad(
                g, y, w, stride, padding, dilation, groups),
            lambda g, out, y, w, stride, padding, output_padding, dilation, groups: _t_filter_grad(
                g, y, w, stride, padding, dilation, groups),
        ),
        (
            lambda t, out, y, w, stride, padding, output_padding, dilation, groups: _t(
                t, w, stride, padding, output_padding, dilation, groups),
            lambda t, out, y, w, stride, padding, output_padding, dilation, groups: _t(
                y, t, stride, padding, output_padding, dilation, groups),
        ),
        doc="the transpose of conv2d (PyTorch's conv_transpose2d, weights (C, O/groups, kh, kw))",
    )
)
CONV2D_FILTER_GRAD = register(
    OpDef(
        "conv2d_filter_grad",
        "nn",
        2,
        _filter_rule,
        _filter_ref,
        (
            lambda c, out, x, g, kernel, stride, padding, dilation, groups: _t(
                g, c, stride, padding, _leftover(x.shape, out.shape, stride, padding, dilation), dilation, groups),
            lambda c, out, x, g, kernel, stride, padding, dilation, groups: _b(x, c, stride, padding, dilation, groups),
        ),
        (
            lambda t, out, x, g, kernel, stride, padding, dilation, groups: _f(
                t, g, kernel, stride, padding, dilation, groups),
            lambda t, out, x, g, kernel, stride, padding, dilation, groups: _f(
                x, t, kernel, stride, padding, dilation, groups),
        ),
        doc="the gradient of conv2d with respect to its weights, for input x and output gradient g",
    )
)


def _pool_rule(x: Any, kernel: Pair, stride: Pair) -> tuple[tuple[int, ...], np.dtype]:
    if x.ndim != 4:
        raise ShapeError(f"needs a 4-D input (N, C, H, W), got {x.shape}")
    if x.dtype.kind not in "fiu":
        raise ShapeError(f"needs a numeric tensor, got {x.dtype.name}")
    ho, wo = _out_sides(x.shape, kernel, stride, (0, 0), (1, 1))
    if ho < 1 or wo < 1:
        raise ShapeError(f"a {kernel[0]}x{kernel[1]} window does not fit a {x.shape[2]}x{x.shape[3]} input")
    return x.shape[:2] + (ho, wo), np.dtype(np.int64)


def _pool_argmax_ref(x: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    (n, c, h, wd), (kh, kw) = x.shape, kernel
    out_hw = _out_sides(x.shape, kernel, stride, (0, 0), (1, 1))
    best = np.full((n, c) + out_hw, -1, np.int64)
    value = np.zeros((n, c) + out_hw, x.dtype)
    rows = np.arange(out_hw[0])[:, None] * stride[0]
    cols = np.arange(out_hw[1])[None, :] * stride[1]
    for i in range(kh):  # row-major over the window: the first maximum wins, and the last NaN
        for j in range(kw):
            v = _windows(x, i, j, out_hw, stride, (1, 1))
            better = (best < 0) | (v > value) | (np.isnan(v) if x.dtype.kind == "f" else False)
            value = np.where(better, v, value)
            best = np.where(better, (rows + i) * wd + cols + j, best)
    planes = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * (h * wd)
    return best + planes[:, :, None, None]


POOL_ARGMAX = register(
    OpDef(
        "pool_argmax",
        "nn",
        1,
        _pool_rule,
        _pool_argmax_ref,
        None,
        None,
        doc="per pooling window, the flat index into x of its first maximum (or of its last NaN)",
    )
)


def _pair(v: Any, what: str, name: str, least: int) -> Pair:
    pair = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(pair) != 2 or not all(is_int(p) and p >= least for p in pair):
        raise ShapeError(f"{what}: {name} must be an int >= {least} or a pair of them, got {v!r}")
    return (int(pair[0]), int(pair[1]))


def _groups(groups: Any, what: str) -> int:
    if not is_int(groups) or groups < 1:
        raise ShapeError(f"{what}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _common(a: Any, b: Any) -> tuple[Any, Any]:
    """Both operands in their common float dtype (float32 images with float64 weights compute in
    float64): a convolution's operands and gradients then share one dtype, as BLAS needs."""
    dtype = result_type(a.dtype, b.dtype)
    if dtype.kind != "f":
        return a, b  # the shape rule names the integer operand
    return tuple(x if x.dtype == dtype else ew.cast(x, dtype) for x in (a, b))  # type: ignore[return-value]


def conv2d(x: Any, w: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Any:
    """2-D cross-correlation (PyTorch's conv2d): x (N, C, H, W), w (O, C / groups, kh, kw) ->
    (N, O, Ho, Wo); stride, padding (zeros) and dilation are ints or (rows, columns) pairs."""
    x, w = _common(*lift(x, w))
    return _b(x, w, _pair(stride, "conv2d", "stride", 1), _pair(padding, "conv2d", "padding", 0),
              _pair(dilation, "conv2d", "dilation", 1), _groups(groups, "conv2d"))


def conv_transpose2d(y: Any, w: Any, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Any:
    """The transpose of conv2d (PyTorch's conv_transpose2d, same argument order): y (N, C, H, W),
    w (C, O / groups, kh, kw) -> (N, O, (H - 1) * stride - 2 * padding + dilation * (kh - 1) +
    output_padding + 1, ...)."""
    y, w = _common(*lift(y, w))
    return _t(y, w, _pair(stride, "conv_transpose2d", "stride", 1), _pair(padding, "conv_transpose2d", "padding", 0),
              _pair(output_padding, "conv_transpose2d", "output_padding", 0),
              _pair(dilation, "conv_transpose2d", "dilation", 1), _groups(groups, "conv_transpose2d"))


def _pool_geometry(x: Any, kernel: Any, stride: Any, what: str) -> tuple[Pair, Pair]:
    k = _pair(kernel, what, "kernel", 1)
    s = k if stride is None else _pair(stride, what, "stride", 1)
    if x.ndim != 4:
        raise ShapeError(f"{what}: needs a 4-D input (N, C, H, W), got shape {x.shape}")
    if k[0] > x.shape[2] or k[1] > x.shape[3]:
        raise ShapeError(f"{what}: a {k[0]}x{k[1]} window does not fit a {x.shape[2]}x{x.shape[3]} input")
    return k, s


def max_pool2d(x: Any, kernel: Any, stride: Any = None) -> Any:
    """The maximum of each kernel window of x (N, C, H, W); stride defaults to the kernel, sizes
    are floored (as PyTorch). The gradient goes to each window's first maximum (its last NaN
    if it holds any, as PyTorch)."""
    (x,) = lift(x)
    k, s = _pool_geometry(x, kernel, stride, "max_pool2d")
    best = apply(POOL_ARGMAX, (x,), kernel=k, stride=s)
    return sh.reshape(sh.take(sh.reshape(x, (x.size,)), best, 0), best.shape)


def avg_pool2d(x: Any, kernel: Any, stride: Any = None) -> Any:
    """The mean of each kernel window of x (N, C, H, W); stride defaults to the kernel, sizes are
    floored (as PyTorch)."""
    (x,) = lift(x)
    k, s = _pool_geometry(x, kernel, stride, "avg_pool2d")
    if x.dtype.kind != "f":
        raise ShapeError(f"avg_pool2d: needs a float tensor, got {x.dtype.name}")
    c = x.shape[1]
    ones = constant(np.ones((c, 1) + k), x.dtype)
    return conv2d(x, ones, stride=s, groups=c) / float(k[0] * k[1])  # the window's sum / its size


__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d"]
