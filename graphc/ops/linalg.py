"""Matrix multiplication: 2-D, and batched over leading dimensions that broadcast; einsum, as
sums, transposes and batched matrix products of it."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..builder import apply, lift
from ..dtypes import result_type
from ..errors import ShapeError
from ..opdef import OpDef, register
from . import reduction as rd
from . import shape as sh
from .elementwise import broadcast_shapes, cast, promote


def _matmul_rule(a: Any, b: Any) -> tuple[tuple[int, ...], np.dtype]:
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError("matmul needs 2-D or batched operands")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(
            f"cannot multiply {a.shape} by {b.shape}: inner dimensions {a.shape[-1]} and {b.shape[-2]} differ"
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return batch + (a.shape[-2], b.shape[-1]), result_type(a.dtype, b.dtype)


def swap_last(x: Any) -> Any:
    """x with its last two axes exchanged."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return sh.transpose(x, axes)



MATMUL = register(
    OpDef(
        "matmul",
        "linalg",
        2,
        _matmul_rule,
        np.matmul,
        # Batch dimensions that broadcast are summed back by the differentiation pass.
        (lambda g, out, a, b: matmul(g, swap_last(b)), lambda g, out, a, b: matmul(swap_last(a), g)),
        (lambda t, out, a, b: matmul(t, b), lambda t, out, a, b: matmul(a, t)),
        doc="matrix product over the last two axes",
    )
)


def matmul(a: Any, b: Any) -> Any:
    """a @ b: 2-D, batched over broadcast leading axes; a 1-D operand is a row or column."""
    a, b = promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least one dimension, got {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        return sh.reshape(matmul(sh.reshape(a, (1, -1)), sh.reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        out = matmul(sh.reshape(a, (1, -1)), b)
        return sh.reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = matmul(a, sh.reshape(b, (-1, 1)))
        return sh.reshape(out, out.shape[:-1])
    if a.ndim > 2 and b.ndim == 2 and a.size:
        # A batch of rows times one matrix is one matrix product (as PyTorch folds it): its
        # weight gradient is then one product too, not a batch of them summed.
        out = apply(MATMUL, (sh.reshape(a, (-1, a.shape[-1])), b))
        return sh.reshape(out, a.shape[:-1] + (b.shape[-1],))
    return apply(MATMUL, (a, b))


def einsum(spec: str, *xs: Any) -> Any:
    """NumPy's einsum: "ij,jk->ik", "bhqd,bhkd->bhqk", "...ij,...jk"; a letter repeated in one
    operand takes its diagonal ("ii->i", "ii" the trace); axes of size 1 broadcast against
    their letter's size, under "..." or not; without "->" the output is the letters used once,
    sorted. Operands are contracted left to right, each pair as a batched matrix product
    (summing a letter no one else needs first)."""
    xs = tuple(lift(*xs))
    inputs, output = _parse_einsum(spec, xs)
    pairs = [_diagonals(term, x) for term, x in zip(inputs, xs)]
    size: dict[str, int] = {}
    for term, x in pairs:
        for c, d in zip(term, x.shape):
            size[c] = d if size.get(c, 1) == 1 else size[c]  # another than 1 (0 included), if any
    inputs = [term for term, _ in pairs]
    xs = tuple(x if all(size[c] == d for c, d in zip(term, x.shape)) else
               sh.broadcast_to(x, tuple(size[c] for c in term)) for term, x in pairs)
    letters, out = list(inputs[0]), xs[0]
    for i in range(1, len(xs)):
        later = set(output).union(*inputs[i + 1 :])
        letters, out = _contract(letters, out, list(inputs[i]), xs[i], later)
    later = set(output)
    gone = tuple(a for a, c in enumerate(letters) if c not in later)
    if gone:
        out = _summed(out, gone)
        letters = [c for c in letters if c in later]
    if len(output) != len(letters):
        raise ShapeError(f"einsum: {spec!r}: every output letter must come from an operand")
    return _permuted(out, [letters.index(c) for c in output])


def _parse_einsum(spec: str, xs: tuple[Any, ...]) -> tuple[list[str], str]:
    if not isinstance(spec, str):
        raise ShapeError(f"einsum: the spec must be a string, got {spec!r}")
    compact = spec.replace(" ", "")
    lhs, arrow, rhs = compact.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(xs):
        raise ShapeError(f"einsum: {spec!r} names {len(inputs)} operands, got {len(xs)}")
    free = [c for c in string.ascii_letters if c not in compact]
    under = [x.ndim - len(t.replace("...", "")) for t, x in zip(inputs, xs) if t.count("...") == 1]
    ellipsis = "".join(free[: max(under, default=0)])  # "..." of each operand: the last of these letters
    for k, (term, x) in enumerate(zip(inputs, xs)):
        if term.count("...") > 1:
            raise ShapeError(f"einsum: {spec!r}: an operand may hold one '...', got {term!r}")
        if "..." in term:
            n = x.ndim - len(term.replace("...", ""))
            if n < 0:
                raise ShapeError(f"einsum: operand {k} has {x.ndim} axes, fewer than {term!r} names")
            inputs[k] = term = term.replace("...", ellipsis[len(ellipsis) - n :])
        if any(not c.isalpha() for c in term):
            raise ShapeError(f"einsum: {spec!r}: operands are named by letters, got {term!r}")
        if len(term) != x.ndim:
            raise ShapeError(f"einsum: operand {k} has shape {x.shape}, but {term!r} names {len(term)} axes")
        for c in set(term):
            if len({x.shape[a] for a, t in enumerate(term) if t == c}) > 1:
                raise ShapeError(f"einsum: {spec!r}: letter {c!r} repeats in operand {k} over axes of sizes"
                                 f" {[x.shape[a] for a, t in enumerate(term) if t == c]} (a diagonal needs equal sizes)")
    sizes: dict[str, int] = {}
    for term, x in zip(inputs, xs):
        for c, d in zip(term, x.shape):
            known = sizes.setdefault(c, d)
            if known != d and 1 not in (known, d):
                what = "the axes under '...'" if c in ellipsis else f"letter {c!r}"
                raise ShapeError(f"einsum: {spec!r}: sizes {known} and {d} of {what} do not broadcast")
            sizes[c] = d if known == 1 else known
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        counts = "".join(inputs)
        output = ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ellipsis))
    if any(c not in sizes for c in output) or len(set(output)) != len(output):
        raise ShapeError(f"einsum: {spec!r}: the output must name distinct letters of the operands")
    return inputs, output


def _diagonals(term: str, x: Any) -> tuple[str, Any]:
    """x's diagonal over the axes of each letter repeated in `term` (equal sizes, checked), that
    letter then named once, last: axes i and j of size n moved last and merged, then the
    elements at i * (n + 1) taken."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        p, q = term.index(c), term.index(c, term.index(c) + 1)
        rest = [a for a in range(len(term)) if a not in (p, q)]
        n = x.shape[p]
        moved = _permuted(x, rest + [p, q])
        merged = sh.reshape(moved, moved.shape[:-2] + (n * n,))
        x = sh.take(merged, np.arange(n, dtype=np.int64) * (n + 1), axis=merged.ndim - 1)
        term = "".join(term[a] for a in rest) + c
    return term, x


def _contract(la: list[str], a: Any, lb: list[str], b: Any, later: set[str]) -> tuple[list[str], Any]:
    """The product of a (letters la) and b (letters lb), summed over the letters `later` does not
    need: each first sums the letters only it has, then (batch, kept, summed) @ (batch, summed,
    kept) as one batched matrix product."""
    la, a = _sum_alone(la, a, lb, later)
    lb, b = _sum_alone(lb, b, la, later)
    batch = [c for c in la if c in lb and c in later]
    summed = [c for c in la if c in lb and c not in later]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    size = dict(zip(la, a.shape)) | dict(zip(lb, b.shape))

    def grouped(x: Any, letters: list[str], groups: list[list[str]]) -> Any:
        x = _permuted(x, [letters.index(c) for g in groups for c in g])
        dims = tuple(int(np.prod([size[c] for c in g], dtype=np.int64)) for g in groups)
        return sh.reshape(x, dims[1:] if not batch else dims)

    product = matmul(grouped(a, la, [batch, left, summed]), grouped(b, lb, [batch, summed, right]))
    letters = batch + left + right
    return letters, sh.reshape(product, tuple(size[c] for c in letters))


def _sum_alone(letters: list[str], x: Any, other: list[str], later: set[str]) -> tuple[list[str], Any]:
    alone = tuple(i for i, c in enumerate(letters) if c not in later and c not in other)
    if not alone:
        return letters, x
    return [c for c in letters if c in later or c in other], _summed(x, alone)


def _summed(x: Any, axes: tuple[int, ...]) -> Any:
    """x summed over `axes` in x's own dtype, as NumPy's einsum (where sum widens integers)."""
    total = rd.sum(x, axes)
    return total if total.dtype == x.dtype else cast(total, x.dtype)


def _permuted(x: Any, perm: list[int]) -> Any:
    return x if perm == list(range(len(perm))) else sh.transpose(x, tuple(perm))
