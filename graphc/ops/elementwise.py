"""Elementwise ops, with NumPy broadcasting.

Derivative rules return cotangents in the broadcast output shape; the differentiation pass sums
them back to each input's shape. Kinks and ties follow PyTorch and JAX: relu'(0) = abs'(0) = 0,
maximum/minimum split the gradient in half between equal sides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..builder import apply, constant, is_tensor, lift, weak_value
from ..dtypes import as_dtype, is_float, is_number, result_type
from ..errors import DTypeError, ShapeError
from ..opdef import OpDef, Rule, register
from .leaves import zeros_like

GELU_K = math.sqrt(2.0 / math.pi)  # the tanh approximation's constants, as in PyTorch
GELU_C = 0.044715
ERF_SCALE = 2.0 / math.sqrt(math.pi)  # erf'(x) = ERF_SCALE * e**-x**2


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of `shapes`, or ShapeError."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {' and '.join(map(str, shapes))} do not broadcast") from None


def _float_dtype(dt: np.dtype) -> np.dtype:
    return dt if is_float(dt) else np.dtype("float64")


def _as_float(a: np.ndarray) -> np.ndarray:
    return a if a.dtype.kind == "f" else a.astype(np.float64)


# Shape/dtype rules.
def _same(x: Any, **_: Any) -> tuple[tuple[int, ...], np.dtype]:
    return x.shape, x.dtype


def _numeric(x: Any, **_: Any) -> tuple[tuple[int, ...], np.dtype]:
    if x.dtype == np.bool_:
        raise ShapeError("expected a numeric tensor, got bool")
    return x.shape, x.dtype


def _floating(x: Any, **_: Any) -> tuple[tuple[int, ...], np.dtype]:
    return x.shape, _float_dtype(x.dtype)


def _binary(x: Any, y: Any) -> tuple[tuple[int, ...], np.dtype]:
    return broadcast_shapes(x.shape, y.shape), result_type(x.dtype, y.dtype)


def _binary_numeric(x: Any, y: Any) -> tuple[tuple[int, ...], np.dtype]:
    shape, dt = _binary(x, y)
    if dt == np.bool_:
        raise ShapeError("expected numeric tensors, got bool")
    return shape, dt


def _binary_float(x: Any, y: Any) -> tuple[tuple[int, ...], np.dtype]:
    shape, dt = _binary(x, y)
    return shape, _float_dtype(dt)


def _compare(x: Any, y: Any) -> tuple[tuple[int, ...], np.dtype]:
    return broadcast_shapes(x.shape, y.shape), np.dtype(bool)


def _logical(*xs: Any) -> tuple[tuple[int, ...], np.dtype]:
    if any(x.dtype != np.bool_ for x in xs):
        raise ShapeError("expected bool tensors")
    return broadcast_shapes(*(x.shape for x in xs)), np.dtype(bool)


def _where(c: Any, x: Any, y: Any) -> tuple[tuple[int, ...], np.dtype]:
    if c.dtype != np.bool_:
        raise ShapeError(f"the condition must be bool, got {c.dtype.name}")
    return broadcast_shapes(c.shape, x.shape, y.shape), result_type(x.dtype, y.dtype)


def _declare(
    name: str,
    infer: Rule,
    ref: Rule,
    vjp: tuple[Rule | None, ...] | None,
    doc: str,
    arity: int = 0,
    jvp: Any = None,
) -> OpDef:
    """A pointwise op: its VJP rules serve as JVP rules (see `OpDef`) unless `jvp` says
    otherwise (a dtype changing)."""
    arity = arity or len(vjp or ())
    return register(OpDef(name, "elementwise", arity, infer, ref, vjp, jvp, doc=doc, pointwise=True))


def _sigmoid_ref(x: np.ndarray) -> np.ndarray:
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _gelu_ref(x: np.ndarray) -> np.ndarray:
    x = _as_float(x)
    k, c, half, one = (x.dtype.type(v) for v in (GELU_K, GELU_C, 0.5, 1.0))
    return half * x * (one + np.tanh(k * (x + c * (x * x * x))))


def _gelu_derivative(x: Any) -> Any:
    # d/dx 0.5 x (1 + tanh(u)), u = k (x + c x^3), term for term as PyTorch computes it.
    tanh_u = tanh(GELU_K * (x + GELU_C * (x * x * x)))
    left, right = 0.5 * x, 1 + tanh_u
    right_derivative = (1 - tanh_u * tanh_u) * (GELU_K * (1 + 3 * GELU_C * (x * x)))
    return 0.5 * right + left * right_derivative


def _clip_ref(x: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    out = x  # x where it equals a bound (-0.0 stays -0.0), as PyTorch's clamp
    if lo is not None:
        out = _first_on_ties(np.maximum)(out, x.dtype.type(lo))
    if hi is not None:
        out = _first_on_ties(np.minimum)(out, x.dtype.type(hi))
    return np.asarray(out, x.dtype)


def _clip_mask(x: Any, lo: Any, hi: Any) -> Any:
    # PyTorch's clamp passes the gradient where lo <= x <= hi, ends included.
    inside = None
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        upper = x <= hi
        inside = upper if inside is None else logical_and(inside, upper)
    return inside


def _pow_dx(g: Any, out: Any, x: Any, y: Any) -> Any:
    # y x^(y-1), taken as 0 where y == 0 (so 0**0 has derivative 0, as PyTorch). The masked
    # branch reads x = 1 there ("double where"): its own derivatives stay finite, so a second
    # derivative is 0 * finite, not 0 * inf = NaN (d2/dx2 of x**0 at 0).
    zero = y == 0
    return where(zero, 0.0, g * (y * pow(where(zero, 1.0, x), y - 1)))


def _pow_dy(g: Any, out: Any, x: Any, y: Any) -> Any:
    # x^y log x, taken as 0 where x == 0 and y >= 0 (the limit), as PyTorch; the masked branch
    # reads x = 1 there, so that its derivatives are finite too (d2/dy2 of 0**y).
    limit = logical_and(x == 0, y >= 0)
    return g * where(limit, 0.0, out * log(where(limit, 1.0, x)))


def _pow_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C's pow, except that y = 0.5 is sqrt(x) and y = -0.5 is 1 / sqrt(x) (as PyTorch computes
    x ** 0.5 and x ** -0.5: NaN at -inf, -0 and -inf at -0). For integers, a negative exponent
    gives the integer part of 1 / x**|y| (1 for x = 1, +-1 for x = -1, else 0, also for x = 0)
    where NumPy raises."""
    dtype = np.result_type(x, y)
    if dtype.kind == "f":
        x, y = np.asarray(x, dtype), np.asarray(y, dtype)
        # NumPy's 0-d power takes (-inf) ** y as NaN for non-integer y; C's pow says +inf or +0.
        odd = (x == -np.inf) & (np.floor(y) != y) & np.isfinite(y)
        c_pow = np.where(odd, np.where(y > 0, dtype.type(np.inf), dtype.type(0)), np.power(x, y))
        root = np.sqrt(x)
        return np.where(y == 0.5, root, np.where(y == -0.5, 1 / root, c_pow)).astype(dtype)
    if dtype.kind not in "iu" or not np.any(y < 0):
        return np.power(x, y)
    negative = y < 0
    whole = np.power(x, np.where(negative, 0, y).astype(y.dtype))
    unit = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0))
    return np.where(negative, unit, whole).astype(dtype)


def _atan2_scale(y: Any, x: Any) -> Any:
    # 1 / (x**2 + y**2), taken as 0 where that overflows (at the origin), as PyTorch.
    scale = 1 / (x * x + y * y)
    return where(scale == math.inf, 0.0, scale)


def _erf_ref(x: np.ndarray) -> np.ndarray:
    # The C library's erf, element by element (NumPy has none; SciPy's is another polynomial).
    out = np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64))
    return np.asarray(out, np.float64).astype(x.dtype)


def _mod_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dtype = np.result_type(x, y)
    if dtype.kind in "iu":  # NumPy says 0 for x % 0 (with a warning), as graphc's lowering does
        with np.errstate(divide="ignore"):
            return np.mod(x, y).astype(dtype)
    return np.mod(x, y)


def _max_share(x: Any, y: Any, g: Any) -> Any:
    # x's share of g in maximum(x, y): all of it where x > y, half where tied, and (as PyTorch)
    # all of it to both sides where either is NaN.
    return where(x == y, g * 0.5, where(x < y, 0.0, g))


def _min_share(x: Any, y: Any, g: Any) -> Any:
    return where(x == y, g * 0.5, where(x > y, 0.0, g))


# Unary ops: name, shape rule, NumPy reference, VJP (also the JVP), doc.
NEGATIVE = _declare(
    "negative",
    _numeric,
    np.negative,
    (lambda g, out, x: -g,),
    "-x",
)
EXP = _declare(
    "exp",
    _floating,
    lambda x: np.exp(_as_float(x)),
    (lambda g, out, x: g * out,),
    "e**x",
)
LOG = _declare(
    "log",
    _floating,
    lambda x: np.log(_as_float(x)),
    (lambda g, out, x: g / x,),
    "natural logarithm; log(0) = -inf, log(x < 0) = NaN",
)
SQRT = _declare(
    "sqrt",
    _floating,
    lambda x: np.sqrt(_as_float(x)),
    (lambda g, out, x: g / (2 * out),),
    "square root; sqrt'(0) = inf",
)
ABS = _declare(
    "abs",
    _numeric,
    np.abs,
    (lambda g, out, x: g * sign(x),),
    "|x|, with abs'(0) = 0 (and abs'(NaN) = NaN, where PyTorch says 0)",
)
SIGN = _declare(
    "sign",
    _numeric,
    np.sign,
    # Zero, not absent: as in PyTorch, sign(x) of a tensor needing a gradient needs one too.
    (lambda g, out, x: zeros_like(g),),
    "-1, 0 or 1 (NaN for NaN); its derivative is zero",
)
SIN = _declare(
    "sin",
    _floating,
    lambda x: np.sin(_as_float(x)),
    (lambda g, out, x: g * cos(x),),
    "sine",
)
COS = _declare(
    "cos",
    _floating,
    lambda x: np.cos(_as_float(x)),
    (lambda g, out, x: g * -sin(x),),
    "cosine",
)
TANH = _declare(
    "tanh",
    _floating,
    lambda x: np.tanh(_as_float(x)),
    (lambda g, out, x: g * (1 - out * out),),
    "hyperbolic tangent",
)
SIGMOID = _declare(
    "sigmoid",
    _floating,
    _sigmoid_ref,
    (lambda g, out, x: g * (1 - out) * out,),
    "1 / (1 + e**-x), computed without overflow",
)
RELU = _declare(
    "relu",
    _numeric,
    lambda x: _first_on_ties(np.maximum)(x, x.dtype.type(0)),  # relu(-0.0) = -0.0, as PyTorch
    # relu'(0) = 0; at NaN the gradient passes (as PyTorch's threshold_backward).
    (lambda g, out, x: where(x <= 0, 0.0, g),),
    "max(x, 0), with relu'(0) = 0 (and relu'(NaN) = 1, as PyTorch)",
)
SOFTPLUS = _declare(
    "softplus",
    _floating,
    lambda x: np.logaddexp(_as_float(x).dtype.type(0), _as_float(x)),
    (lambda g, out, x: g * sigmoid(x),),
    "log(1 + e**x), computed without overflow (exact above 20, where PyTorch returns x)",
)
GELU = _declare(
    "gelu",
    _floating,
    _gelu_ref,
    (lambda g, out, x: g * _gelu_derivative(x),),
    "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), the tanh approximation",
)


def _leaky_relu_ref(x: np.ndarray, slope: float) -> np.ndarray:
    v = x.astype(_float_dtype(x.dtype))  # integers are computed in the float result dtype
    return np.where(v > 0, v, v * v.dtype.type(slope))


LOG1P = _declare(
    "log1p",
    _floating,
    lambda x: np.log1p(_as_float(x)),
    (lambda g, out, x: g / (1 + x),),
    "log(1 + x), exact for tiny x",
)
EXPM1 = _declare(
    "expm1",
    _floating,
    lambda x: np.expm1(_as_float(x)),
    (lambda g, out, x: g * (out + 1),),
    "e**x - 1, exact for tiny x",
)
ERF = _declare(
    "erf",
    _floating,
    lambda x: _erf_ref(_as_float(x)),
    (lambda g, out, x: g * (ERF_SCALE * exp(-(x * x))),),
    "the error function, 2/sqrt(pi) times the integral of e**-t**2 from 0 to x",
)
TAN = _declare(
    "tan",
    _floating,
    lambda x: np.tan(_as_float(x)),
    (lambda g, out, x: g * (1 + out * out),),
    "tangent",
)
ARCTAN = _declare(
    "arctan",
    _floating,
    lambda x: np.arctan(_as_float(x)),
    (lambda g, out, x: g / (1 + x * x),),
    "inverse tangent, in (-pi/2, pi/2)",
)
SINH = _declare(
    "sinh",
    _floating,
    lambda x: np.sinh(_as_float(x)),
    (lambda g, out, x: g * cosh(x),),
    "hyperbolic sine",
)
COSH = _declare(
    "cosh",
    _floating,
    lambda x: np.cosh(_as_float(x)),
    (lambda g, out, x: g * sinh(x),),
    "hyperbolic cosine",
)
FLOOR = _declare(
    "floor",
    _numeric,
    lambda x: x.copy() if x.dtype.kind in "iu" else np.floor(x),
    (lambda g, out, x: zeros_like(g),),
    "the largest integer <= x; its derivative is zero",
)
CEIL = _declare(
    "ceil",
    _numeric,
    lambda x: x.copy() if x.dtype.kind in "iu" else np.ceil(x),
    (lambda g, out, x: zeros_like(g),),
    "the smallest integer >= x; its derivative is zero",
)
ROUND = _declare(
    "round",
    _numeric,
    lambda x: x.copy() if x.dtype.kind in "iu" else np.rint(x),
    (lambda g, out, x: zeros_like(g),),
    "the nearest integer, halves to even (as NumPy and PyTorch); its derivative is zero",
)
LEAKY_RELU = _declare(
    "leaky_relu",
    _floating,
    _leaky_relu_ref,
    (lambda g, out, x, slope: where(x > 0, g, g * slope),),
    "x where x > 0, else slope * x (slope at 0, as PyTorch)",
)
CLIP = _declare(
    "clip",
    _numeric,
    _clip_ref,
    (lambda g, out, x, lo, hi: g if lo is None and hi is None else where(_clip_mask(x, lo, hi), g, 0.0),),
    "x limited to [lo, hi]; the gradient passes where lo <= x <= hi",
)
def _cast_ref(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """x as `dtype`; floats to integers as C on x86-64 converts one value (NumPy's one-value
    path): truncated toward 0, the lowest int where out of range or NaN, narrower ints through
    int32."""
    if x.dtype.kind != "f" or np.dtype(dtype).kind not in "iu":
        return x.astype(dtype)
    bits = 64 if np.dtype(dtype) == np.int64 else 32
    fits = (x >= -2.0 ** (bits - 1)) & (x < 2.0 ** (bits - 1))
    return np.where(fits, np.where(fits, x, 0).astype(f"int{bits}"), np.iinfo(f"int{bits}").min).astype(dtype)


CAST = _declare(
    "cast",
    lambda x, dtype: (x.shape, dtype),
    _cast_ref,
    (lambda g, out, x, dtype: g,),
    "conversion to another dtype; gradients flow between float dtypes only",
    jvp=(lambda t, out, x, dtype: cast(t, dtype),),
)
STOP_GRADIENT = _declare(
    "stop_gradient",
    _same,
    lambda x: x,
    (None,),
    "x, through which no gradient flows",
)
LOGICAL_NOT = _declare(
    "logical_not",
    _logical,
    np.logical_not,
    None,
    "~x on bools",
    arity=1,
)

# Binary ops.
ADD = _declare(
    "add",
    _binary,
    np.add,
    (lambda g, out, x, y: g, lambda g, out, x, y: g),
    "x + y",
)
SUBTRACT = _declare(
    "subtract",
    _binary_numeric,
    np.subtract,
    (lambda g, out, x, y: g, lambda g, out, x, y: -g),
    "x - y",
)
MULTIPLY = _declare(
    "multiply",
    _binary,
    np.multiply,
    (lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
    "x * y",
)
DIVIDE = _declare(
    "divide",
    _binary_float,
    lambda x, y: np.true_divide(x, y),
    # d/dy x/y = -(x/y)/y: no y*y to underflow to 0 (0/5e-324 has derivative -0, not NaN),
    # and its own derivative stays finite where the true one is.
    (lambda g, out, x, y: g / y, lambda g, out, x, y: -g * (out / y)),
    "x / y (true division, IEEE: x/0 = +-inf, 0/0 = NaN); d/dy = -(x/y)/y, which no y*y underflows",
)
POW = _declare(
    "pow",
    _binary_numeric,
    _pow_ref,
    (_pow_dx, _pow_dy),
    "x ** y; (-inf) ** y is NaN for positive non-integer y (as NumPy); integer x ** -n is the"
    " integer part of 1 / x**n (0 for 0 ** -n)",
)
ARCTAN2 = _declare(
    "arctan2",
    _binary_float,
    lambda y, x: np.arctan2(_as_float(y), _as_float(x)),
    (lambda g, out, y, x: g * x * _atan2_scale(y, x), lambda g, out, y, x: g * -y * _atan2_scale(y, x)),
    "the angle of the point (x, y), in [-pi, pi]",
)
HYPOT = _declare(
    "hypot",
    _binary_float,
    lambda x, y: np.hypot(_as_float(x), _as_float(y)),
    (lambda g, out, x, y: g * x / out, lambda g, out, x, y: g * y / out),
    "sqrt(x**2 + y**2), without overflow",
)
LOGADDEXP = _declare(
    "logaddexp",
    _binary_float,
    lambda x, y: np.logaddexp(_as_float(x), _as_float(y)),
    (lambda g, out, x, y: g / (1 + exp(y - x)), lambda g, out, x, y: g / (1 + exp(x - y))),
    "log(e**x + e**y), without overflow",
)
MOD = _declare(
    "mod",
    _binary_numeric,
    _mod_ref,
    (lambda g, out, x, y: g, lambda g, out, x, y: g * -floor(divide(x, y))),
    "x - floor(x / y) * y: the remainder with the divisor's sign (Python's %, NumPy's mod);"
    " integer x mod 0 is 0",
)
def _first_on_ties(pick: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`pick` (np.maximum, np.minimum) returning x where x == y, as PyTorch does: of 0.0 and
    -0.0 the first given (NumPy returns the second)."""
    return lambda x, y: np.where(np.equal(x, y), x, pick(x, y))


MAXIMUM = _declare(
    "maximum",
    _binary,
    _first_on_ties(np.maximum),
    (lambda g, out, x, y: _max_share(x, y, g), lambda g, out, x, y: _max_share(y, x, g)),
    "the larger of x and y (NaN if either is; x of 0.0 and -0.0); ties split the gradient in half; at NaN both"
    " sides get it all (as PyTorch)",
)
MINIMUM = _declare(
    "minimum",
    _binary,
    _first_on_ties(np.minimum),
    (lambda g, out, x, y: _min_share(x, y, g), lambda g, out, x, y: _min_share(y, x, g)),
    "the smaller of x and y (NaN if either is; x of 0.0 and -0.0); ties split the gradient in half; at NaN both"
    " sides get it all (as PyTorch)",
)
LESS = _declare(
    "less",
    _compare,
    np.less,
    None,
    "x < y",
    arity=2,
)
LESS_EQUAL = _declare(
    "less_equal",
    _compare,
    np.less_equal,
    None,
    "x <= y",
    arity=2,
)
GREATER = _declare(
    "greater",
    _compare,
    np.greater,
    None,
    "x > y",
    arity=2,
)
GREATER_EQUAL = _declare(
    "greater_equal",
    _compare,
    np.greater_equal,
    None,
    "x >= y",
    arity=2,
)
EQUAL = _declare(
    "equal",
    _compare,
    np.equal,
    None,
    "x == y",
    arity=2,
)
NOT_EQUAL = _declare(
    "not_equal",
    _compare,
    np.not_equal,
    None,
    "x != y",
    arity=2,
)
LOGICAL_AND = _declare(
    "logical_and",
    _logical,
    np.logical_and,
    None,
    "x & y on bools",
    arity=2,
)
LOGICAL_OR = _declare(
    "logical_or",
    _logical,
    np.logical_or,
    None,
    "x | y on bools",
    arity=2,
)
WHERE = _declare(
    "where",
    _where,
    np.where,
    (None, lambda g, out, c, x, y: where(c, g, 0.0), lambda g, out, c, x, y: where(c, 0.0, g)),
    "x where c is true, else y",
)


def _of_scalars(op: OpDef, xs: tuple[Any, ...], attrs: dict[str, Any]) -> Any:
    """`op` on weak scalars alone (gc.sin(2.0)): computed now at full width (float64, int64 or
    bool) and kept as a weak constant, so that it meets tensors as that scalar would (x32 +
    gc.sin(2.0) stays float32, x64 + gc.sin(2.0) is exact); alone it has the usual dtype. None
    if some input is not weak, or the op names its dtype."""
    scalars = [weak_value(x) for x in xs]
    if any(w is None for w in scalars) or "dtype" in attrs or op.numpy is None:
        return None
    with np.errstate(all="ignore"):
        exact = np.asarray(op.numpy(*(np.asarray(w) for w in scalars), **attrs))
    _, dtype = op.infer(*lift(*xs), **attrs)
    if dtype.kind == "f" and not any(isinstance(x, (float, np.floating)) or getattr(x, "dtype", None) == np.float64
                                     for x in xs):
        dtype = np.dtype("float32")  # gc.exp(1): a float of Python ints alone is float32, as PyTorch's default
    return constant(exact, dtype, weak=exact.item())


def _unary(op: OpDef, x: Any, **attrs: Any) -> Any:
    scalar = _of_scalars(op, (x,), attrs)
    return scalar if scalar is not None else apply(op, tuple(lift(x)), **attrs)


def promote(*xs: Any) -> list[Any]:
    """Tensors `xs` with the integer and bool ones cast to the float dtype they meet (PyTorch's
    promotion: a float32 tensor with an int64 one computes in float32). The cast is a node of
    its own, so every back end rounds the integers the same way before the arithmetic."""
    tensors = lift(*xs)
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    if not floats or all(t.dtype.kind == "f" for t in tensors):
        return tensors
    target = result_type(*floats)
    return [t if t.dtype.kind == "f" else cast(t, target) for t in tensors]


def _binary_op(op: OpDef, x: Any, y: Any) -> Any:
    scalar = _of_scalars(op, (x, y), {})
    return scalar if scalar is not None else apply(op, tuple(promote(x, y)))


def negative(x: Any) -> Any:
    """-x."""
    return _unary(NEGATIVE, x)


def exp(x: Any) -> Any:
    """e**x, elementwise."""
    return _unary(EXP, x)


def log(x: Any) -> Any:
    """Natural logarithm, elementwise."""
    return _unary(LOG, x)


def sqrt(x: Any) -> Any:
    """Square root, elementwise."""
    return _unary(SQRT, x)


def abs(x: Any) -> Any:  # noqa: A001 - the API's name
    """|x|, elementwise; abs'(0) = 0."""
    return _unary(ABS, x)


def sign(x: Any) -> Any:
    """-1, 0 or 1, elementwise."""
    return _unary(SIGN, x)


def sin(x: Any) -> Any:
    """Sine, elementwise."""
    return _unary(SIN, x)


def cos(x: Any) -> Any:
    """Cosine, elementwise."""
    return _unary(COS, x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent, elementwise."""
    return _unary(TANH, x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + e**-x), elementwise."""
    return _unary(SIGMOID, x)


def relu(x: Any) -> Any:
    """max(x, 0), elementwise; relu'(0) = 0."""
    return _unary(RELU, x)


def softplus(x: Any) -> Any:
    """log(1 + e**x), elementwise."""
    return _unary(SOFTPLUS, x)


def gelu(x: Any, approximate: str = "tanh") -> Any:
    """GELU: with approximate="tanh" (the default) PyTorch's tanh approximation, with "none" the
    exact 0.5 x (1 + erf(x / sqrt(2)))."""
    if approximate == "tanh":
        return _unary(GELU, x)
    if approximate == "none":
        return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
    raise ShapeError(f'gelu: approximate must be "tanh" or "none", got {approximate!r}')


def square(x: Any) -> Any:
    """x * x, elementwise."""
    return multiply(x, x)


def reciprocal(x: Any) -> Any:
    """1 / x, elementwise."""
    return divide(1.0, x)


def log1p(x: Any) -> Any:
    """log(1 + x), elementwise, exact for tiny x."""
    return _unary(LOG1P, x)


def expm1(x: Any) -> Any:
    """e**x - 1, elementwise, exact for tiny x."""
    return _unary(EXPM1, x)


def erf(x: Any) -> Any:
    """The error function, elementwise."""
    return _unary(ERF, x)


def tan(x: Any) -> Any:
    """Tangent, elementwise."""
    return _unary(TAN, x)


def arctan(x: Any) -> Any:
    """Inverse tangent, elementwise."""
    return _unary(ARCTAN, x)


def sinh(x: Any) -> Any:
    """Hyperbolic sine, elementwise."""
    return _unary(SINH, x)


def cosh(x: Any) -> Any:
    """Hyperbolic cosine, elementwise."""
    return _unary(COSH, x)


def floor(x: Any) -> Any:
    """The largest integer <= x, elementwise (in x's dtype)."""
    return _unary(FLOOR, x)


def ceil(x: Any) -> Any:
    """The smallest integer >= x, elementwise (in x's dtype)."""
    return _unary(CEIL, x)


def round(x: Any) -> Any:  # noqa: A001 - NumPy's name
    """The nearest integer, halves to even, elementwise (in x's dtype)."""
    return _unary(ROUND, x)


def arctan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y), elementwise, as NumPy's arctan2(y, x)."""
    return _binary_op(ARCTAN2, y, x)


def hypot(x: Any, y: Any) -> Any:
    """sqrt(x**2 + y**2), elementwise, without overflow."""
    return _binary_op(HYPOT, x, y)


def logaddexp(x: Any, y: Any) -> Any:
    """log(e**x + e**y), elementwise, without overflow."""
    return _binary_op(LOGADDEXP, x, y)


def mod(x: Any, y: Any) -> Any:
    """The remainder of x / y with the sign of y, elementwise (Python's %)."""
    return _binary_op(MOD, x, y)


def leaky_relu(x: Any, slope: float = 0.01) -> Any:
    """x where x > 0, else slope * x."""
    if not is_number(slope):
        raise ShapeError(f"leaky_relu: slope must be a number, got {slope!r}")
    return _unary(LEAKY_RELU, x, slope=float(slope))


def clip(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """x limited to [lo, hi] (either may be None); the gradient passes where lo <= x <= hi."""
    for bound in (lo, hi):
        if bound is not None and not is_number(bound):
            raise ShapeError(f"clip: bounds must be numbers or None, got {bound!r}")
    lo = None if lo is None else lo.item() if isinstance(lo, np.generic) else lo
    hi = None if hi is None else hi.item() if isinstance(hi, np.generic) else hi
    (x,) = lift(x)
    bounds = [b for b in (lo, hi) if b is not None]
    if x.dtype.kind in "iu" and bounds:
        if any(isinstance(b, float) and not b.is_integer() for b in bounds):
            # A fractional bound makes the result float, as x + 2.5 would be (NumPy, PyTorch).
            x = cast(x, result_type(x.dtype, *(float(b) for b in bounds)))
        else:  # a bound beyond the dtype's range clamps nothing on its side
            info = np.iinfo(x.dtype)
            lo = None if lo is None else int(min(max(lo, info.min), info.max))
            hi = None if hi is None else int(min(max(hi, info.min), info.max))
    return _unary(CLIP, x, lo=lo, hi=hi)


def cast(x: Any, dtype: Any) -> Any:
    """x converted to `dtype`."""
    return _unary(CAST, x, dtype=as_dtype(dtype))


def stop_gradient(x: Any) -> Any:
    """x, through which no gradient flows."""
    return _unary(STOP_GRADIENT, x)


def add(x: Any, y: Any) -> Any:
    """x + y."""
    return _binary_op(ADD, x, y)


def subtract(x: Any, y: Any) -> Any:
    """x - y."""
    return _binary_op(SUBTRACT, x, y)


def multiply(x: Any, y: Any) -> Any:
    """x * y."""
    return _binary_op(MULTIPLY, x, y)


def divide(x: Any, y: Any) -> Any:
    """x / y, true division."""
    return _binary_op(DIVIDE, x, y)


def pow(x: Any, y: Any) -> Any:  # noqa: A001 - the API's name
    """x ** y."""
    return _binary_op(POW, x, y)


def maximum(x: Any, y: Any) -> Any:
    """The larger of x and y, elementwise; ties split the gradient."""
    return _binary_op(MAXIMUM, x, y)


def minimum(x: Any, y: Any) -> Any:
    """The smaller of x and y, elementwise; ties split the gradient."""
    return _binary_op(MINIMUM, x, y)


def less(x: Any, y: Any) -> Any:
    """x < y (bool)."""
    return _binary_op(LESS, x, y)


def less_equal(x: Any, y: Any) -> Any:
    """x <= y (bool)."""
    return _binary_op(LESS_EQUAL, x, y)


def greater(x: Any, y: Any) -> Any:
    """x > y (bool)."""
    return _binary_op(GREATER, x, y)


def greater_equal(x: Any, y: Any) -> Any:
    """x >= y (bool)."""
    return _binary_op(GREATER_EQUAL, x, y)


def equal(x: Any, y: Any) -> Any:
    """x == y (bool)."""
    return _binary_op(EQUAL, x, y)


def not_equal(x: Any, y: Any) -> Any:
    """x != y (bool)."""
    return _binary_op(NOT_EQUAL, x, y)


def logical_and(x: Any, y: Any) -> Any:
    """x & y, on bool tensors."""
    return _binary_op(LOGICAL_AND, x, y)


def logical_or(x: Any, y: Any) -> Any:
    """x | y, on bool tensors."""
    return _binary_op(LOGICAL_OR, x, y)


def logical_not(x: Any) -> Any:
    """~x, on a bool tensor."""
    return _unary(LOGICAL_NOT, x)


def where(c: Any, x: Any, y: Any) -> Any:
    """x where `c` is true, else y (all three broadcast together)."""
    if c is None:  # NumPy reads None as false; here it is taken for the mistake it likely is
        raise DTypeError("where: the condition is None; expected a boolean tensor or array")
    x, y = promote(x, y)
    (c,) = lift(c if is_tensor(c) else np.asarray(c, dtype=bool))
    return apply(WHERE, (c, x, y))
