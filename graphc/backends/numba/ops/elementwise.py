"""Numba lowerings of the elementwise ops: each a scalar expression of its inputs' scalar
expressions (`c` gives typed constants and casts to the output dtype). Such ops fuse into loop
nests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ....ops import elementwise
from ....ops.elementwise import GELU_C, GELU_K
from ..emit import Scalar, dtype_name, exp_of
from ..lowerings import Rule, register_scalar


def _pow_scalar(c: Scalar, x: str, y: str) -> str:
    if c.out.kind in "iu":
        unit = f"(1 if {x} == 1 else ((1 if {y} % 2 == 0 else -1) if {x} == -1 else 0))"
        return f"({x} ** {y} if {y} >= 0 else {unit})"
    x, y = c.cast(x, 0), c.cast(y, 1)
    # C's pow, but y = +-0.5 are sqrt(x) and 1 / sqrt(x), as the reference (`_pow_ref`) says.
    root = f"np.sqrt({x})"
    return f"({root} if {y} == {c.k(0.5)} else ({c.k(1)} / {root} if {y} == {c.k(-0.5)} else {x} ** {y}))"


def _sign_scalar(c: Scalar, x: str) -> str:
    # Numba's np.sign of an unsigned integer wraps -1 around (sign(u8 200) = 255): compare.
    if c.out.kind == "u":
        return f"{x} > 0"
    if c.out.kind == "i":
        t = dtype_name(c.out)
        return f"{t}({x} > 0) - {t}({x} < 0)"
    # sign(-0.0) is +0.0 (as NumPy and PyTorch; Numba's np.sign gives -0.0), NaN stays NaN.
    return f"({c.k(1)} if {x} > 0 else ({c.k(-1)} if {x} < 0 else ({c.k(0)} if {x} == 0 else {x})))"


def _cast_scalar(c: Scalar, x: str, dtype: np.dtype) -> str:
    """A conversion; float to int as NumPy's (`helpers.int32_of`...), the result then cast to
    `dtype` (truncated where narrower)."""
    if dtype == np.bool_:
        return f"{x} != 0"
    if c.ins[0].kind != "f" or dtype.kind not in "iu":
        return x
    return f"int64_of({x})" if dtype == np.int64 else f"int32_of({x})"


def _sigmoid_scalar(c: Scalar, x: str) -> str:
    x = c.cast(x, 0)
    # 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|): the numerator chosen before the
    # one division (a loop of selects divides once per element, not twice), rounded as written.
    e, one = exp_of(f"-abs({x})", c.out), c.k(1)
    return f"({one} if {x} >= 0 else {e}) / ({one} + {e})"


def _tanh_scalar(c: Scalar, x: str) -> str:
    # float32 uses the vectorizing helper (graphc.backends.numba.helpers.tanh_f32, 1.3 ulp).
    return f"tanh_f32({x})" if c.out == np.float32 else f"np.tanh({x})"


def _softplus_scalar(c: Scalar, x: str) -> str:
    # NumPy's logaddexp(0, x), branch for branch.
    x = c.cast(x, 0)
    return (
        f"{c.k(math.log(2.0))} if {x} == 0 else (np.log1p({exp_of(x, c.out)}) if {x} < 0 else"
        f" ({x} + np.log1p({exp_of(f'-{x}', c.out)}) if {x} > 0 else {x}))"
    )


def _gelu_scalar(c: Scalar, x: str) -> str:
    x = c.cast(x, 0)
    cube = f"({x} * {x} * {x})"
    return f"{c.k(0.5)} * {x} * ({c.k(1)} + {_tanh_scalar(c, f'{c.k(GELU_K)} * ({x} + {c.k(GELU_C)} * {cube})')})"


def _clip_scalar(c: Scalar, x: str, lo: Any, hi: Any) -> str:
    if lo is not None:
        x = f"np.maximum({x}, {c.k(lo)})"
    if hi is not None:
        x = f"np.minimum({x}, {c.k(hi)})"
    return x


def _erf_scalar(c: Scalar, x: str) -> str:
    # In float64 and rounded, whatever the width: the reference's value to the last bit.
    return f"{dtype_name(c.out)}(math.erf(f64({x})))"


def _integral_scalar(fn: str) -> Rule:
    # floor, ceil, round: the identity on integers (as PyTorch), NumPy's function on floats.
    return lambda c, x: x if c.out.kind in "iu" else f"np.{fn}({x})"


SCALARS: dict[Any, Rule] = {
    elementwise.NEGATIVE: lambda c, x: f"-{x}",
    elementwise.EXP: lambda c, x: exp_of(c.cast(x, 0), c.out),
    elementwise.LOG: lambda c, x: f"np.log({c.cast(x, 0)})",
    elementwise.SQRT: lambda c, x: f"np.sqrt({c.cast(x, 0)})",
    elementwise.ABS: lambda c, x: f"abs({x})",
    elementwise.SIGN: _sign_scalar,
    elementwise.SIN: lambda c, x: f"np.sin({c.cast(x, 0)})",
    elementwise.COS: lambda c, x: f"np.cos({c.cast(x, 0)})",
    elementwise.TANH: lambda c, x: _tanh_scalar(c, c.cast(x, 0)),
    elementwise.SIGMOID: _sigmoid_scalar,
    elementwise.RELU: lambda c, x: f"np.maximum({x}, {c.k(0)})",
    elementwise.SOFTPLUS: _softplus_scalar,
    elementwise.GELU: _gelu_scalar,
    elementwise.LOG1P: lambda c, x: f"np.log1p({c.cast(x, 0)})",
    elementwise.EXPM1: lambda c, x: f"np.expm1({c.cast(x, 0)})",
    elementwise.ERF: _erf_scalar,
    elementwise.TAN: lambda c, x: f"np.tan({c.cast(x, 0)})",
    elementwise.ARCTAN: lambda c, x: f"np.arctan({c.cast(x, 0)})",
    elementwise.SINH: lambda c, x: f"np.sinh({c.cast(x, 0)})",
    elementwise.COSH: lambda c, x: f"np.cosh({c.cast(x, 0)})",
    elementwise.FLOOR: _integral_scalar("floor"),
    elementwise.CEIL: _integral_scalar("ceil"),
    elementwise.ROUND: _integral_scalar("rint"),
    elementwise.LEAKY_RELU: lambda c, x, slope: f"{c.cast(x, 0)} if {x} > 0 else {c.cast(x, 0)} * {c.k(slope)}",
    elementwise.CLIP: _clip_scalar,
    elementwise.CAST: _cast_scalar,
    elementwise.STOP_GRADIENT: lambda c, x: x,
    elementwise.LOGICAL_NOT: lambda c, x: f"not {x}",
    elementwise.ADD: lambda c, x, y: f"{x} + {y}",
    elementwise.SUBTRACT: lambda c, x, y: f"{x} - {y}",
    elementwise.MULTIPLY: lambda c, x, y: f"{x} * {y}",
    elementwise.DIVIDE: lambda c, x, y: f"{c.cast(x, 0)} / {c.cast(y, 1)}",
    elementwise.POW: _pow_scalar,
    elementwise.ARCTAN2: lambda c, y, x: f"np.arctan2({c.cast(y, 0)}, {c.cast(x, 1)})",
    elementwise.HYPOT: lambda c, x, y: f"np.hypot({c.cast(x, 0)}, {c.cast(y, 1)})",
    elementwise.LOGADDEXP: lambda c, x, y: f"np.logaddexp({c.cast(x, 0)}, {c.cast(y, 1)})",
    elementwise.MOD: lambda c, x, y: f"{c.cast(x, 0)} % {c.cast(y, 1)}",
    elementwise.MAXIMUM: lambda c, x, y: f"np.maximum({c.cast(x, 0)}, {c.cast(y, 1)})",
    elementwise.MINIMUM: lambda c, x, y: f"np.minimum({c.cast(x, 0)}, {c.cast(y, 1)})",
    elementwise.LESS: lambda c, x, y: f"{x} < {y}",
    elementwise.LESS_EQUAL: lambda c, x, y: f"{x} <= {y}",
    elementwise.GREATER: lambda c, x, y: f"{x} > {y}",
    elementwise.GREATER_EQUAL: lambda c, x, y: f"{x} >= {y}",
    elementwise.EQUAL: lambda c, x, y: f"{x} == {y}",
    elementwise.NOT_EQUAL: lambda c, x, y: f"{x} != {y}",
    elementwise.LOGICAL_AND: lambda c, x, y: f"{x} & {y}",
    elementwise.LOGICAL_OR: lambda c, x, y: f"{x} | {y}",
    elementwise.WHERE: lambda c, cond, x, y: f"{c.cast(x, 1)} if {cond} else {c.cast(y, 2)}",
}
for _op, _rule in SCALARS.items():
    register_scalar(_op, _rule)
