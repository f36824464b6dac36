"""Random graphc programs as data: drawn from the op library and every way a shape can be made.

A `Program` is a list of inputs (shape, dtype) and a list of `Step`s, each one public graphc
call on earlier values (`Ref(k)` is value k: inputs first, then one value per step). Being data,
a program can be built on placeholders (graph mode) or on eager tensors (define-by-run), shrunk
by deleting steps, and printed as a standalone script.

The generator draws a step by picking a maker (one per kind of call: unary and binary
elementwise with broadcasting, reductions over axis sets with and without keepdims, indexing
with ints, slices, steps and None, reshapes to and from size-1 axes, broadcasts along leading,
middle and trailing axes, transposes, concatenate and stack, matmul in every rank, softmax and
cross-entropy, integer and boolean paths, casts, deep stacks of equal layers, gathers with
integer arrays, einsum, triangles, layer norm, dropout, convolutions and pooling of 4-D views)
and trying it on
symbolic values; a call that
graphc refuses (a ShapeError) is simply not kept. Ops with a restricted domain (log, sqrt, pow,
divide) are mostly applied to arguments made safe first, so that values stay finite and the
comparisons between executors mean something.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import graphc as gc
from graphc.recipes import replayable

MAX_SIZE = 240  # elements per value: small enough to compile and run many programs


@dataclass(frozen=True)
class Ref:
    """Value number `k` of a program (its inputs first, then one value per step)."""

    k: int

    def __repr__(self) -> str:
        return f"v{self.k}"


@dataclass
class Step:
    """`fn(*args, **kwargs)`, `fn` a name in FUNCTIONS, args refs or literals."""

    fn: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def refs(self) -> list[int]:
        return [a.k for a in _walk(self.args) if isinstance(a, Ref)]


def _walk(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _walk(v)]
    return [value]


@dataclass
class Program:
    """Inputs (shape, dtype name), steps, and the values whose weighted sums make the loss."""

    inputs: list[tuple[tuple[int, ...], str]]
    steps: list[Step]
    loss_terms: list[int]
    seed: int = 0
    train: bool = False  # the first float input is a variable, updated by SGD on the loss

    def n_values(self) -> int:
        return len(self.inputs) + len(self.steps)

    @property
    def float_dtype(self) -> str:
        """The program's float width: float32 programs are compared at float32 tolerances."""
        return "float32" if any(dt == "float32" for _, dt in self.inputs) else "float64"


def weight(shape: tuple[int, ...], salt: int) -> np.ndarray:
    """A fixed, varied float64 array of `shape` (the loss's weights, second-order directions)."""
    n = math.prod(shape)
    return (np.cos(np.arange(n) * 1.7 + salt) + 0.25).reshape(shape)


def _getitem(x: Any, key: Any) -> Any:
    return x[key]


def _binary(op: str) -> Callable[[Any, Any], Any]:
    return {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b, "**": lambda a, b: a ** b, "@": lambda a, b: a @ b,
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    }[op]


# Every call a step may make, by the name printed in scripts.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{f"gc.{name}": getattr(gc, name) for name in (
        "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "gelu",
        "leaky_relu", "clip", "negative", "sign", "stop_gradient", "cast", "maximum", "minimum",
        "where", "pow", "add", "subtract", "multiply", "divide", "logical_and", "logical_or",
        "logical_not", "sum", "mean", "max", "min", "logsumexp", "argmax", "reshape", "transpose",
        "broadcast_to", "concatenate", "stack", "one_hot", "matmul", "softmax", "log_softmax",
        "softmax_cross_entropy", "equal", "less", "greater_equal", "random_normal", "random_uniform",
        "erf", "arctan", "square", "floor", "ceil", "round", "expm1", "log1p", "sinh", "cosh", "tan", "arctan2",
        "hypot", "logaddexp", "mod", "var", "std", "take", "squeeze", "expand_dims", "triu", "tril", "einsum",
        "layer_norm", "dropout", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "scan", "cond", "checkpoint", "flip", "cumsum", "pad", "tile",
        "repeat", "prod", "reciprocal", "swapaxes", "moveaxis")},
    "getitem": _getitem,
    "programs.scan_ys": lambda *a, **k: scan_ys(*a, **k),
    "programs.scan_reading": lambda *a, **k: scan_reading(*a, **k),
    "programs.scan_with_total": lambda *a, **k: scan_with_total(*a, **k),
    "programs.cond_reading": lambda *a, **k: cond_reading(*a, **k),
    "programs.cond_gather": lambda *a, **k: cond_gather(*a, **k),
    "programs.cond_shared": lambda *a, **k: cond_shared(*a, **k),
    "programs.checkpoint_pair": lambda *a, **k: checkpoint_pair(*a, **k),
    **{f"op{o}": _binary(o) for o in ("+", "-", "*", "/", "**", "@", "<", "<=", ">", ">=", "==", "!=")},
}


def call(step: Step, values: list[Any]) -> Any:
    """Run `step` on `values` (symbolic or eager)."""
    def resolve(a: Any) -> Any:
        if isinstance(a, Ref):
            return values[a.k]
        if isinstance(a, list):
            return [resolve(x) for x in a]
        return a

    return FUNCTIONS[step.fn](*(resolve(a) for a in step.args), **step.kwargs)


def run(program: Program, inputs: list[Any]) -> tuple[list[Any], Any]:
    """Every value of `program` built on `inputs`, and its loss (None if it has no float term)."""
    values = list(inputs)
    for step in program.steps:
        values.append(call(step, values))
    return values, loss_of(program, values)


def loss_of(program: Program, values: list[Any]) -> Any:
    """sum_k sum(cast(v_k) * weight_k) over the loss terms: a float64 (or float32) scalar."""
    total = None
    for j, k in enumerate(program.loss_terms):
        v = values[k]
        if v.dtype.kind != "f":
            v = gc.cast(v, "float64")
        term = weighted_sum(v, j)
        total = term if total is None else total + term
    return total


@replayable  # the weights take the value's shape: replayed per size when it is given at call time
def weighted_sum(v: Any, salt: int) -> Any:
    """sum(v * weight(v.shape, salt))."""
    return gc.sum(v * weight(tuple(v.shape), salt).astype(v.dtype))


# Drawing programs.
class _Draw:
    def __init__(self, rng: np.random.Generator, float_dtype: str) -> None:
        self.rng = rng
        self.fdt = float_dtype
        self.values: list[Any] = []  # symbolic values (for shapes and dtypes)

    def pick(self, kind: str | None = None, min_ndim: int = 0) -> int | None:
        """A value index, newer values more likely; of dtype kind `kind` ("f", "i", "b")."""
        ks = [k for k, v in enumerate(self.values)
              if (kind is None or v.dtype.kind == kind or (kind == "i" and v.dtype.kind == "u"))
              and v.ndim >= min_ndim]
        if not ks:
            return None
        w = np.arange(1, len(ks) + 1, dtype=float) ** 1.5
        return int(self.rng.choice(ks, p=w / w.sum()))

    def choice(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def axes(self, ndim: int) -> Any:
        """None, an int (maybe negative) or a tuple of axes."""
        r = self.rng.random()
        if ndim == 0 or r < 0.15:
            return None
        if r < 0.6:
            a = int(self.rng.integers(ndim))
            return a - ndim if self.rng.random() < 0.3 else a
        count = int(self.rng.integers(1, ndim + 1))
        return tuple(sorted(int(a) for a in self.rng.choice(ndim, count, replace=False)))


UNARY_SAFE = ["gc.exp", "gc.sin", "gc.cos", "gc.tanh", "gc.sigmoid", "gc.relu", "gc.softplus",
              "gc.gelu", "gc.abs", "gc.negative", "gc.sign", "gc.stop_gradient", "gc.erf", "gc.arctan",
              "gc.square", "gc.floor", "gc.ceil", "gc.round"]
BOUNDED_UNARY = ["gc.expm1", "gc.sinh", "gc.cosh", "gc.tan"]  # of tanh(x): |tanh| < 1 < pi / 2


def _m_unary(d: _Draw) -> Step | None:
    k = d.pick("f")
    if k is None:
        return None
    r = d.rng.random()
    x = Ref(k)
    if r < 0.55:
        fn = d.choice(UNARY_SAFE)
        if fn == "gc.exp":  # exp of a bounded value
            return Step("gc.exp", (Step("gc.tanh", (x,)),))
        return Step(fn, (x,))
    if r < 0.65:
        return Step("gc.leaky_relu", (x,), {"slope": d.choice([0.01, 0.2, -0.5])})
    if r < 0.75:
        lo, hi = d.choice([(-0.5, 0.5), (None, 0.3), (-1.0, None), (0.0, 1.0)])
        return Step("gc.clip", (x, lo, hi))
    if r < 0.85:  # log, sqrt and reciprocal of a positive value
        fn = d.choice(["gc.log", "gc.sqrt", "gc.reciprocal"])
        return Step(fn, (Step("op+", (Step("gc.abs", (x,)), 0.5)),))
    if r < 0.9:  # a small integer power
        return Step("op**", (x, d.choice([2, 3, 0.5, -1, 0, 1.0])))
    if r < 0.95:
        if d.rng.random() < 0.5:
            return Step(d.choice(BOUNDED_UNARY), (Step("gc.tanh", (x,)),))
        return Step("gc.log1p", (Step("gc.abs", (x,)),))
    return Step("gc.log", (Step("op+", (Step("gc.sigmoid", (x,)), 0.25)),))


def _partner(d: _Draw, k: int) -> Any:
    """A second operand for value k: another value, a scalar, or a constant that broadcasts."""
    x = d.values[k]
    r = d.rng.random()
    if r < 0.2:
        return d.choice([2.0, -0.5, 1.0, 0.0, 3])
    if r < 0.45 and x.ndim:
        # A constant broadcasting along some axes (size 1 there, or leading axes dropped).
        shape = [1 if d.rng.random() < 0.4 else n for n in x.shape]
        drop = int(d.rng.integers(0, x.ndim + 1)) if d.rng.random() < 0.4 else 0
        shape = shape[drop:]
        return weight(tuple(shape), int(d.rng.integers(100))).astype(x.dtype if x.dtype.kind == "f" else d.fdt)
    j = d.pick("f")
    return Ref(j if j is not None else k)


def _m_binary(d: _Draw) -> Step | None:
    k = d.pick("f")
    if k is None:
        return None
    x, y = Ref(k), _partner(d, k)
    if d.rng.random() < 0.5:
        x, y = y, x
    op = d.choice(["op+", "op-", "op*", "op*", "gc.maximum", "gc.minimum", "op/", "safe/", "pow", "where",
                   "gc.logaddexp", "gc.arctan2", "gc.hypot", "mod"])
    if op == "mod":  # by a divisor kept away from zero
        return Step("gc.mod", (x, Step("op+", (Step("gc.abs", (y,)), 0.5))))
    if op == "op/":  # divide by a value kept away from zero
        return Step("op/", (x, Step("op+", (Step("gc.sigmoid", (y,)), 0.5))))
    if op == "safe/":
        return Step("op/", (x, Step("op+", (Step("op*", (y, y)), 1.0))))
    if op == "pow":  # positive base, bounded exponent
        return Step("gc.pow", (Step("op+", (Step("gc.abs", (x,)), 0.5)), Step("gc.tanh", (y,))))
    if op == "where":
        cmp = d.choice(["op<", "op>", "op<=", "op>=", "op==", "op!="])
        return Step("gc.where", (Step(cmp, (x, y)), x, y))
    return Step(op, (x, y))


def _m_reduce(d: _Draw) -> Step | None:
    k = d.pick("f")
    if k is None:
        return None
    x = d.values[k]
    fn = d.choice(["gc.sum", "gc.sum", "gc.mean", "gc.max", "gc.min", "gc.logsumexp", "gc.var", "gc.std", "gc.prod"])
    if x.ndim == 0 and d.rng.random() < 0.5:
        return Step(fn, (Ref(k),))
    kwargs = {"axis": d.axes(x.ndim), "keepdims": bool(d.rng.random() < 0.5)}
    if fn == "gc.std":  # away from a zero deviation, where the derivative is infinite
        return Step(fn, (Step("op+", (Ref(k), _ramp(x)),),), kwargs)
    if fn == "gc.var" and d.rng.random() < 0.3:
        kwargs["ddof"] = 1
    return Step(fn, (Ref(k),), kwargs)


def _ramp(x: Any) -> np.ndarray:
    """Distinct values of x's shape: added to x, they break ties and zero spreads."""
    return (np.arange(x.size, dtype=x.dtype) * x.dtype.type(0.37)).reshape(x.shape)


def _m_softmax(d: _Draw) -> Step | None:
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    axis = int(d.rng.integers(-x.ndim, x.ndim))
    return Step(d.choice(["gc.softmax", "gc.log_softmax"]), (Ref(k),), {"axis": axis})


def _m_xent(d: _Draw) -> Step | None:
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    labels = d.rng.integers(0, x.shape[-1], size=x.shape[:-1]).astype(np.int64)
    return Step("gc.softmax_cross_entropy", (Ref(k), labels))


def _m_index(d: _Draw) -> Step | None:
    k = d.pick(None, min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    key: list[Any] = []
    for n in x.shape:
        r = d.rng.random()
        if r < 0.25:
            key.append(int(d.rng.integers(-n, n)))
        elif r < 0.45:
            key.append(slice(None))
        elif r < 0.75:
            step = d.choice([1, 1, 2, -1, -2, 3])
            a, b = sorted(int(v) for v in d.rng.integers(-n - 1, n + 2, size=2))
            key.append(slice(a, b, step) if step > 0 else slice(b, a, step))
        else:
            key.append(None)
            key.append(slice(None))
        if d.rng.random() < 0.15:
            key.append(None)
    if d.rng.random() < 0.2 and len(key) > 1:
        key = key[: int(d.rng.integers(1, len(key)))] + [Ellipsis]
    if d.rng.random() < 0.1:
        key.insert(0, None)
    return Step("getitem", (Ref(k), tuple(key)))


def _m_reshape(d: _Draw) -> Step | None:
    k = d.pick(None)
    if k is None:
        return None
    x = d.values[k]
    dims = [n for n in x.shape if n != 1]
    r = d.rng.random()
    if r < 0.35:  # insert and drop size-1 axes
        shape = list(dims)
        for _ in range(int(d.rng.integers(0, 3))):
            shape.insert(int(d.rng.integers(0, len(shape) + 1)), 1)
    elif r < 0.55:
        shape = [x.size]
    elif r < 0.7:
        shape = [-1] + ([1] if d.rng.random() < 0.5 else [])
    else:  # merge or split neighbouring axes
        shape = list(x.shape)
        if len(shape) >= 2 and d.rng.random() < 0.5:
            i = int(d.rng.integers(len(shape) - 1))
            shape[i:i + 2] = [shape[i] * shape[i + 1]]
        else:
            i = int(d.rng.integers(len(shape))) if shape else 0
            n = shape[i] if shape else 1
            f = next((f for f in (2, 3) if n % f == 0), 1)
            shape[i:i + 1] = [f, n // f] if shape else [1]
    return Step("gc.reshape", (Ref(k), tuple(shape)))


def _m_transpose(d: _Draw) -> Step | None:
    k = d.pick(None, min_ndim=2 if d.rng.random() < 0.9 else 0)  # sometimes a 0-d or 1-d one: the identity
    if k is None:
        return None
    x = d.values[k]
    r = d.rng.random() if x.ndim >= 2 else 0.3
    if r < 0.15:  # two axes exchanged, counted from either end
        a, b = (int(v) - (x.ndim if d.rng.random() < 0.3 else 0) for v in d.rng.choice(x.ndim, 2, replace=False))
        return Step("gc.swapaxes", (Ref(k), a, b))
    if r < 0.3:  # axes moved: one, or several at once
        count = int(d.rng.integers(1, x.ndim + 1))
        src, dst = (tuple(int(v) for v in d.rng.choice(x.ndim, count, replace=False)) for _ in range(2))
        return Step("gc.moveaxis", (Ref(k), src[0], dst[0]) if count == 1 else (Ref(k), src, dst))
    axes = None if r < 0.5 else tuple(int(a) for a in d.rng.permutation(x.ndim))
    return Step("gc.transpose", (Ref(k),), {} if axes is None else {"axes": axes})


def _m_broadcast(d: _Draw) -> Step | None:
    k = d.pick(None)
    if k is None:
        return None
    x = d.values[k]
    shape = [n if n != 1 or d.rng.random() < 0.4 else int(d.rng.integers(2, 4)) for n in x.shape]
    lead = [int(d.rng.integers(1, 4)) for _ in range(int(d.rng.integers(0, 3)))]
    return Step("gc.broadcast_to", (Ref(k), tuple(lead + shape)))


def _m_join(d: _Draw) -> Step | None:
    k = d.pick("f")
    if k is None:
        return None
    x = d.values[k]
    same = [j for j, v in enumerate(d.values) if v.shape == x.shape and v.dtype.kind == "f"]
    parts = [Ref(int(d.choice(same))) for _ in range(int(d.rng.integers(1, 4)))]
    if d.rng.random() < 0.5 or x.ndim == 0:
        return Step("gc.stack", ([Ref(k), *parts],), {"axis": int(d.rng.integers(-x.ndim - 1, x.ndim + 1))})
    return Step("gc.concatenate", ([Ref(k), *parts],), {"axis": int(d.rng.integers(-x.ndim, x.ndim))})


def _m_matmul(d: _Draw) -> Step | None:
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    r = d.rng.random()
    if r < 0.35 and x.ndim >= 2:  # x @ x^T, batched when x is
        axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
        return Step("op@", (Ref(k), Step("gc.transpose", (Ref(k),), {"axes": axes})))
    n = int(d.rng.integers(1, 4))
    if r < 0.7:  # by a constant matrix (or vector), batched on the other side sometimes
        inner = x.shape[-1]
        other_shape: tuple[int, ...] = (inner, n) if d.rng.random() < 0.8 else (inner,)
        if d.rng.random() < 0.2:
            other_shape = (2,) + (inner, n)
        w = weight(other_shape, int(d.rng.integers(100))).astype(x.dtype)
        return Step("op@", (Ref(k), w))
    inner = x.shape[0] if x.ndim == 1 else x.shape[-2]
    w = weight((n, inner), int(d.rng.integers(100))).astype(x.dtype)
    return Step("gc.matmul", (w, Ref(k)))


def _m_int(d: _Draw) -> Step | None:
    """Integer and boolean paths: comparisons, logical ops, int arithmetic, argmax, one_hot, casts."""
    r = d.rng.random()
    k = d.pick()
    if k is None:
        return None
    x = d.values[k]
    if r < 0.2 and x.dtype.kind in "fiu":
        return Step(d.choice(["op>", "op<=", "op==", "op!="]), (Ref(k), d.choice([0.0, 0.5, -1.0, 1])))
    if r < 0.3:
        b = d.pick("b")
        if b is not None:
            if d.rng.random() < 0.3:
                return Step("gc.logical_not", (Ref(b),))
            c = d.pick("b")
            return Step(d.choice(["gc.logical_and", "gc.logical_or"]), (Ref(b), Ref(c if c is not None else b)))
    if r < 0.45 and x.dtype.kind == "f" and x.ndim >= 1:
        # A ramp breaks near-ties: values that differ only by rounding (a deep stack of layers
        # converging to one fixed point) would let rounding pick the index.
        ramp = (np.arange(x.size, dtype=x.dtype) * x.dtype.type(1e-3)).reshape(x.shape)
        return Step("gc.argmax", (Step("op+", (Ref(k), ramp)),), {"axis": d.choice([None, int(d.rng.integers(x.ndim))])})
    if r < 0.6 and x.dtype.kind in "fb":
        to = d.choice(["int64", "int32", "int8", "uint8", "float64" if d.fdt == "float64" else "float32"])
        if x.dtype.kind == "f" and to[0] in "iu" and d.rng.random() < 0.3:  # out of range: C's conversion, as NumPy's
            return Step("gc.cast", (Step("op*", (Ref(k), 3e9)), to))
        return Step("gc.cast", (Ref(k), to))
    i = d.pick("i")
    if i is not None:
        xi = d.values[i]
        rr = d.rng.random()
        if rr < 0.2 and xi.size * 3 <= MAX_SIZE:
            return Step("gc.one_hot", (Step("gc.abs", (Ref(i),)), 3), {"dtype": d.fdt})
        if rr < 0.45:
            return Step(d.choice(["gc.sum", "gc.max", "gc.min"]), (Ref(i),), {"axis": d.axes(xi.ndim)})
        if rr < 0.6:
            return Step("gc.cast", (Ref(i), d.fdt))
        if rr < 0.68:
            return Step(d.choice(["gc.abs", "gc.negative", "gc.sign"]), (Ref(i),))
        if rr < 0.75:  # int bounds, fractional ones (a float result), or beyond the dtype's range
            lo, hi = d.choice([(-1, 2), (-1.5, 2.5), (0, None), (None, 1.5), (-300, 300)])
            return Step("gc.clip", (Ref(i), lo, hi))
        f = d.pick("f")
        if rr < 0.87 and f is not None:  # an integer tensor meets a float one: promoted as PyTorch
            return Step(d.choice(["op+", "op-", "op*", "gc.maximum", "op<", "op=="]), (Ref(f), Ref(i)))
        j = d.pick("i")
        return Step(d.choice(["op+", "op-", "op*", "gc.maximum", "gc.minimum"]), (Ref(i), Ref(j if j is not None else i)))
    b = d.pick("b")
    if b is not None:
        f = d.pick("f")
        if f is not None:
            return Step("gc.where", (Ref(b), Ref(f), d.choice([0.0, 1.5])))
        return Step("gc.cast", (Ref(b), d.fdt))
    return None


def _m_random(d: _Draw) -> Step | None:
    """Counter-based draws: every executor draws the same values for (seed, call, node)."""
    k = d.pick("f")
    if k is None:
        return None
    x = d.values[k]
    draw = Step(d.choice(["gc.random_normal", "gc.random_uniform"]), (tuple(x.shape),),
                {"seed": int(d.rng.integers(1, 100)), "dtype": d.fdt})
    return Step(d.choice(["op+", "op*"]), (Ref(k), draw))


def _m_gather(d: _Draw) -> Step | None:
    """take and integer-array indexing (constant or fed indices, negative and repeated)."""
    k = d.pick(None, min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    axis = int(d.rng.integers(x.ndim))
    n = x.shape[axis]
    idx = d.rng.integers(-n, n, size=d.choice([(3,), (2, 2), (1,), ()])).astype(np.int64)
    r = d.rng.random()
    if r < 0.4:
        return Step("gc.take", (Ref(k), idx), {"axis": axis})
    if r < 0.7 or x.ndim < 2:
        key = [slice(None)] * axis + [idx.reshape(-1).tolist()]
        return Step("getitem", (Ref(k), tuple(key)))
    if d.rng.random() < 0.2:  # a constant bool mask over two axes: its true positions
        lead = int(d.rng.integers(x.ndim - 1))
        return Step("getitem", (Ref(k), (slice(None),) * lead + (d.rng.random(x.shape[lead:lead + 2]) < 0.6,)))
    # several arrays (and maybe an int) broadcast together, side by side or apart (NumPy then
    # puts the broadcast axes first)
    shapes = d.choice([[(3,), (3,)], [(2, 1), (3,)], [(), (2,)], [(2, 2), (1, 2)]])
    key = []
    for m in x.shape:
        roll = d.rng.random()
        if roll < 0.5 and shapes:
            key.append(d.rng.integers(-m, m, size=shapes.pop()).astype(np.int64))
        elif roll < 0.6:
            key.append(int(d.rng.integers(-m, m)))
        else:
            key.append(slice(None))
    if sum(isinstance(e, np.ndarray) for e in key) < 2:
        return Step("gc.take", (Ref(k), idx), {"axis": axis})
    return Step("getitem", (Ref(k), tuple(key)))


def _m_shape_extra(d: _Draw) -> Step | None:
    """squeeze, expand_dims, triu/tril, einsum with a constant."""
    k = d.pick(None)
    if k is None:
        return None
    x = d.values[k]
    r = d.rng.random()
    if r < 0.1 and x.ndim:
        fn = d.choice(["gc.flip", "gc.cumsum", "gc.pad", "gc.tile", "gc.repeat"])
        arg = {"gc.flip": None, "gc.cumsum": None, "gc.pad": 1, "gc.tile": 2, "gc.repeat": 2}[fn]
        return Step(fn, (Ref(k),) if arg is None else (Ref(k), arg))
    if r < 0.25:
        return Step("gc.expand_dims", (Ref(k), int(d.rng.integers(-x.ndim - 1, x.ndim + 1))))
    if r < 0.45:
        return Step("gc.squeeze", (Ref(k),))
    if r < 0.7 and x.ndim >= 2 and x.dtype.kind != "b":
        return Step(d.choice(["gc.triu", "gc.tril"]), (Ref(k), int(d.rng.integers(-1, 2))))
    if x.dtype.kind == "f" and 1 <= x.ndim <= 3:
        letters = "abc"[: x.ndim]
        kept = "".join(c for c in letters if d.rng.random() < 0.5)
        square = [i for i, v in enumerate(d.values) if v.dtype.kind == "f" and 2 <= v.ndim <= 3 and v.shape[0] == v.shape[1]]
        if square and d.rng.random() < 0.3:  # a diagonal (or trace) of a value whose first two axes are equal
            j = d.choice(square)
            rest = "c" if d.values[j].ndim == 3 else ""
            out = d.choice(["", "a"]) + (rest if d.rng.random() < 0.5 else "")
            return Step("gc.einsum", (f"aa{rest}->{out}", Ref(j)))
        w = weight((1 if d.rng.random() < 0.2 else x.shape[-1], 2), int(d.rng.integers(100))).astype(x.dtype)
        return Step("gc.einsum", (f"{letters},{letters[-1]}z->{kept}z", Ref(k), w))  # a 1 broadcasts
    return None


def _m_nn(d: _Draw) -> Step | None:
    """layer_norm, dropout, and convolutions and pooling of a 4-D view of a value."""
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    r = d.rng.random()
    if r < 0.2:
        gain, bias = (weight(x.shape[-1:], int(d.rng.integers(100))).astype(x.dtype) for _ in range(2))
        return Step("gc.layer_norm", (Step("op+", (Ref(k), _ramp(x))), gain, bias))
    if r < 0.3:
        return Step("gc.dropout", (Ref(k), d.choice([0.2, 0.5])), {"seed": int(d.rng.integers(1, 100))})
    image: Any = Ref(k)
    h, w = (1, x.size) if x.ndim < 2 else (x.shape[-2] if x.ndim == 4 else x.size // x.shape[-1], x.shape[-1])
    if x.ndim != 4:
        # Sometimes two images of half the rows: a filter gradient then sums several images per gemm.
        n = 2 if x.ndim >= 2 and h % 2 == 0 and d.rng.random() < 0.4 else 1
        h //= n
        image = Step("gc.reshape", (Ref(k), (n, 1, h, w)))
    c = x.shape[1] if x.ndim == 4 else 1
    kh, kw = int(d.rng.integers(1, min(h, 3) + 1)), int(d.rng.integers(1, min(w, 3) + 1))
    if r < 0.45:
        return Step(d.choice(["gc.max_pool2d", "gc.avg_pool2d"]), (image, (kh, kw)),
                    {"stride": d.choice([None, 1, (1, 2)])})
    stride, padding = d.choice([1, 1, 2, (1, 2)]), d.choice([0, 0, 1, (0, 1), (1, 0), 2])
    if r < 0.8:
        groups = c if c > 1 and d.rng.random() < 0.3 else 1
        wt = weight((2 * groups, c // groups, kh, kw), int(d.rng.integers(100))).astype(x.dtype)
        return Step("gc.conv2d", (image, wt), {"stride": stride, "padding": padding, "dilation": d.choice([1, 1, 2])})
    wt = weight((c, 2, kh, kw), int(d.rng.integers(100))).astype(x.dtype)
    (sh, sw), (ph, pw) = ((v, v) if isinstance(v, int) else v for v in (stride, padding))
    if (h - 1) * sh + kh - 2 * ph < 1 or (w - 1) * sw + kw - 2 * pw < 1:  # cropped to nothing
        padding = 0
    return Step("gc.conv_transpose2d", (image, wt), {"stride": stride, "padding": padding})


# Scans unrolled (one copy of the body per step) instead of traced into a loop node: the fuzzer
# builds each program with scans both ways, and the two must agree.
UNROLL = False


def scan_ys(fn: Any, init: Any, xs: Any, reverse: bool = False) -> Any:
    """The stacked ys of a scan (one value, as a step makes)."""
    return gc.scan(fn, init, xs, reverse=reverse, unroll=UNROLL)[1]


def scan_reading(fn: Any, init: Any, xs: Any, w: Any, reverse: bool = False) -> Any:
    """The stacked ys of a scan whose body also reads `w` from outside (a captured value)."""
    return gc.scan(lambda c, x: fn(c, x, w), init, xs, reverse=reverse, unroll=UNROLL)[1]


def scan_with_total(fn: Any, init: Any, xs: Any, reverse: bool = False) -> Any:
    """The stacked ys of a scan carrying (a state, a running sum of products), the final sum's
    total added to them: the sum is a carry only accumulating (moved out of the loop)."""
    (_, total), ys = gc.scan(fn, init, xs, reverse=reverse, unroll=UNROLL)
    return ys + gc.sum(total) * 0.01


def _scan_products(c: Any, x: Any) -> Any:
    """(state, total + x.T @ d) for a 2-D slice x and d computed from it; for a 1-D slice the
    outer product of x and d, as a column times a row."""
    h, total = c
    d = gc.tanh(x * 0.5 + h)
    if x.ndim == 1:
        return (d, total + gc.reshape(x, (-1, 1)) @ gc.reshape(d, (1, -1))), d * x
    return (d, total + gc.transpose(x) @ d), d * x


def _scan_body(c: Any, x: Any) -> Any:
    h = gc.tanh(c * 0.7 + x)
    return h, h * x


def _scan_dropping(c: Any, x: Any) -> Any:
    """A step drawing a dropout mask of its own (such a scan is unrolled; the draws after it must
    take the streams eager mode gives them)."""
    h = gc.tanh(c * 0.7 + x)
    return h, gc.dropout(h, 0.25) * x


def _scan_counted(c: Any, x: Any) -> Any:
    """A tuple carry of (a value, how many steps ran): an int beside the floats."""
    h, n = c if isinstance(c, tuple) else (c, None)
    h = h * 0.5 + gc.sin(x) * 0.25
    return (h, n + 1) if n is not None else h, h * h


def _scan_nested(c: Any, x: Any) -> Any:
    """A scan in the step, over the slice's own leading axis."""
    if x.ndim == 0:
        return _scan_body(c, x)
    inner = gc.scan(_scan_body, c[0], x, unroll=UNROLL)[1]
    h = gc.tanh(c * 0.7 + inner)
    return h, h * x


def _scan_reads(c: Any, x: Any, w: Any) -> Any:
    h = gc.tanh(c * 0.7 + x * (gc.sum(w) * 0.1))
    return h, h - c


def _scan_blocks(c: Any, x: Any, w: Any) -> Any:
    """A checkpointed block closing over a captured value, and a cond on the step's data."""
    s = gc.sum(w) * 0.1
    h = gc.checkpoint(lambda a: gc.tanh(a * s + gc.sin(a)), c + x)
    h = gc.cond(gc.sum(x) > 0.0, lambda a: a * 0.5, lambda a: gc.sin(a), h)
    return h, h * s


def _branch_a(v: Any) -> Any:
    return gc.sqrt(v) * 2.0  # NaN below 0: cond must keep it out of the other branch's results


def _branch_b(v: Any) -> Any:
    return v * v - 1.0


def _block(h: Any) -> Any:
    return gc.tanh(h * 1.3 + gc.sin(h)) * h


def _pair(h: Any) -> Any:
    return gc.tanh(h * 0.8), gc.sin(h) * h


def checkpoint_pair(x: Any) -> Any:
    """The two outputs of one checkpointed block added: both are sent one cotangent."""
    a, b = gc.checkpoint(_pair, x)
    return a + b


def _m_checkpoint(d: _Draw) -> Step | None:
    """A checkpointed block: recomputed in the backward pass, the results unchanged."""
    k = d.pick("f")
    if k is None:
        return None
    return Step("programs.checkpoint_pair", (Ref(k),)) if d.rng.random() < 0.3 else Step("gc.checkpoint", (_block, Ref(k)))


def _m_control(d: _Draw) -> Step | None:
    """scan over a value's leading axis (carry: one slice), cond on a data-dependent predicate."""
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    x = d.values[k]
    if d.rng.random() < 0.7 and x.shape[0] <= 6:
        init = weight(tuple(x.shape[1:]), int(d.rng.integers(100))).astype(x.dtype)
        reverse = {"reverse": bool(d.rng.random() < 0.5)}
        other = d.pick("f")
        body = d.choice(["plain", "counted", "nested", "reads", "blocks", "products", "dropping"])
        if body == "products" and x.ndim in (2, 3):
            total = np.zeros((x.shape[-1], x.shape[-1]), x.dtype)
            return Step("programs.scan_with_total", (_scan_products, (init, total), Ref(k)), reverse)
        if body in ("reads", "blocks") and other is not None:
            fn = _scan_reads if body == "reads" else _scan_blocks
            return Step("programs.scan_reading", (fn, init, Ref(k), Ref(other)), reverse)
        if body == "counted":
            return Step("programs.scan_ys", (_scan_counted, (init, np.int64(0)), Ref(k)), reverse)
        fn = {"nested": _scan_nested, "dropping": _scan_dropping}.get(body, _scan_body)
        return Step("programs.scan_ys", (fn, init, Ref(k)), reverse)
    pred = Step("op>", (Step("gc.sum", (Ref(k),)), 0.0))
    kind = d.choice(["plain", "plain", "reads", "gather", "nested", "known", "shared"])
    if kind == "known":  # a predicate known when the graph is built: simplification inlines the branch
        return Step("gc.cond", (bool(d.rng.random() < 0.5), _branch_nested, _branch_b, Ref(k)))
    other = d.pick("f")
    if kind == "reads" and other is not None:
        return Step("programs.cond_reading", (pred, Ref(k), Ref(other), bool(d.rng.random() < 0.5)))
    if kind == "gather":
        return Step("programs.cond_gather", (Ref(k),))
    if kind == "shared":
        return Step("programs.cond_shared", (pred, Ref(k)))
    if kind == "nested":
        return Step("gc.cond", (pred, _branch_nested, _branch_scan if d.rng.random() < 0.5 else _branch_b, Ref(k)))
    return Step("gc.cond", (pred, _branch_a, _branch_b, Ref(k)))


def cond_reading(pred: Any, v: Any, w: Any, both: bool) -> Any:
    """A cond whose branches read `w` from outside beside their operand and return two results,
    the second read only when `both` (else the cond's derivative and pruning drop it)."""
    a, b = gc.cond(pred, lambda a: (a * (gc.sum(w) * 0.3), gc.tanh(a)),
                   lambda a: (gc.exp(a * 0.2) + gc.mean(w), a * 0.0 + 1.0), v)
    return a + b * 0.5 if both else a


def cond_shared(pred: Any, v: Any) -> Any:
    """A cond whose branches both read one node made while the first was traced (a value built
    on first use): each branch's derivative reads it as its own. The value is kept per operand,
    so that a cond replayed at other sizes builds its own."""
    made: dict[int, Any] = {}

    def shared(a: Any) -> Any:
        if id(a) not in made:
            made[id(a)] = gc.tanh(a * 0.5)
        return made[id(a)]

    return gc.cond(pred, lambda a: gc.sin(a * shared(a)), lambda a: gc.cos(a) * shared(a), v)


def cond_gather(x: Any) -> Any:
    """A guarded gather: x times a table's entry i (i from x's data, often out of range) where
    0 <= i < 4, else x halved; the branch not taken never runs, so its bad index raises
    nothing."""
    table = gc.constant(np.array([0.5, -1.5, 2.0, 0.25], dtype=x.dtype))
    i = gc.cast(gc.floor(gc.sum(x) * 3.0), "int64")
    ok = gc.logical_and(i >= 0, i < 4)
    return gc.cond(ok, lambda j: gc.take(table, j) * x, lambda j: x * 0.5, i)


def _branch_nested(v: Any) -> Any:
    return gc.cond(gc.max(v) < 1.0, _branch_b, gc.cos, v) * 1.5


def _branch_scan(v: Any) -> Any:
    """A scan inside a branch (over v's leading axis; a 0-d v is doubled)."""
    if v.ndim == 0:
        return v * 2.0
    return gc.scan(lambda c, x: (gc.tanh(c + x), c * x), v[0] * 0.0, v, unroll=UNROLL)[1]


def _m_layers(d: _Draw) -> Step | None:
    """A deep stack of equal elementwise layers, tanh(h * a + b): longer than a fusion group may
    grow, so that a run of equal kernels computes it (and its derivatives)."""
    k = d.pick("f", min_ndim=1)
    if k is None:
        return None
    h: Any = Ref(k)
    scale, shift = d.choice([0.9, 1.1, -0.7]), d.choice([0.1, -0.2])
    for _ in range(int(d.rng.integers(20, 70))):
        h = Step("gc.tanh", (Step("op+", (Step("op*", (h, scale)), shift)),))
    return h


MAKERS: list[tuple[Callable[[_Draw], Step | None], float]] = [
    (_m_unary, 3.0), (_m_binary, 4.0), (_m_reduce, 2.5), (_m_softmax, 0.6), (_m_xent, 0.3),
    (_m_index, 1.5), (_m_reshape, 1.5), (_m_transpose, 0.8), (_m_broadcast, 1.0), (_m_join, 0.6),
    (_m_matmul, 1.0), (_m_int, 1.2), (_m_random, 0.3), (_m_layers, 0.12), (_m_gather, 0.7),
    (_m_shape_extra, 0.7), (_m_nn, 0.9), (_m_control, 0.8), (_m_checkpoint, 0.4),
]


def _flatten_step(step: Step, steps: list[Step], base: int) -> Any:
    """Nested steps (an argument that is itself a Step) become steps of their own; returns the ref."""
    def lift(a: Any) -> Any:
        if isinstance(a, Step):
            return _flatten_step(a, steps, base)
        if isinstance(a, list):
            return [lift(x) for x in a]
        return a

    args = tuple(lift(a) for a in step.args)
    steps.append(Step(step.fn, args, step.kwargs))
    return Ref(base + len(steps) - 1)


def random_inputs(rng: np.random.Generator, fdt: str) -> list[tuple[tuple[int, ...], str]]:
    inputs = []
    for _ in range(int(rng.integers(1, 4))):
        ndim = int(rng.choice([0, 1, 2, 2, 3, 3, 4]))
        shape = tuple(int(rng.choice([1, 1, 2, 3, 4])) for _ in range(ndim))
        r = rng.random()
        dtype = fdt if r < 0.82 else ("int64" if r < 0.9 else "int32" if r < 0.94 else "bool")
        inputs.append((shape, dtype))
    if not any(dt == fdt for _, dt in inputs):
        inputs[0] = (inputs[0][0], fdt)
    return inputs


def random_program(seed: int, n_steps: int | None = None) -> Program:
    """Program number `seed`: deterministic, valid (graphc accepts every step)."""
    rng = np.random.default_rng([seed, 9])
    fdt = "float32" if rng.random() < 0.15 else "float64"
    inputs = random_inputs(rng, fdt)
    d = _Draw(rng, fdt)
    d.values = [gc.placeholder(s, dt) for s, dt in inputs]
    steps: list[Step] = []
    target = n_steps if n_steps is not None else int(rng.integers(2, 9))
    weights = np.array([w for _, w in MAKERS])
    attempts = made = 0
    while made < target and attempts < target * 12:
        attempts += 1
        maker = MAKERS[int(rng.choice(len(MAKERS), p=weights / weights.sum()))][0]
        nested = maker(d)
        if nested is None:
            continue
        new: list[Step] = []
        _flatten_step(nested, new, len(d.values))
        made_values = _try(new, d.values)
        if made_values is None:
            continue
        d.values += made_values
        steps += new
        made += 1
    return Program(inputs, steps, sinks(inputs, steps), seed, train=bool(rng.random() < 0.3))


def sinks(inputs: list[Any], steps: list[Step], most: int = 4) -> list[int]:
    """The loss terms: the newest values no later step reads (every step then matters)."""
    read = {k for s in steps for k in s.refs()}
    unread = [k for k in range(len(inputs) + len(steps)) if k not in read]
    return unread[-most:]


def _try(new: list[Step], values: list[Any]) -> list[Any] | None:
    """The symbolic values `new` makes after `values`, or None if graphc refuses one, or one is
    too big."""
    pool = list(values)
    try:
        for step in new:
            v = call(step, pool)
            if not isinstance(v, gc.Node) or v.size > MAX_SIZE or v.size == 0:
                return None
            pool.append(v)
    except gc.ShapeError:
        return None
    return pool[len(values):]


# Feeds.
def random_feeds(program: Program, rng: np.random.Generator) -> list[np.ndarray]:
    """Values for the inputs: normals, small integers (ties, zeros) or a mix, per input."""
    out = []
    for shape, dt in program.inputs:
        if dt == "bool":
            out.append(rng.random(shape) < 0.5)
        elif dt.startswith("int"):
            out.append(rng.integers(-3, 4, size=shape).astype(dt))
        else:
            r = rng.random()
            normal = rng.standard_normal(shape)
            small = rng.integers(-2, 3, size=shape).astype(float)
            v = normal if r < 0.6 else small if r < 0.8 else np.where(rng.random(shape) < 0.5, normal, small)
            out.append(np.asarray(v, dtype=dt))
    return out


# Printing.
def _literal(a: Any) -> str:
    if isinstance(a, Ref):
        return repr(a)
    if isinstance(a, np.ndarray):
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype.name})"
    if isinstance(a, list):
        return "[" + ", ".join(_literal(x) for x in a) + "]"
    if isinstance(a, tuple):
        inner = ", ".join(_literal(x) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if a is Ellipsis:
        return "..."
    if callable(a):  # a scan's body or a cond's branch, defined in this module
        return f"programs.{a.__name__}"
    return repr(a)


def step_text(step: Step) -> str:
    """The call as Python source."""
    args = [_literal(a) for a in step.args] + [f"{k}={_literal(v)}" for k, v in step.kwargs.items()]
    if step.fn == "getitem":
        key = step.args[1]
        parts = [":" if isinstance(s, slice) and s == slice(None) else _slice_text(s) if isinstance(s, slice) else _literal(s) for s in key]
        return f"{args[0]}[{', '.join(parts)}]"
    if step.fn.startswith("op"):
        return f"{args[0]} {step.fn[2:]} {args[1]}"
    return f"{step.fn}({', '.join(args)})"


def _slice_text(s: slice) -> str:
    text = ":".join("" if v is None else str(v) for v in (s.start, s.stop))
    return text + (f":{s.step}" if s.step is not None else "")


def program_text(program: Program) -> list[str]:
    """The program's body as lines of Python: `v3 = gc.tanh(v1)`, then the loss."""
    n = len(program.inputs)
    lines = [f"v{n + i} = {step_text(s)}" for i, s in enumerate(program.steps)]
    terms = [f"term(v{k}, {j})" for j, k in enumerate(program.loss_terms)]
    lines.append("loss = " + (" + ".join(terms) if terms else "None"))
    return lines
