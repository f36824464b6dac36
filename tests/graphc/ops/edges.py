"""Edge values for every elementwise and reduction op: the inputs, the ops, and their PyTorch twins.

Each elementwise op is evaluated at every edge value (0, -0, +-1, subnormal and tiny numbers,
huge numbers, +-inf, NaN and a few ordinary ones), binary ops at every pair; for each, the value,
the first derivative and the second (both of them elementwise: gradients of sums). Reductions
see rows made of edge values (ties, infinities, NaN). `TORCH` names the PyTorch function computing
the same thing, for the comparison made when PyTorch is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import graphc as gc

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, 5e-324, -5e-324, 1e-310, 2.3e-308, 1e-30, 30.0, -30.0,
         100.0, -100.0, 800.0, -800.0, 1e300, -1e300, 1.7976931348623157e308, np.inf, -np.inf, np.nan]


def edges(dtype: str) -> np.ndarray:
    """The edge values in `dtype` (float32 rounds the smallest to 0 and the largest to inf, which
    are edges too)."""
    with np.errstate(over="ignore"):
        return np.array(EDGES, dtype=dtype)


def pairs(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (x, y) pair of edge values, as two flat arrays."""
    e = edges(dtype)
    return np.repeat(e, len(e)), np.tile(e, len(e))


UNARY: dict[str, Callable[[Any], Any]] = {
    "negative": gc.negative, "exp": gc.exp, "log": gc.log, "sqrt": gc.sqrt, "abs": gc.abs, "sign": gc.sign,
    "sin": gc.sin, "cos": gc.cos, "tanh": gc.tanh, "sigmoid": gc.sigmoid, "relu": gc.relu,
    "softplus": gc.softplus, "gelu": gc.gelu, "leaky_relu": lambda x: gc.leaky_relu(x, 0.2),
    "clip": lambda x: gc.clip(x, -1.0, 2.0), "stop_gradient": gc.stop_gradient,
    "square": lambda x: x**2, "cube": lambda x: x**3, "pow_half": lambda x: x**0.5, "pow_zero": lambda x: x**0.0,
    "reciprocal": lambda x: 1.0 / x, "cast_f32": lambda x: gc.cast(x, "float32"),
    "log1p": gc.log1p, "expm1": gc.expm1, "erf": gc.erf, "tan": gc.tan, "arctan": gc.arctan, "sinh": gc.sinh,
    "cosh": gc.cosh, "floor": gc.floor, "ceil": gc.ceil, "round": gc.round,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": gc.add, "subtract": gc.subtract, "multiply": gc.multiply, "divide": gc.divide, "pow": gc.pow,
    "maximum": gc.maximum, "minimum": gc.minimum,
    "where": lambda x, y: gc.where(x > y, x, y),
    "arctan2": gc.arctan2, "hypot": gc.hypot, "logaddexp": gc.logaddexp, "mod": gc.mod,
}
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "less": gc.less, "less_equal": gc.less_equal, "greater": gc.greater, "greater_equal": gc.greater_equal,
    "equal": gc.equal, "not_equal": gc.not_equal,
}
# Rows of edge values for reductions over the last axis.
ROWS = [[1.0, 2.0, 3.0], [2.0, 2.0, 1.0], [0.0, -0.0, 0.0], [np.inf, 1.0, 2.0], [-np.inf, -np.inf, -np.inf],
        [np.inf, np.inf, 1.0], [np.nan, 1.0, 2.0], [1e300, 1e300, -1e300], [-800.0, -800.0, -801.0],
        [800.0, 1.0, 799.0], [np.inf, -np.inf, 0.0], [5e-324, 0.0, -5e-324]]
REDUCE: dict[str, Callable[[Any], Any]] = {
    "sum": lambda x: gc.sum(x, axis=1), "mean": lambda x: gc.mean(x, axis=1), "max": lambda x: gc.max(x, axis=1),
    "min": lambda x: gc.min(x, axis=1), "logsumexp": lambda x: gc.logsumexp(x, axis=1),
    "softmax": lambda x: gc.softmax(x, 1), "log_softmax": lambda x: gc.log_softmax(x, 1),
}


def torch_twins(torch: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The PyTorch functions computing UNARY, BINARY and REDUCE (same order of keys)."""
    F = torch.nn.functional
    unary = {
        "negative": torch.neg, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs,
        "sign": torch.sign, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "relu": torch.relu, "softplus": F.softplus, "gelu": lambda x: F.gelu(x, approximate="tanh"),
        "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "clip": lambda x: torch.clamp(x, -1.0, 2.0),
        "stop_gradient": lambda x: x.detach(), "square": lambda x: x**2, "cube": lambda x: x**3,
        "pow_half": lambda x: x**0.5, "pow_zero": lambda x: x**0.0, "reciprocal": lambda x: 1.0 / x,
        "cast_f32": lambda x: x.to(torch.float32),
        "log1p": torch.log1p, "expm1": torch.expm1, "erf": torch.erf, "tan": torch.tan, "arctan": torch.atan,
        "sinh": torch.sinh, "cosh": torch.cosh, "floor": torch.floor, "ceil": torch.ceil, "round": torch.round,
    }
    binary = {
        "add": torch.add, "subtract": torch.sub, "multiply": torch.mul, "divide": torch.div, "pow": torch.pow,
        "maximum": torch.maximum, "minimum": torch.minimum, "where": lambda x, y: torch.where(x > y, x, y),
        "arctan2": torch.atan2, "hypot": torch.hypot, "logaddexp": torch.logaddexp, "mod": torch.remainder,
    }
    reduce = {
        "sum": lambda x: torch.sum(x, 1), "mean": lambda x: torch.mean(x, 1), "max": lambda x: torch.amax(x, 1),
        "min": lambda x: torch.amin(x, 1), "logsumexp": lambda x: torch.logsumexp(x, 1),
        "softmax": lambda x: torch.softmax(x, 1), "log_softmax": lambda x: torch.log_softmax(x, 1),
    }
    return unary, binary, reduce


# Where graphc differs from PyTorch at edge values, on purpose (docs/conventions.md says why):
# (op, result) -> the inputs where they differ. Every other result agrees.
DIFFERS_FROM_TORCH: dict[tuple[str, str], str] = {
    ("abs", "d1"): "NaN: graphc NaN (g * sign(x)), PyTorch 0",
    ("sign", "value"): "NaN: graphc NaN (as NumPy and JAX), PyTorch 0",
    ("softplus", "d2"): "x > 20: graphc sigmoid'(x) (tiny, exact), PyTorch 0 (its softplus is x above 20)",
    ("pow", "value"): "y = +-0.5 at x = -inf or -0: graphc sqrt(x) or 1 / sqrt(x) (PyTorch's own x ** 0.5), "
                      "torch.pow with a tensor exponent C's pow",
    ("pow", "dx"): "y = 0.5 at x = -inf or -0: the same rule, through x ** -0.5",
    ("pow", "dy"): "y = -0.5 at x = -0: the same rule (the value's sign)",
    ("pow", "dxx"): "y = 0 (and x = 0): graphc 0 (its masked branches are safe, JAX's double where), PyTorch NaN",
    ("pow", "dyy"): "x = 0, y >= 0: graphc 0 (double where), PyTorch NaN",
    ("erf", "d2"): "x = +inf: graphc -0 (the limit), PyTorch NaN",
    ("mod", "value"): "subnormal y: graphc as NumPy (1 % 5e-324 = 0), PyTorch NaN (x - y * floor(x / y) overflows)",
    ("mod", "dy"): "y = +-inf: graphc -floor(x / y) = 0, PyTorch -(x // y) = +-1",
    ("mod", "dyy"): "x = y = 0: graphc NaN (the first derivative is), PyTorch 0",
}
