"""Test inputs for every op of the registry; `test_registry_is_covered` keeps this complete.

A case builds one node whose op is the op under test from placeholders of the given kinds:
  real      standard normal
  positive  in [0.5, 2]           (log, sqrt, pow's base, divisors)
  away      |x| in [0.2, 1.5]     (away from kinks at 0)
  distinct  well-separated values (no ties in max/min/maximum)
  bool, int:N (labels in [0, N))
Inputs of float kinds are float64 and differentiable; the others are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import graphc as gc
from graphc.builder import apply
from graphc.checkpointing import BARRIER
from graphc.ops.conv import CONV2D_FILTER_GRAD, POOL_ARGMAX
from graphc.ops.linalg import MATMUL
from graphc.ops.shape import SCATTER_ADD, SCATTER_INDEX

FLOAT_KINDS = ("real", "positive", "away", "distinct", "clipped")


@dataclass(frozen=True)
class Case:
    op: str
    build: Callable[..., Any]
    inputs: tuple[tuple[tuple[int, ...], str], ...]
    label: str = ""

    @property
    def id(self) -> str:
        shapes = "_".join("x".join(map(str, s)) or "scalar" for s, _ in self.inputs)
        return f"{self.op}-{self.label or shapes}"


def make_value(shape: tuple[int, ...], kind: str, rng: np.random.Generator) -> np.ndarray:
    """A float64/bool/int64 array of `kind`."""
    if kind == "real":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "away":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.5, shape)
    if kind == "distinct":
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(-0.05, 0.05, n)).reshape(shape)
    if kind == "clipped":  # away from the clip bounds +-0.5
        return rng.choice([-1.0, 1.0], shape) * rng.choice([0.2, 0.3, 0.8, 1.1], shape)
    if kind == "bool":
        return rng.random(shape) < 0.5
    if kind.startswith("int:"):
        return rng.integers(0, int(kind[4:]), shape).astype(np.int64)
    raise ValueError(kind)


def placeholder_for(shape: tuple[int, ...], kind: str, i: int) -> Any:
    dtype = "float64" if kind in FLOAT_KINDS else ("bool" if kind == "bool" else "int64")
    return gc.placeholder(shape, dtype, name=f"in{i}")


def _unary(op: str, fn: Callable[..., Any], kind: str = "real") -> list[Case]:
    return [Case(op, fn, ((s, kind),)) for s in [(), (3,), (2, 3)]]


BROADCASTS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3))]


def _binary(op: str, fn: Callable[..., Any], kx: str = "real", ky: str = "real") -> list[Case]:
    return [Case(op, fn, ((a, kx), (b, ky))) for a, b in BROADCASTS]


def _compare(op: str, fn: Callable[..., Any]) -> list[Case]:
    return [Case(op, fn, ((a, "real"), (b, "real"))) for a, b in BROADCASTS[:2]]


def _reductions(op: str, fn: Callable[..., Any], kind: str) -> list[Case]:
    out = []
    for axis, keep in [(None, False), (1, False), ((0, 2), True), (-1, True)]:
        out.append(Case(op, lambda x, a=axis, k=keep: fn(x, a, k), (((2, 3, 4), kind),), f"axis{axis}-keep{keep}"))
    return out


CASES: list[Case] = [
    *_unary("negative", gc.negative),
    *_unary("exp", gc.exp),
    *_unary("log", gc.log, "positive"),
    *_unary("sqrt", gc.sqrt, "positive"),
    *_unary("abs", gc.abs, "away"),
    *_unary("sign", gc.sign, "away"),
    *_unary("sin", gc.sin),
    *_unary("cos", gc.cos),
    *_unary("tanh", gc.tanh),
    *_unary("sigmoid", gc.sigmoid),
    *_unary("relu", gc.relu, "away"),
    *_unary("softplus", gc.softplus),
    *_unary("gelu", gc.gelu),
    *_unary("log1p", gc.log1p, "positive"),
    *_unary("expm1", gc.expm1),
    *_unary("erf", gc.erf),
    *_unary("tan", gc.tan, "clipped"),
    *_unary("arctan", gc.arctan),
    *_unary("sinh", gc.sinh),
    *_unary("cosh", gc.cosh),
    *_unary("floor", gc.floor, "clipped"),
    *_unary("ceil", gc.ceil, "clipped"),
    *_unary("round", gc.round, "clipped"),
    *_unary("leaky_relu", lambda x: gc.leaky_relu(x, 0.1), "away"),
    *_unary("clip", lambda x: gc.clip(x, -0.5, 0.5), "clipped"),
    *_unary("clip", lambda x: gc.clip(x, None, 0.5), "clipped"),  # one bound
    *_unary("clip", lambda x: gc.clip(x, None, None)),  # none: the identity (its gradient was 0)
    *_unary("cast", lambda x: gc.cast(x, "float64")),
    *_unary("stop_gradient", gc.stop_gradient),
    Case("logical_not", gc.logical_not, (((2, 3), "bool"),)),
    *_binary("add", gc.add),
    *_binary("subtract", gc.subtract),
    *_binary("multiply", gc.multiply),
    *_binary("divide", gc.divide, "real", "positive"),
    *_binary("pow", gc.pow, "positive", "real"),
    *_binary("arctan2", gc.arctan2, "away", "away"),
    *_binary("hypot", gc.hypot, "away", "away"),
    *_binary("logaddexp", gc.logaddexp),
    *_binary("mod", gc.mod, "clipped", "positive"),
    *_binary("maximum", gc.maximum, "distinct", "distinct"),
    *_binary("minimum", gc.minimum, "distinct", "distinct"),
    *_compare("less", gc.less),
    *_compare("less_equal", gc.less_equal),
    *_compare("greater", gc.greater),
    *_compare("greater_equal", gc.greater_equal),
    *_compare("equal", gc.equal),
    *_compare("not_equal", gc.not_equal),
    Case("logical_and", gc.logical_and, (((2, 3), "bool"), ((3,), "bool"))),
    Case("logical_or", gc.logical_or, (((2, 3), "bool"), ((3,), "bool"))),
    Case("where", gc.where, (((2, 3), "bool"), ((2, 3), "real"), ((3,), "real"))),
    Case("where", gc.where, (((3,), "bool"), ((2, 1), "real"), ((), "real"))),
    *_reductions("sum", gc.sum, "real"),
    *_reductions("max", gc.max, "distinct"),
    *_reductions("min", gc.min, "distinct"),
    *_reductions("logsumexp", gc.logsumexp, "real"),
    *_reductions("prod", gc.prod, "away"),
    Case("argmax", lambda x: gc.argmax(x, 1), (((3, 4), "distinct"),)),
    Case("argmax", lambda x: gc.argmax(x), (((3, 4), "distinct"),), "flat"),
    Case("matmul", gc.matmul, (((2, 3), "real"), ((3, 4), "real"))),
    Case("matmul", lambda a, b: apply(MATMUL, (a, b)), (((2, 2, 3), "real"), ((3, 4), "real")), "batch-by-matrix"),
    Case("matmul", gc.matmul, (((2, 3), "real"), ((2, 3, 4), "real"))),
    Case("matmul", gc.matmul, (((2, 1, 2, 3), "real"), ((3, 3, 2), "real"))),
    Case("reshape", lambda x: gc.reshape(x, (3, -1)), (((2, 3, 2), "real"),)),
    Case("reshape", lambda x: gc.reshape(x, ()), (((1, 1), "real"),)),
    Case("transpose", gc.transpose, (((2, 3, 4), "real"),)),
    Case("transpose", lambda x: gc.transpose(x, (1, 0, 2)), (((2, 3, 4), "real"),), "perm102"),
    Case("broadcast_to", lambda x: gc.broadcast_to(x, (2, 3)), (((3,), "real"),)),
    Case("broadcast_to", lambda x: gc.broadcast_to(x, (4, 2, 3)), (((2, 1), "real"),)),
    Case("concatenate", lambda *xs: gc.concatenate(xs, 0), (((2, 3), "real"), ((1, 3), "real"))),
    Case("concatenate", lambda *xs: gc.concatenate(xs, -1), (((2, 1), "real"), ((2, 3), "real"), ((2, 2), "real"))),
    Case("index", lambda x: x[1], (((3, 4), "real"),), "int"),
    Case("index", lambda x: x[:, 1:3], (((3, 4), "real"),), "slice"),
    Case("index", lambda x: x[::-2, -1], (((5, 4), "real"),), "negative-step"),
    Case("index", lambda x: x[..., 0], (((2, 3, 4), "real"),), "ellipsis"),
    Case("scatter_index", lambda x: apply(SCATTER_INDEX, (x,), shape=(4, 3), key=((1, 3, 1),)), (((2, 3), "real"),)),
    Case("take", lambda x, i: gc.take(x, i, 1), (((3, 4), "real"), ((2, 3), "int:4"))),
    Case("take", lambda x: gc.take(x, np.array([-1, 0, 2, 0])), (((3, 2), "real"),), "negative-repeated"),
    Case("take", lambda x: x[:, [2, 0, 2]], (((2, 3, 2), "real"),), "getitem"),
    Case("scatter_add", lambda g, i: apply(SCATTER_ADD, (g, i), axis=1, size=4), (((2, 5), "real"), ((5,), "int:4"))),
    Case("one_hot", lambda y: gc.one_hot(y, 5), (((4,), "int:5"),)),
    Case("softmax", gc.softmax, (((3, 4), "real"),)),
    Case("softmax", lambda x: gc.softmax(x, 0), (((3, 4), "real"),), "axis0"),
    Case("log_softmax", gc.log_softmax, (((3, 4), "real"),)),
    Case("log_softmax", lambda x: gc.log_softmax(x, 0), (((3, 4), "real"),), "axis0"),
    Case("softmax_cross_entropy", gc.softmax_cross_entropy, (((4, 5), "real"), ((4,), "int:5"))),
    Case("softmax_cross_entropy", gc.softmax_cross_entropy, (((2, 3, 5), "real"), ((2, 3), "int:5"))),
    Case("conv2d", gc.conv2d, (((2, 2, 5, 5), "real"), ((3, 2, 3, 3), "real"))),
    Case("conv2d", lambda x, w: gc.conv2d(x, w, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
         (((1, 4, 6, 5), "real"), ((4, 2, 2, 3), "real")), "strided-padded-dilated-grouped"),
    Case("conv_transpose2d", lambda y, w: gc.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1),
         (((2, 2, 3, 3), "real"), ((2, 3, 3, 2), "real"))),
    Case("conv_transpose2d", lambda y, w: gc.conv_transpose2d(y, w, groups=2, dilation=(2, 1)),
         (((1, 4, 3, 2), "real"), ((4, 1, 2, 2), "real")), "grouped-dilated"),
    # output_padding at or above the stride (allowed below the dilation): conv2d of the output
    # gradient reaches past the input, and the gradients cut or pad to fit.
    Case("conv_transpose2d", lambda y, w: gc.conv_transpose2d(y, w, padding=(1, 0), output_padding=(2, 1), dilation=(3, 2)),
         (((1, 2, 3, 3), "real"), ((2, 2, 2, 2), "real")), "output-padding-past-stride"),
    Case("conv2d_filter_grad", lambda x, g: apply(CONV2D_FILTER_GRAD, (x, g), kernel=(3, 2), stride=(1, 2),
                                                  padding=(1, 1), dilation=(1, 1), groups=1),
         (((2, 2, 4, 5), "real"), ((2, 3, 4, 3), "real"))),
    Case("pool_argmax", lambda x: apply(POOL_ARGMAX, (x,), kernel=(2, 2), stride=(2, 1)), (((2, 2, 5, 4), "distinct"),)),
    Case("barrier", lambda x, s: apply(BARRIER, (x, s)), (((2, 3), "real"), ((), "int:3"))),
    Case("checkpoint", lambda x, w: gc.checkpoint(lambda a: gc.tanh(a @ w) * a[:, :1], x), (((2, 3), "real"), ((3, 3), "real"))),
    # A loop's results are read through loop_output (the loop node itself is a tuple: no output of
    # its own): the case covers both ops. Its body reads a captured weight, a carry and a slice.
    Case("loop_output", lambda h, xs, w: gc.scan(lambda c, x: (gc.tanh(c @ w + x), c * x), h, xs)[1],
         (((2, 3), "real"), ((4, 2, 3), "real"), ((3, 3), "real"))),
    # A cond's results likewise, through cond_output; each case's predicate always picks one
    # branch (sum of squares >= 0), the other holding what would differ. Both read a captured weight.
    Case("cond_output", lambda x, w: gc.cond(gc.sum(w * w) >= 0.0, lambda a: gc.tanh(a @ w) * a, lambda a: gc.exp(a), x),
         (((2, 3), "real"), ((3, 3), "real")), "true"),
    Case("cond_output", lambda x, w: gc.cond(gc.sum(w * w) < 0.0, lambda a: gc.exp(a), lambda a: gc.sin(a @ w) * a, x),
         (((2, 3), "real"), ((3, 3), "real")), "false"),
    Case("random_normal", lambda: gc.random_normal((3, 4), seed=1, dtype="float64"), ()),
    Case("random_uniform", lambda: gc.random_uniform((3, 4), seed=1), ()),
    Case("full", lambda: gc.ops.full((2, 3), 1.5, "float64"), ()),
    Case("constant", lambda: gc.constant(np.arange(6.0).reshape(2, 3)), ()),
    Case("placeholder", lambda: gc.placeholder((2, 3), name="p"), ()),
    Case("variable", lambda: gc.variable(np.ones((2, 3)), name="v"), ()),
]
