"""Edge-value results of every op in `edges`, from graphc (any back end) and from PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

import graphc as gc
from graphc import eager

from .edges import BINARY, COMPARE, REDUCE, ROWS, UNARY, edges, pairs, torch_twins

Results = dict[tuple[str, str], np.ndarray]  # (op, what) -> values; what: value, d1, d2, dx, dy, ...


def _weights(shape: tuple[int, ...], salt: float) -> np.ndarray:
    return np.cos(np.arange(int(np.prod(shape))) + salt).reshape(shape) + 1.5


def graph(dtype: str) -> tuple[list[Any], list[tuple[str, str]], list[Any], list[np.ndarray]]:
    """Placeholders, labels, outputs and feeds of one program computing every edge result."""
    x = gc.placeholder((len(edges(dtype)),), dtype, name="x")
    px, py = (gc.placeholder((len(pairs(dtype)[0]),), dtype, name=n) for n in ("px", "py"))
    rows = gc.placeholder((len(ROWS), 3), dtype, name="rows")
    labels: list[tuple[str, str]] = []
    outs: list[Any] = []

    def add(op: str, what: str, node: Any) -> None:
        labels.append((op, what))
        outs.append(node)

    for name, fn in UNARY.items():
        y = fn(x)
        d1 = gc.grad(gc.sum(y), x)
        add(name, "value", y)
        add(name, "d1", d1)
        add(name, "d2", gc.grad(gc.sum(d1), x))
    for name, fn in BINARY.items():
        y = fn(px, py)
        dx, dy = gc.grad(gc.sum(y), [px, py])
        add(name, "value", y)
        add(name, "dx", dx)
        add(name, "dy", dy)
        add(name, "dxx", gc.grad(gc.sum(dx), px))
        add(name, "dyy", gc.grad(gc.sum(dy), py))
    for name, fn in COMPARE.items():
        add(name, "value", fn(px, py))
    for name, fn in REDUCE.items():
        y = fn(rows)
        w1 = _weights(y.shape, 0.0).astype(dtype)
        d1 = gc.grad(gc.sum(y * w1), rows)
        add(name, "value", y)
        add(name, "d1", d1)
        add(name, "d2", gc.grad(gc.sum(d1 * _weights(d1.shape, 1.0).astype(dtype)), rows))
    feeds = [edges(dtype), *pairs(dtype), np.array(ROWS, dtype)]
    return [x, px, py, rows], labels, outs, feeds


def compiled(dtype: str, **options: Any) -> Results:
    inputs, labels, outs, feeds = graph(dtype)
    return dict(zip(labels, gc.compile(inputs, outs, **options)(*feeds)))


def eagerly(dtype: str) -> Results:
    """Values and first derivatives in eager mode (its tape records no second order)."""
    out: Results = {}

    def first(fn: Any, arrays: list[np.ndarray], names: list[str], op: str, weights: bool = False) -> None:
        ts = [eager.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*ts)
        out[(op, "value")] = y.data
        if y.requires_grad:
            (gc.sum(y * _weights(y.shape, 0.0).astype(dtype)) if weights else gc.sum(y)).backward()
        for t, n in zip(ts, names):
            out[(op, n)] = np.zeros_like(t.data) if t.grad is None else t.grad.data

    for name, fn in UNARY.items():
        first(fn, [edges(dtype)], ["d1"], name)
    for name, fn in BINARY.items():
        first(fn, list(pairs(dtype)), ["dx", "dy"], name)
    for name, fn in REDUCE.items():
        first(fn, [np.array(ROWS, dtype)], ["d1"], name, weights=True)
    return out


def with_torch(torch: Any, dtype: str) -> Results:
    """The same results from PyTorch (values, first and second derivatives by autograd)."""
    unary, binary, reduce = torch_twins(torch)
    tdt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    out: Results = {}

    def grad(y: Any, x: Any) -> Any:
        if not y.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(y, x, create_graph=True, allow_unused=True)
        return torch.zeros_like(x) if g is None else g

    for name, fn in unary.items():
        x = torch.tensor(edges(dtype), dtype=tdt, requires_grad=True)
        y = fn(x)
        d1 = grad(y.sum(), x)
        out[(name, "value")], out[(name, "d1")] = y.detach().numpy(force=True), d1.detach().numpy(force=True)
        out[(name, "d2")] = grad(d1.sum(), x).detach().numpy(force=True)
    for name, fn in binary.items():
        px, py = (torch.tensor(a, dtype=tdt, requires_grad=True) for a in pairs(dtype))
        y = fn(px, py)
        dx, dy = grad(y.sum(), px), grad(y.sum(), py)
        out[(name, "value")], out[(name, "dx")], out[(name, "dy")] = (t.detach().numpy(force=True) for t in (y, dx, dy))
        out[(name, "dxx")], out[(name, "dyy")] = grad(dx.sum(), px).detach().numpy(force=True), grad(dy.sum(), py).detach().numpy(force=True)
    for name, fn in reduce.items():
        rows = torch.tensor(np.array(ROWS, dtype), requires_grad=True)
        y = fn(rows)
        d1 = grad((y * torch.tensor(_weights(tuple(y.shape), 0.0).astype(dtype))).sum(), rows)
        out[(name, "value")], out[(name, "d1")] = y.detach().numpy(force=True), d1.detach().numpy(force=True)
        w2 = torch.tensor(_weights(tuple(d1.shape), 1.0).astype(dtype))
        out[(name, "d2")] = grad((d1 * w2).sum(), rows).detach().numpy(force=True)
    return out


def differences(got: np.ndarray, want: np.ndarray, rtol: float) -> np.ndarray:
    """Indices where `got` and `want` differ: NaN against a number, infinities of other signs,
    or finite values farther apart than rtol (relative to the larger, with a subnormal floor)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    both_nan = np.isnan(got) & np.isnan(want)
    same = (got == want) | both_nan
    finite = np.isfinite(got) & np.isfinite(want)
    with np.errstate(all="ignore"):
        close = finite & (np.abs(got - want) <= rtol * np.maximum(np.abs(got), np.abs(want)) + 1e-300)
    return np.flatnonzero(~(same | close))
