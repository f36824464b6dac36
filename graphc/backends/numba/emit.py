"""Writing Python source for Numba: indented lines, typed constants, flat addressing, loop nests.

Generated kernels see every array as a 1-D base (a program array, or one buffer of the byte
arena) plus a static element offset and shape: `Buf.at([i, j])` is `B7[i * 128 + j]`. Indices
are sums of loop variables, never negative, so no wraparound check stands between a loop and
its vectorization. Reshapes cost nothing, and the code carries none of the checks
and error paths that Numba attaches to slicing, `view` and `reshape` (which dominated compile
time). Typed constants keep float32 arithmetic in float32.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ...dtypes import short_name

# The names generated code uses for dtype constructors (defined in the generated module).
DTYPE_NAMES = {np.dtype(k): v for k, v in {
    "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32",
    "int64": "i64", "uint8": "u8", "bool": "b1",
}.items()}


def dtype_name(dtype: np.dtype) -> str:
    """The constructor name of `dtype` in generated code (f32, i64, ...)."""
    return DTYPE_NAMES[np.dtype(dtype)]


def exp_of(x: str, dtype: np.dtype) -> str:
    """e**x in generated code: float32 through the vectorizing `helpers.exp_f32` (within 1 ulp),
    float64 through libm."""
    return f"exp_f32({x})" if np.dtype(dtype) == np.float32 else f"np.exp({x})"


def safe_text(text: str, limit: int = 200) -> str:
    """`text` with every character outside printable ASCII replaced by `?`, at most `limit` long."""
    clean = "".join(ch if " " <= ch <= "~" else "?" for ch in str(text))
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def linear(offset: int | str, terms: Sequence[tuple[str, int]]) -> str:
    """`offset + i * s + ...` with zero strides left out."""
    parts = [str(offset)] if offset not in (0, "0") else []
    parts += [v if s == 1 else f"{v} * {s}" for v, s in terms if s != 0]
    return " + ".join(parts) or "0"


def c_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides in elements."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


@dataclass(frozen=True)
class Buf:
    """Array data in generated code: 1-D `base`, element `offset`, and a row-major shape."""

    base: str
    offset: int | str  # elements; a name for arena buffers, resolved once memory is planned
    shape: tuple[int, ...]
    dtype: np.dtype
    swapped: bool = False  # the last two axes of row-major data, exchanged (matmul operands only)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def at(self, names: Sequence[str]) -> str:
        """The element at loop variables `names`, one per axis."""
        return f"{self.base}[{self.index(names)}]"

    def index(self, names: Sequence[str]) -> str:
        """The flat index, in the 1-D base, of the element at loop variables `names`."""
        return linear(self.offset, list(zip(names, c_strides(self.shape))))

    def item(self, i: str) -> str:
        """The element at flat index `i`."""
        return f"{self.base}[{linear(self.offset, [(i, 1)])}]"

    def array(self) -> str:
        """The data as a 1-D array expression (for helper calls)."""
        return f"{self.base}[{self.offset}:{linear(self.offset, [(str(self.size), 1)])}]"

    def start(self, offset: str = "0") -> str:
        """The element index `offset` elements in, in the 1-D base (for `gemm`)."""
        return linear(self.offset, [(offset, 1)])

    def reshaped(self, shape: tuple[int, ...]) -> Buf:
        return Buf(self.base, self.offset, tuple(shape), self.dtype)


class Emitter:
    """Lines of source with indentation, fresh names and module-level typed constants."""

    def __init__(self, scratch: Callable[[tuple[int, ...], np.dtype], Buf] | None = None) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.constants: dict[tuple[str, str], str] = {}
        self._names = itertools.count()
        self._scratch = scratch
        self.node_index = -1  # the program's index of the node being lowered
        self.sites: list[int] = []  # per failure site (`fail`), the index of its node

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def comment(self, text: str) -> None:
        """A `# text` line. Text may hold what users named (tensors, files): anything but
        printable ASCII becomes `?`, so no name can end the comment and become code."""
        self.line("# " + safe_text(text))

    def fresh(self, prefix: str) -> str:
        """A new local name: a lowercase prefix, an underscore and a number (`t_12`). No other
        name in generated code has that form (constructors `f64`, helpers `sum_run`, arguments
        `in0`, uppercase bases and constants), so a local never shadows one."""
        assert prefix.isalpha() and prefix.islower(), prefix
        return f"{prefix}_{next(self._names)}"

    def const(self, value: object, dtype: np.dtype) -> str:
        """The name of a module-level constant `value` of `dtype` (shared by equal constants)."""
        dt = np.dtype(dtype)
        literal = repr(np.array(value, dtype=dt).item())
        if literal in ("nan", "inf", "-inf"):
            literal = f"float('{literal}')"
        key = (literal, dt.name)
        if key not in self.constants:
            self.constants[key] = f"K{len(self.constants)}_{short_name(dt)}"
        return self.constants[key]

    def constant_definitions(self) -> list[str]:
        return [f"{name} = {dtype_name(np.dtype(dt))}({lit})" for (lit, dt), name in self.constants.items()]

    def scratch(self, shape: tuple[int, ...], dtype: np.dtype) -> Buf:
        """A temporary array for the node being lowered (space in the program's arena)."""
        assert self._scratch is not None, "this emitter has no arena"
        return self._scratch(tuple(shape), np.dtype(dtype))

    def fail(self, code: int, value: str) -> None:
        """Stop the program with error `code` at the current node (reported by the runtime): the
        code names a failure site of its own, which `sites` maps to the node."""
        self.line(f"status[0] = {code}; status[1] = {len(self.sites)}; status[2] = {value}")
        self.line("return")
        self.sites.append(self.node_index)

    @contextlib.contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    @contextlib.contextmanager
    def loops(self, sizes: Sequence[int], prefix: str = "i") -> Iterator[list[str]]:
        """Nested `for` loops over `sizes`; yields the loop variables."""
        names = [self.fresh(prefix) for _ in sizes]
        with contextlib.ExitStack() as stack:
            for name, n in zip(names, sizes):
                stack.enter_context(self.block(f"for {name} in range({n}):"))
            yield names

    def fill(self, dst: Buf, value: str) -> None:
        """dst[...] = value."""
        with self.loops([dst.size]) as (i,):
            self.line(f"{dst.item(i)} = {value}")

    def copy(self, dst: Buf, src: Buf) -> None:
        """dst[...] = src[...], element by element."""
        with self.loops([dst.size]) as (i,):
            self.line(f"{dst.item(i)} = {src.item(i)}")


@dataclass(frozen=True)
class Scalar:
    """What a scalar lowering may ask: typed constants and casts to the output dtype."""

    em: Emitter
    out: np.dtype
    ins: tuple[np.dtype, ...]

    def k(self, value: object, dtype: np.dtype | None = None) -> str:
        """A constant of the output dtype (or `dtype`)."""
        return self.em.const(value, self.out if dtype is None else dtype)

    def cast(self, x: str, i: int) -> str:
        """Scalar `x` (input `i`) converted to the output dtype when it differs."""
        return x if self.ins[i] == self.out else f"{dtype_name(self.out)}({x})"


def broadcast_loops(out_shape: tuple[int, ...], shapes: Sequence[tuple[int, ...]]) -> tuple[list[int], list[list[int]]]:
    """Loops of an elementwise nest, adjacent axes merged where every operand broadcasts alike.

    Returns the loop sizes and, per operand of `shapes`, its stride for each loop (0 where it
    broadcasts). Size-1 axes of the output get no loop.
    """
    d = len(out_shape)
    padded = [(1,) * (d - len(s)) + tuple(s) for s in shapes]
    groups: list[list[int]] = []
    for axis in range(d):
        if out_shape[axis] == 1:
            continue
        pattern = [p[axis] == 1 for p in padded]
        if groups and pattern == [p[groups[-1][-1]] == 1 for p in padded]:
            groups[-1].append(axis)
        else:
            groups.append([axis])
    sizes = [int(np.prod([out_shape[a] for a in g])) for g in groups]
    strides = [[0 if p[g[0]] == 1 else int(np.prod(p[g[-1] + 1:], dtype=np.int64)) for g in groups]
               for p in padded]
    return sizes, strides


def outer_inner(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """A row-major array seen as (outer, shape[axis], inner) around `axis`."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


def combine(kind: str, acc: str, value: str) -> str:
    """`acc` combined with `value`: sum, or max/min propagating NaN as NumPy does."""
    if kind == "sum":
        return f"{acc} + {value}"
    if kind == "prod":
        return f"{acc} * {value}"
    op = ">" if kind == "max" else "<"
    # `|`, not `or`: no branch (a select), so a mispredicted comparison costs nothing.
    return f"{value} if (({value} {op} {acc}) | ({value} != {value})) else {acc}"


def identity(kind: str, dtype: np.dtype) -> object:
    """The starting value of a reduction."""
    dt = np.dtype(dtype)
    if kind == "sum":
        return 0
    if kind == "prod":
        return 1
    if dt.kind == "f":
        return -np.inf if kind == "max" else np.inf
    if dt == np.bool_:
        return kind != "max"
    info = np.iinfo(dt)
    return info.min if kind == "max" else info.max


def accumulator_dtype(kind: str, dtype: np.dtype) -> np.dtype:
    """float32 sums accumulate in float64 (NumPy's pairwise sums are about that accurate)."""
    return np.dtype("float64") if kind == "sum" and np.dtype(dtype) == np.float32 else np.dtype(dtype)


def emit_reduce(
    em: Emitter, x: Buf, out: Buf, axes: Sequence[int], kind: str,
    value: Callable[[str, str], str] | None = None,
) -> None:
    """Emit `out = reduce_kind(value(x))` over `axes` of `x`.

    `value(element, out_index)` (optional) maps each element before it is combined; out_index is
    the flat index (into `out`) of the element's result.
    """
    runs: list[tuple[int, bool, int]] = []  # (size, reduced, stride in x), adjacent axes merged
    for axis, n in enumerate(x.shape):
        if n == 1:
            continue
        stride = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        if runs and runs[-1][1] == (axis in axes):
            runs[-1] = (runs[-1][0] * n, runs[-1][1], stride)
        else:
            runs.append((n, axis in axes, stride))
    kept = [n for n, r, _ in runs if not r]
    kept_strides = c_strides(kept)
    acc_dt = accumulator_dtype(kind, out.dtype)
    cast = dtype_name(out.dtype)
    mapped = value or (lambda e, k: e)
    inner_reduced = not runs or runs[-1][1]
    outer_reduced = any(r for _, r, _ in (runs[:-1] if inner_reduced else runs))
    if outer_reduced or not inner_reduced:
        em.fill(out, em.const(identity(kind, out.dtype), out.dtype))

    def indices(names: Sequence[str]) -> tuple[str, str]:
        x_at = linear(x.offset, [(v, s) for v, (_, _, s) in zip(names, runs)])
        kept_names = [v for v, (_, r, _) in zip(names, runs) if not r]
        return f"{x.base}[{x_at}]", linear(0, list(zip(kept_names, kept_strides)))

    # A float sum over a contiguous run is `sum_run`'s: partial sums in vector lanes, not one chain.
    summed_run = kind == "sum" and value is None and x.dtype.kind == "f" and acc_dt == np.float64 and bool(runs)
    if inner_reduced:
        with em.loops([n for n, _, _ in runs[:-1]]) as names:
            acc = em.fresh("acc")
            if summed_run:
                start = linear(x.offset, [(v, s) for v, (_, _, s) in zip(names, runs)])
                em.line(f"{acc} = sum_run({x.base}, {start}, {runs[-1][0]})")
            else:
                em.line(f"{acc} = {em.const(identity(kind, out.dtype), acc_dt)}")
                with em.loops([runs[-1][0]] if runs else [1]) as (r,):
                    element, k = indices([*names, r] if runs else [])
                    if not runs:
                        element = f"{x.base}[{x.offset}]"
                    em.line(f"{acc} = {combine(kind, acc, mapped(element, k))}")
            _, k = indices(names)
            target = out.item(k)
            result = combine(kind, target, acc) if outer_reduced else acc
            em.line(f"{target} = {cast}({result})")
    else:
        with em.loops([n for n, _, _ in runs]) as names:
            element, k = indices(names)
            target = out.item(k)
            em.line(f"{target} = {cast}({combine(kind, target, mapped(element, k))})")
