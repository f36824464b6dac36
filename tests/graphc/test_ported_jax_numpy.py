"""graphc against NumPy, on cases ported from JAX's NumPy test suite.

Source suite: jax-ml/jax ``tests/lax_numpy_test.py``, ``tests/lax_numpy_reducers_test.py`` and
``tests/lax_numpy_operators_test.py``. Those tests sweep shapes (scalars, zero-size axes),
dtypes, axes (negative, tuples, None), keepdims and edge arguments, compare ``jax.numpy`` with
NumPy, and check gradients numerically (``check_grads``). Here the same kinds of parameter
combinations drive graphc's equivalents, rewritten from scratch:

* every case is built from placeholders and compiled twice, natively and with
  ``backend="numpy"``; both must equal NumPy (integers and bools exactly; floats to a relative
  1e-6 in float32 and 1e-12 in float64, with NaN in the same places);
* for float64 cases of differentiable ops the compiled program also returns ``gc.grad`` of a
  random weighting of the outputs, checked against central differences of NumPy's function
  along two random directions; a subset also returns ``gc.hvp``, checked against central
  differences of the compiled gradient;
* the argument errors graphc documents raise a ``gc.GraphcError``.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import graphc as gc

RTOL = {np.dtype("float32"): 1e-6, np.dtype("float64"): 1e-12}
GRAD_RTOL = 1e-6
FD_EPS = 1e-5


# --------------------------------------------------------------------------------------------
# The case runner


@dataclass
class Case:
    """One compiled program: `gc_fn` and `np_fn` map the same arguments to a list of outputs."""

    name: str
    gc_fn: Callable[..., Any]
    np_fn: Callable[..., Any]
    args: Sequence[np.ndarray]
    grad: bool = True  # check gc.grad (float64 cases only)
    hvp: bool = False  # also check gc.hvp
    elementwise: bool = False  # compare each element relatively (else relative to the largest)

    def __repr__(self) -> str:
        return self.name


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _assert_same(got: np.ndarray, want: Any, elementwise: bool, what: str) -> None:
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != NumPy's {want.shape}"
    if want.dtype.kind in "biu":
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != NumPy's {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != NumPy's {want.dtype}"
    rtol = RTOL[want.dtype]
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    np.testing.assert_array_equal(nan_got, nan_want, err_msg=f"{what}: NaN positions differ")
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf], err_msg=f"{what}: infinities differ")
    finite = np.isfinite(want)
    if not finite.any():
        return
    atol = 0.0 if elementwise else rtol * float(np.max(np.abs(want[finite])))
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=atol, err_msg=what)


def run_case(case: Case) -> None:
    args = [np.asarray(a) for a in case.args]
    with np.errstate(all="ignore"):
        want = [np.asarray(w) for w in _as_list(case.np_fn(*args))]
    xs = [gc.placeholder(a.shape, a.dtype.name) for a in args]
    outs = _as_list(case.gc_fn(*xs))
    assert len(outs) == len(want)

    diff = [i for i, a in enumerate(args) if a.dtype == np.float64]
    # outputs holding NaN or infinities are checked for their value only
    float_outs = [k for k, w in enumerate(want) if w.dtype == np.float64 and np.isfinite(w).all()]
    do_grad = case.grad and bool(diff) and bool(float_outs)
    feeds_extra: list[np.ndarray] = []
    extra_inputs: list[Any] = []
    grads: list[Any] = []
    hvps: list[Any] = []
    ws_np: list[np.ndarray] = []
    rng = _rng(case.name)
    if do_grad:
        ws = [gc.placeholder(want[k].shape, "float64") for k in float_outs]
        ws_np = [rng.standard_normal(want[k].shape) for k in float_outs]
        loss = gc.constant(np.float64(0.0))
        for k, w in zip(float_outs, ws):
            loss = loss + gc.sum(outs[k] * w)
        grads = gc.grad(loss, [xs[i] for i in diff])
        extra_inputs += ws
        feeds_extra += ws_np
        if case.hvp:
            vs = [gc.placeholder(args[i].shape, "float64") for i in diff]
            hvps = gc.hvp(loss, [xs[i] for i in diff], vs)
            extra_inputs += vs
            feeds_extra += [rng.standard_normal(args[i].shape) for i in diff]

    inputs = xs + extra_inputs
    for backend in ("numba", "numpy"):
        f = gc.compile(inputs, [*outs, *grads, *hvps], backend=backend)
        got = _as_list(f(*args, *feeds_extra))
        for k, w in enumerate(want):
            _assert_same(got[k], w, case.elementwise, f"{case.name} [{backend}] output {k}")
        if not do_grad:
            continue
        g = got[len(want) : len(want) + len(diff)]
        _check_directional(case, args, diff, float_outs, ws_np, g, rng, backend)
        if case.hvp:
            _check_hvp(case, f, args, diff, feeds_extra, got[len(want) + len(diff) :], len(want), backend)


def _check_directional(case: Case, args: list[np.ndarray], diff: list[int], float_outs: list[int],
                       ws: list[np.ndarray], grads: list[np.ndarray], rng: np.random.Generator,
                       backend: str) -> None:
    def loss(xs: list[np.ndarray]) -> float:
        full = list(args)
        for i, x in zip(diff, xs):
            full[i] = x
        outs = [np.asarray(o) for o in _as_list(case.np_fn(*full))]
        return float(sum(np.sum(outs[k] * w) for k, w in zip(float_outs, ws)))

    for _ in range(2):
        vs = [rng.standard_normal(args[i].shape) for i in diff]
        plus = loss([args[i] + FD_EPS * v for i, v in zip(diff, vs)])
        minus = loss([args[i] - FD_EPS * v for i, v in zip(diff, vs)])
        numeric = (plus - minus) / (2 * FD_EPS)
        analytic = float(sum(np.sum(g * v) for g, v in zip(grads, vs)))
        scale = float(sum(np.sum(np.abs(g * v)) for g, v in zip(grads, vs)))
        assert abs(analytic - numeric) <= GRAD_RTOL * max(scale, abs(numeric), 1e-300), (
            f"{case.name} [{backend}]: directional derivative {analytic!r}, finite differences {numeric!r}")


def _check_hvp(case: Case, f: Any, args: list[np.ndarray], diff: list[int], extra: list[np.ndarray],
               hvps: list[np.ndarray], n_out: int, backend: str) -> None:
    n_w = len(extra) - len(diff)
    vs = extra[n_w:]

    def grads_at(sign: float) -> list[np.ndarray]:
        shifted = list(args)
        for i, v in zip(diff, vs):
            shifted[i] = args[i] + sign * FD_EPS * v
        got = _as_list(f(*shifted, *extra))
        return got[n_out : n_out + len(diff)]

    for h, gp, gm in zip(hvps, grads_at(1.0), grads_at(-1.0)):
        numeric = (gp - gm) / (2 * FD_EPS)
        scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(h), initial=0.0)), 1e-300)
        np.testing.assert_allclose(h, numeric, rtol=GRAD_RTOL, atol=GRAD_RTOL * scale,
                                   err_msg=f"{case.name} [{backend}]: hvp vs differences of the gradient")


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in cases]


def _normal(name: str, shape: tuple[int, ...], dtype: str = "float64", lo: float | None = None,
            hi: float | None = None) -> np.ndarray:
    rng = _rng(name + str(shape) + dtype)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-9 if np.dtype(dtype).kind == "i" else 0, 10, size=shape).astype(dtype)
    if lo is not None:
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


FLOATS = ("float32", "float64")


# --------------------------------------------------------------------------------------------
# Reducers (lax_numpy_reducers_test: testReducer, testReducerNoDtype, testVar/testStd)


def _reducer_cases() -> list[Case]:
    cases: list[Case] = []
    shapes_axes: list[tuple[tuple[int, ...], Any]] = [
        ((), None), ((4,), 0), ((4,), -1), ((3, 4), None), ((3, 4), 1), ((3, 4), -2), ((3, 4), (0, 1)),
        ((2, 1, 4), (0, -1)), ((2, 3, 4), (-1, 0)), ((0,), None), ((0, 4), 0), ((3, 0), 1), ((3, 0), 0),
    ]
    for op in ("sum", "mean", "prod", "max", "min", "logsumexp"):
        for dtype in FLOATS + ("int32", "int64"):
            if op == "logsumexp" and dtype[0] == "i":
                continue
            gcf, npf = getattr(gc, op), _np_logsumexp if op == "logsumexp" else getattr(np, op)
            keep_shapes = [(s, a) for s, a in shapes_axes
                           if not (op in ("max", "min") and _reduces_empty(s, a))]
            if op == "mean" and dtype[0] == "i":
                keep_shapes = [(s, a) for s, a in keep_shapes if not _reduces_empty(s, a)]
            for keepdims in (False, True):
                args = [_normal(f"{op}{i}", s, dtype, *((0.5, 1.5) if op == "prod" else (None, None)))
                        for i, (s, _) in enumerate(keep_shapes)]
                axes = [a for _, a in keep_shapes]
                cases.append(Case(
                    f"{op}-{dtype}-keepdims{keepdims}",
                    lambda *xs, gcf=gcf, axes=axes, k=keepdims: [gcf(x, axis=a, keepdims=k) for x, a in zip(xs, axes)],
                    lambda *xs, npf=npf, axes=axes, k=keepdims: [_np_reduce(npf, x, a, k) for x, a in zip(xs, axes)],
                    args, hvp=op in ("prod", "logsumexp") and keepdims))
    # prod's derivative at zeros (one zero, two zeros in a row) and ties in max/min
    zeros = np.array([[0.0, 2.0, 3.0, -1.5], [0.0, 0.0, 1.5, 2.0], [1.0, -2.0, 0.5, 3.0]])
    cases.append(Case("prod-float64-zeros", lambda x: [gc.prod(x, axis=1), gc.prod(x, axis=0), gc.prod(x)],
                      lambda x: [np.prod(x, axis=1), np.prod(x, axis=0), np.prod(x)], [zeros], hvp=True))
    return cases


def _reduces_empty(shape: tuple[int, ...], axis: Any) -> bool:
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return any(shape[a] == 0 for a in axes)


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    out = out.astype(x.dtype)
    if keepdims:
        return out
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _np_reduce(npf: Callable[..., Any], x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.asarray(npf(x, axis=axis, keepdims=keepdims))
    if npf in (np.sum, np.prod) and x.dtype.kind == "i":
        out = out.astype(np.int64)
    return out


def _var_cases() -> list[Case]:
    cases: list[Case] = []
    shapes_axes: list[tuple[tuple[int, ...], Any]] = [
        ((), None), ((5,), None), ((5,), -1), ((3, 4), 0), ((3, 4), -1), ((3, 4), (0, 1)),
        ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, -3)), ((3, 1), 1), ((0, 3), 1), ((0, 3), 0),
    ]
    for op in ("var", "std"):
        for dtype in FLOATS + ("int32",):
            for ddof in (0, 1, 2):
                for keepdims in (False, True):
                    if dtype == "int32" and keepdims:
                        continue
                    args = [_normal(f"{op}{i}", s, dtype) for i, (s, _) in enumerate(shapes_axes)]
                    axes = [a for _, a in shapes_axes]
                    gcf, npf = getattr(gc, op), getattr(np, op)
                    cases.append(Case(
                        f"{op}-{dtype}-ddof{ddof}-keepdims{keepdims}",
                        lambda *xs, gcf=gcf, axes=axes, d=ddof, k=keepdims:
                            [gcf(x, axis=a, keepdims=k, ddof=d) for x, a in zip(xs, axes)],
                        lambda *xs, npf=npf, axes=axes, d=ddof, k=keepdims:
                            [_np_stat(npf, x, a, k, d) for x, a in zip(xs, axes)],
                        args, hvp=(ddof == 1 and keepdims)))
    return cases


def _np_stat(npf: Callable[..., Any], x: np.ndarray, axis: Any, keepdims: bool, ddof: int) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(npf(x, axis=axis, keepdims=keepdims, ddof=ddof))


@pytest.mark.parametrize("case", _params(_reducer_cases() + _var_cases()))
def test_reductions(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# cumsum (lax_numpy_test: testCumSumProd)


def _cumsum_cases() -> list[Case]:
    cases = []
    shapes_axes = [((), None), ((5,), 0), ((5,), None), ((3, 4), 0), ((3, 4), -1), ((3, 4), None),
                   ((2, 3, 9), 2), ((2, 3, 9), -2), ((0, 3), 1), ((3, 0), None), ((1, 17), 1)]
    for dtype in FLOATS + ("int32", "int64"):
        args = [_normal(f"cumsum{i}", s, dtype) for i, (s, _) in enumerate(shapes_axes)]
        axes = [a for _, a in shapes_axes]
        cases.append(Case(
            f"cumsum-{dtype}",
            lambda *xs, axes=axes: [gc.cumsum(x, axis=a) for x, a in zip(xs, axes)],
            lambda *xs, axes=axes: [np.cumsum(x, axis=a, dtype=np.int64 if x.dtype.kind == "i" else x.dtype)
                                    for x, a in zip(xs, axes)],
            args, hvp=dtype == "float64"))
    return cases


@pytest.mark.parametrize("case", _params(_cumsum_cases()))
def test_cumsum(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# Shape manipulation (lax_numpy_test: testFlip, testSwapaxes, testMoveaxis, testSplitStaticInt,
# testSplitStatic, testPad, testTile, testRepeat, testSqueeze, testExpandDimsStaticDim, testTriLU)


def _shape_cases() -> list[Case]:
    specs: list[tuple[str, tuple[int, ...], Callable[[Any], Any], Callable[[np.ndarray], Any]]] = [
        ("flip-all", (2, 3, 4), lambda x: gc.flip(x), lambda x: np.flip(x)),
        ("flip-0", (2, 3, 4), lambda x: gc.flip(x, 0), lambda x: np.flip(x, 0)),
        ("flip-neg", (2, 3, 4), lambda x: gc.flip(x, -1), lambda x: np.flip(x, -1)),
        ("flip-tuple", (2, 3, 4), lambda x: gc.flip(x, (0, -1)), lambda x: np.flip(x, (0, -1))),
        ("flip-scalar", (), lambda x: gc.flip(x), lambda x: np.flip(x)),
        ("flip-empty", (0, 3), lambda x: gc.flip(x, 1), lambda x: np.flip(x, 1)),
        ("swapaxes-0-2", (2, 3, 4), lambda x: gc.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2)),
        ("swapaxes-neg", (2, 3, 4), lambda x: gc.swapaxes(x, -1, 1), lambda x: np.swapaxes(x, -1, 1)),
        ("swapaxes-same", (2, 3), lambda x: gc.swapaxes(x, 1, -1), lambda x: np.swapaxes(x, 1, -1)),
        ("swapaxes-empty", (0, 3), lambda x: gc.swapaxes(x, 0, 1), lambda x: np.swapaxes(x, 0, 1)),
        ("moveaxis-int", (2, 3, 4), lambda x: gc.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1)),
        ("moveaxis-neg", (2, 3, 4, 5), lambda x: gc.moveaxis(x, -1, 1), lambda x: np.moveaxis(x, -1, 1)),
        ("moveaxis-seq", (2, 3, 4, 5), lambda x: gc.moveaxis(x, (0, 3), (2, 0)),
         lambda x: np.moveaxis(x, (0, 3), (2, 0))),
        ("moveaxis-seq2", (2, 3, 4, 5), lambda x: gc.moveaxis(x, [1, -1], [-1, 1]),
         lambda x: np.moveaxis(x, [1, -1], [-1, 1])),
        ("split-int", (6, 4), lambda x: gc.split(x, 3), lambda x: np.split(x, 3)),
        ("split-int-axis", (2, 6), lambda x: gc.split(x, 2, axis=-1), lambda x: np.split(x, 2, axis=-1)),
        ("split-one", (3, 4), lambda x: gc.split(x, 1, axis=1), lambda x: np.split(x, 1, axis=1)),
        ("split-indices", (7, 2), lambda x: gc.split(x, [1, 4]), lambda x: np.split(x, [1, 4])),
        ("split-indices-edge", (5, 3), lambda x: gc.split(x, [0, 2, 2, 9], axis=0),
         lambda x: np.split(x, [0, 2, 2, 9], axis=0)),
        ("split-indices-neg", (2, 6), lambda x: gc.split(x, [-4, -1], axis=1),
         lambda x: np.split(x, [-4, -1], axis=1)),
        ("split-indices-unsorted", (6,), lambda x: gc.split(x, [4, 2]), lambda x: np.split(x, [4, 2])),
        ("split-empty", (0, 4), lambda x: gc.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1)),
        ("pad-int", (2, 3), lambda x: gc.pad(x, 2), lambda x: np.pad(x, 2)),
        ("pad-pair", (2, 3), lambda x: gc.pad(x, (1, 2)), lambda x: np.pad(x, (1, 2))),
        ("pad-per-axis", (2, 3, 1), lambda x: gc.pad(x, ((0, 1), (2, 0), (1, 1))),
         lambda x: np.pad(x, ((0, 1), (2, 0), (1, 1)))),
        ("pad-value", (2, 3), lambda x: gc.pad(x, ((1, 0), (0, 2)), constant_values=-3),
         lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=-3)),
        ("pad-zero-width", (2, 3), lambda x: gc.pad(x, 0), lambda x: np.pad(x, 0)),
        ("pad-empty", (0, 2), lambda x: gc.pad(x, ((1, 1), (0, 1))), lambda x: np.pad(x, ((1, 1), (0, 1)))),
        ("pad-scalar", (), lambda x: gc.pad(x, 3), lambda x: np.pad(x, 3)),
        ("tile-int", (3,), lambda x: gc.tile(x, 2), lambda x: np.tile(x, 2)),
        ("tile-more-reps", (2, 3), lambda x: gc.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2))),
        ("tile-fewer-reps", (2, 3, 1), lambda x: gc.tile(x, (3,)), lambda x: np.tile(x, (3,))),
        ("tile-zero", (2, 3), lambda x: gc.tile(x, (0, 2)), lambda x: np.tile(x, (0, 2))),
        ("tile-scalar", (), lambda x: gc.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3))),
        ("tile-empty", (0, 2), lambda x: gc.tile(x, 3), lambda x: np.tile(x, 3)),
        ("repeat-flat", (2, 3), lambda x: gc.repeat(x, 2), lambda x: np.repeat(x, 2)),
        ("repeat-axis", (2, 3), lambda x: gc.repeat(x, 3, axis=0), lambda x: np.repeat(x, 3, axis=0)),
        ("repeat-counts", (2, 3), lambda x: gc.repeat(x, [1, 0, 2], axis=-1),
         lambda x: np.repeat(x, [1, 0, 2], axis=-1)),
        ("repeat-counts-flat", (2, 2), lambda x: gc.repeat(x, [2, 0, 1, 3]),
         lambda x: np.repeat(x, [2, 0, 1, 3])),
        ("repeat-zero", (2, 3), lambda x: gc.repeat(x, 0, axis=1), lambda x: np.repeat(x, 0, axis=1)),
        ("repeat-scalar", (), lambda x: gc.repeat(x, 3), lambda x: np.repeat(x, 3)),
        ("squeeze-all", (1, 3, 1, 4), lambda x: gc.squeeze(x), lambda x: np.squeeze(x)),
        ("squeeze-int", (1, 3, 1, 4), lambda x: gc.squeeze(x, 2), lambda x: np.squeeze(x, 2)),
        ("squeeze-neg", (3, 1), lambda x: gc.squeeze(x, -1), lambda x: np.squeeze(x, -1)),
        ("squeeze-tuple", (1, 3, 1, 4), lambda x: gc.squeeze(x, (0, -2)), lambda x: np.squeeze(x, (0, -2))),
        ("squeeze-to-scalar", (1, 1), lambda x: gc.squeeze(x), lambda x: np.squeeze(x)),
        ("squeeze-empty", (0, 1), lambda x: gc.squeeze(x, 1), lambda x: np.squeeze(x, 1)),
        ("expand-0", (3, 4), lambda x: gc.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
        ("expand-neg", (3, 4), lambda x: gc.expand_dims(x, -1), lambda x: np.expand_dims(x, -1)),
        ("expand-mid-neg", (3, 4), lambda x: gc.expand_dims(x, -2), lambda x: np.expand_dims(x, -2)),
        ("expand-tuple", (3, 4), lambda x: gc.expand_dims(x, (0, 3)), lambda x: np.expand_dims(x, (0, 3))),
        ("expand-tuple-neg", (3, 4), lambda x: gc.expand_dims(x, (-1, 1)),
         lambda x: np.expand_dims(x, (-1, 1))),
        ("expand-scalar", (), lambda x: gc.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
        ("triu-square", (4, 4), lambda x: [gc.triu(x, k) for k in (-2, -1, 0, 1, 5)],
         lambda x: [np.triu(x, k) for k in (-2, -1, 0, 1, 5)]),
        ("tril-square", (4, 4), lambda x: [gc.tril(x, k) for k in (-5, -1, 0, 1, 2)],
         lambda x: [np.tril(x, k) for k in (-5, -1, 0, 1, 2)]),
        ("triu-wide-batched", (2, 3, 5), lambda x: [gc.triu(x, k) for k in (-1, 0, 2)],
         lambda x: [np.triu(x, k) for k in (-1, 0, 2)]),
        ("tril-tall-batched", (2, 1, 5, 3), lambda x: [gc.tril(x, k) for k in (-2, 0, 1)],
         lambda x: [np.tril(x, k) for k in (-2, 0, 1)]),
        ("triu-empty", (0, 3), lambda x: gc.triu(x, 1), lambda x: np.triu(x, 1)),
    ]
    cases = []
    # group several specs into one program per (family, dtype) to keep compile time down
    families: dict[str, list[Any]] = {}
    for spec in specs:
        families.setdefault(spec[0].split("-")[0], []).append(spec)
    for family, group in families.items():
        for dtype in FLOATS + ("int32",):
            args = [_normal(name, shape, dtype) for name, shape, _, _ in group]
            gcfs = [g for _, _, g, _ in group]
            npfs = [n for _, _, _, n in group]
            cases.append(Case(
                f"{family}-{dtype}",
                lambda *xs, gcfs=gcfs: [o for g, x in zip(gcfs, xs) for o in _as_list(g(x))],
                lambda *xs, npfs=npfs: [o for n, x in zip(npfs, xs) for o in _as_list(n(x))],
                args, elementwise=True, hvp=dtype == "float64" and family in ("pad", "repeat")))
    return cases


@pytest.mark.parametrize("case", _params(_shape_cases()))
def test_shape_ops(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# Gathers (lax_numpy_test: testTake, and the integer-array cases of the indexing tests)

_TAKE_SPECS: list[tuple[str, tuple[int, ...], Any, Any]] = [
    ("axis0", (5, 3), [0, 4, -1, 2, 2], 0),
    ("axis1", (2, 4, 3), [[3, -4], [1, 1]], 1),
    ("axis-neg", (2, 4, 3), [-3, 0], -1),
    ("flat", (3, 4), [11, -12, 5], None),
    ("scalar-index", (4, 3), np.int64(-2), 0),
    ("empty-index", (4, 3), np.zeros((0,), np.int64), 1),
    ("empty-rows", (0, 3), [2, -1], 1),
]


_IDX = np.array([[0, -1], [-4, 2]])
_MASK = np.array([[True, False, True, True, False], [False, False, True, False, True],
                  [True, True, False, False, False], [False, True, False, True, True]])  # over two axes


def _take_cases() -> list[Case]:
    cases = []
    for dtype in FLOATS + ("int32",):
        args = [_normal(f"take-{n}", s, dtype) for n, s, _, _ in _TAKE_SPECS]
        cases.append(Case(
            f"take-{dtype}",
            lambda *xs: [gc.take(x, i, axis=a) for x, (_, _, i, a) in zip(xs, _TAKE_SPECS)],
            lambda *xs: [np.take(x, i, axis=a) for x, (_, _, i, a) in zip(xs, _TAKE_SPECS)],
            args, elementwise=True, hvp=dtype == "float64"))
        # fed index tensors, int32 and int64
        x = _normal("take-fed", (4, 5), dtype)
        i32 = np.array([[-1, 0], [3, 3]], np.int32)
        i64 = np.array([4, -5, 0], np.int64)
        cases.append(Case(
            f"take-fed-index-{dtype}",
            lambda x, a, b: [gc.take(x, a, axis=0), gc.take(x, b, axis=-1), gc.take(x, a, axis=None)],
            lambda x, a, b: [np.take(x, a, axis=0), np.take(x, b, axis=-1), np.take(x, a, axis=None)],
            [x, i32, i64], elementwise=True))
        # x[idx]: integer arrays (constant, list or fed) on one axis, negative entries
        y = _normal("index", (4, 5, 3), dtype)
        cases.append(Case(
            f"getitem-int-array-{dtype}",
            lambda y, fed: [y[_IDX], y[:, [4, -5, 1]], y[..., [-1, 0, 0]], y[1:3, _IDX, ::-1], y[fed],
                            y[:, fed], y[2, :, [2, -3]]],
            lambda y, fed: [y[_IDX], y[:, [4, -5, 1]], y[..., [-1, 0, 0]], y[1:3, _IDX, ::-1], y[fed],
                            y[:, fed], y[2, :, [2, -3]]],
            [y, np.array([3, -1, 0, 3], np.int64)], elementwise=True, hvp=dtype == "float64"))
        # several integer arrays at once (lax_numpy_indexing_test's advanced integer indexing):
        # broadcast together; side by side their axes stand in place, apart (a slice or None
        # between) they go first; ints join them; fed arrays of two dtypes
        cases.append(Case(
            f"getitem-int-arrays-{dtype}",
            lambda y, r, c: [y[[0, 1, 3], [2, 4, 0]], y[_IDX, [1, -2]], y[:, [0, -1], [2, 1]], y[[1, 2], :, [0, 2]],
                             y[[0, 1], 2], y[..., [0, 1], [1, 2]], y[[0, 1], None, [1, 2]], y[r, c],
                             y[r[:, None], c], y[2, :, c], y[r, 1:4, c], y[_MASK], y[1:3, _MASK[0, :, None] > [0, 1, 0]]],
            lambda y, r, c: [y[[0, 1, 3], [2, 4, 0]], y[_IDX, [1, -2]], y[:, [0, -1], [2, 1]], y[[1, 2], :, [0, 2]],
                             y[[0, 1], 2], y[..., [0, 1], [1, 2]], y[[0, 1], None, [1, 2]], y[r, c],
                             y[r[:, None], c], y[2, :, c], y[r, 1:4, c], y[_MASK], y[1:3, _MASK[0, :, None] > [0, 1, 0]]],
            [y, np.array([3, -1, 0], np.int64), np.array([2, 0, -3], np.int32)], elementwise=True,
            hvp=dtype == "float64"))
    return cases


@pytest.mark.parametrize("case", _params(_take_cases()))
def test_take_and_integer_indexing(case: Case) -> None:
    run_case(case)


def test_take_fed_index_out_of_range() -> None:
    x = gc.placeholder((4, 3), "float64")
    i = gc.placeholder((2,), "int64")
    for backend in ("numba", "numpy"):
        f = gc.compile([x, i], gc.take(x, i, axis=0), backend=backend)
        with pytest.raises(gc.FeedError):
            f(np.zeros((4, 3)), np.array([0, 4]))
        with pytest.raises(gc.FeedError):
            f(np.zeros((4, 3)), np.array([-5, 0]))


# --------------------------------------------------------------------------------------------
# where, matmul and einsum (lax_numpy_test: testWhereThreeArgument, testMatmul, and the
# contraction cases of the einsum tests)


_EINSUM_SPECS: list[tuple[str, list[tuple[int, ...]]]] = [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (2,)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]), ("ijk->", [(2, 3, 4)]),
    ("ij->i", [(3, 4)]), ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ab,cd->", [(2, 3), (4, 1)]), ("ij,ij->i", [(3, 4), (3, 4)]), ("i,jk->kji", [(2,), (3, 4)]),
    ("ij,jk->ik", [(3, 0), (0, 2)]),
    # diagonals and traces (testEinsumDiagonal...), size-1 axes broadcasting (testEinsumBroadcasting)
    ("ii->i", [(3, 3)]), ("ii", [(4, 4)]), ("iij->ij", [(2, 2, 3)]), ("iji->j", [(3, 2, 3)]), ("ii,i->i", [(3, 3), (3,)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("ij,ij->ij", [(2, 3), (1, 3)]), ("ij,kj->ik", [(4, 1), (2, 5)]),
]


def _einsum_operands(xs: Sequence[Any]) -> list[list[Any]]:
    out, pos = [], 0
    for _, shapes in _EINSUM_SPECS:
        out.append(list(xs[pos : pos + len(shapes)]))
        pos += len(shapes)
    return out


def _where_matmul_einsum_cases() -> list[Case]:
    cases = []
    for dtype in FLOATS + ("int32",):
        c = _rng("where-c").random((3, 1)) > 0.5
        c2 = _rng("where-c2").random((2, 3, 4)) > 0.5
        c0 = np.array(True)
        cases.append(Case(
            f"where-broadcast-{dtype}",
            lambda c, c2, c0, x, y, z: [gc.where(c, x, y), gc.where(c2, x, z), gc.where(c, z, 2),
                                        gc.where(c0, y, x), gc.where(c2, z, z)],
            lambda c, c2, c0, x, y, z: [np.where(c, x, y), np.where(c2, x, z),
                                        np.where(c, z, np.asarray(2, z.dtype)), np.where(c0, y, x),
                                        np.where(c2, z, z)],
            [c, c2, c0, _normal("wx", (1, 4), dtype), _normal("wy", (), dtype), _normal("wz", (3, 4), dtype)],
            elementwise=True, hvp=dtype == "float64"))
        mm = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
              ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((4,), (4,)), ((3, 0), (0, 2)), ((0, 3, 4), (4, 2))]
        args = [_normal(f"mm{k}{j}", s, dtype) for k, pair in enumerate(mm) for j, s in enumerate(pair)]
        cases.append(Case(
            f"matmul-{dtype}",
            lambda *xs: [gc.matmul(xs[2 * k], xs[2 * k + 1]) for k in range(len(xs) // 2)],
            lambda *xs: [np.matmul(xs[2 * k], xs[2 * k + 1]) for k in range(len(xs) // 2)],
            args, hvp=dtype == "float64"))
        eargs = [_normal(f"es{k}{j}", s, dtype) for k, (_, shapes) in enumerate(_EINSUM_SPECS)
                 for j, s in enumerate(shapes)]
        cases.append(Case(
            f"einsum-{dtype}",
            lambda *xs: [gc.einsum(s, *a) for (s, _), a in zip(_EINSUM_SPECS, _einsum_operands(xs))],
            lambda *xs: [np.einsum(s, *a) for (s, _), a in zip(_EINSUM_SPECS, _einsum_operands(xs))],
            eargs, hvp=dtype == "float64"))
    return cases


@pytest.mark.parametrize("case", _params(_where_matmul_einsum_cases()))
def test_where_matmul_einsum(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# Elementwise functions (lax_numpy_operators_test: the one-to-one op records, with compatible
# broadcast shapes, and the rounding and remainder cases)

_UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], Any], tuple[float, float] | None]] = {
    "log1p": (gc.log1p, np.log1p, (-0.9, 3.0)),
    "expm1": (gc.expm1, np.expm1, None),
    "square": (gc.square, np.square, None),
    "reciprocal": (gc.reciprocal, np.reciprocal, (0.5, 3.0)),
    "sinh": (gc.sinh, np.sinh, None),
    "cosh": (gc.cosh, np.cosh, None),
    "tan": (gc.tan, np.tan, (-1.3, 1.3)),
    "arctan": (gc.arctan, np.arctan, None),
    "floor": (gc.floor, np.floor, None),
    "ceil": (gc.ceil, np.ceil, None),
    "round": (gc.round, np.round, None),
}

_SHAPES: list[tuple[int, ...]] = [(), (0,), (5,), (2, 3), (3, 0, 2)]


def _unary_cases() -> list[Case]:
    cases = []
    for name, (gcf, npf, rng_range) in _UNARY.items():
        for dtype in FLOATS:
            lo, hi = rng_range if rng_range else (-3.0, 3.0)
            args = [_normal(f"{name}{i}", s, dtype, lo, hi) for i, s in enumerate(_SHAPES)]
            cases.append(Case(f"{name}-{dtype}", lambda *xs, g=gcf: [g(x) for x in xs],
                              lambda *xs, n=npf: [n(x) for x in xs], args, elementwise=True,
                              hvp=dtype == "float64" and name in ("log1p", "tan", "sinh", "reciprocal")))
    # edge values: tiny arguments (log1p/expm1 exact there), halves for round (to even), signed
    # zeros, infinities and NaN
    specials = np.array([0.0, -0.0, 1e-20, -1e-20, 1e-300, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49999999999999994,
                         1e15 + 0.5, -7.3, np.inf, -np.inf, np.nan])
    for dtype in FLOATS:
        x = specials.astype(dtype)
        cases.append(Case(
            f"edge-values-{dtype}",
            lambda x: [gc.log1p(gc.abs(x)), gc.expm1(x), gc.floor(x), gc.ceil(x), gc.round(x), gc.arctan(x),
                       gc.square(x), gc.sinh(x), gc.cosh(x)],
            lambda x: [np.log1p(np.abs(x)), np.expm1(x), np.floor(x), np.ceil(x), np.round(x), np.arctan(x),
                       np.square(x), np.sinh(x), np.cosh(x)],
            [x], grad=False, elementwise=True))
    # integer square (stays in its dtype)
    for dtype in ("int32", "int64"):
        cases.append(Case(f"square-{dtype}", lambda x: gc.square(x), lambda x: np.square(x),
                          [_normal("sqi", (2, 5), dtype)]))
    return cases


_BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "arctan2": (gc.arctan2, np.arctan2),
    "hypot": (gc.hypot, np.hypot),
    "logaddexp": (gc.logaddexp, np.logaddexp),
    "mod": (gc.mod, np.mod),
}

_BROADCAST_PAIRS: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((), ()), ((4,), ()), ((), (4,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((0, 4), (4,)),
    ((3, 0), (3, 1)),
]


def _binary_cases() -> list[Case]:
    cases = []
    for name, (gcf, npf) in _BINARY.items():
        for dtype in FLOATS:
            args = []
            for k, (sa, sb) in enumerate(_BROADCAST_PAIRS):
                args.append(_normal(f"{name}a{k}", sa, dtype) * (3 if name == "mod" else 1))
                b = _normal(f"{name}b{k}", sb, dtype)
                args.append(np.where(np.abs(b) < 0.2, 0.7, b).astype(dtype) if name == "mod" else b)
            cases.append(Case(
                f"{name}-{dtype}",
                lambda *xs, g=gcf: [g(xs[2 * k], xs[2 * k + 1]) for k in range(len(xs) // 2)],
                lambda *xs, n=npf: [n(xs[2 * k], xs[2 * k + 1]) for k in range(len(xs) // 2)],
                args, elementwise=True, hvp=dtype == "float64" and name != "mod"))
    # signs and special values: arctan2 on the axes and signed zeros, hypot and logaddexp with
    # infinities and huge values, NumPy's mod sign convention (the divisor's sign)
    a = np.array([1.0, -1.0, 0.0, -0.0, 0.0, -0.0, np.inf, -np.inf, 1e300, 5.0, -5.0, 5.0, -5.0, 7.5, np.nan, 3.0])
    b = np.array([0.0, 0.0, 1.0, 1.0, -1.0, -1.0, 2.0, np.inf, 1e300, 3.0, 3.0, -3.0, -3.0, 2.5, 1.0, np.inf])
    for dtype in FLOATS:
        huge = 3e38 if dtype == "float32" else 1e300
        aa, bb = np.where(a == 1e300, huge, a).astype(dtype), np.where(b == 1e300, huge, b).astype(dtype)
        cases.append(Case(
            f"binary-edge-values-{dtype}",
            lambda x, y: [gc.arctan2(x, y), gc.hypot(x, y), gc.logaddexp(x, y), gc.mod(x, y), gc.mod(x, 2.0)],
            lambda x, y: [np.arctan2(x, y), np.hypot(x, y), np.logaddexp(x, y), np.mod(x, y),
                          np.mod(x, np.asarray(2.0, x.dtype))],
            [aa, bb], grad=False, elementwise=True))
    for dtype in ("int32", "int64"):
        x = np.array([7, -7, 7, -7, 0, 0, 6, -6, 1], dtype)
        y = np.array([3, 3, -3, -3, 5, -5, 3, -3, -1], dtype)
        cases.append(Case(f"mod-{dtype}", lambda x, y: [gc.mod(x, y), gc.mod(x, 4), gc.mod(x, -4)],
                          lambda x, y: [np.mod(x, y), np.mod(x, np.asarray(4, x.dtype)),
                                        np.mod(x, np.asarray(-4, x.dtype))], [x, y]))
    return cases


@pytest.mark.parametrize("case", _params(_unary_cases() + _binary_cases()))
def test_elementwise(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# Documented argument errors


_ERRORS: list[tuple[str, tuple[int, ...], Callable[[Any], Any]]] = [
    ("sum-axis-out-of-range", (2, 3), lambda x: gc.sum(x, axis=2)),
    ("mean-axis-neg-out-of-range", (2, 3), lambda x: gc.mean(x, axis=-3)),
    ("var-repeated-axis", (2, 3), lambda x: gc.var(x, axis=(1, -1))),
    ("var-negative-ddof", (2, 3), lambda x: gc.var(x, ddof=-1)),
    ("std-float-ddof", (2, 3), lambda x: gc.std(x, ddof=0.5)),
    ("max-empty-axis", (0, 3), lambda x: gc.max(x, axis=0)),
    ("min-empty-all", (0,), lambda x: gc.min(x)),
    ("cumsum-axis", (2, 3), lambda x: gc.cumsum(x, axis=2)),
    ("flip-axis", (2, 3), lambda x: gc.flip(x, 3)),
    ("swapaxes-axis", (2, 3), lambda x: gc.swapaxes(x, 0, -3)),
    ("moveaxis-count", (2, 3, 4), lambda x: gc.moveaxis(x, (0, 1), (2,))),
    ("moveaxis-repeated", (2, 3, 4), lambda x: gc.moveaxis(x, (0, 0), (1, 2))),
    ("split-uneven", (5, 3), lambda x: gc.split(x, 2)),
    ("split-axis", (6,), lambda x: gc.split(x, 2, axis=1)),
    ("pad-negative", (2, 3), lambda x: gc.pad(x, -1)),
    ("tile-negative", (2, 3), lambda x: gc.tile(x, (-1, 2))),
    ("repeat-negative", (3,), lambda x: gc.repeat(x, [1, -1, 2])),
    ("squeeze-non-one", (1, 3), lambda x: gc.squeeze(x, 1)),
    ("squeeze-axis", (1, 3), lambda x: gc.squeeze(x, 2)),
    ("expand-repeated", (2, 3), lambda x: gc.expand_dims(x, (0, 0))),
    ("expand-out-of-range", (2, 3), lambda x: gc.expand_dims(x, 3)),
    ("triu-1d", (3,), lambda x: gc.triu(x)),
    ("tril-float-k", (3, 3), lambda x: gc.tril(x, 0.5)),
    ("take-constant-out-of-range", (4, 3), lambda x: gc.take(x, [0, 4])),
    ("take-constant-neg-out-of-range", (4, 3), lambda x: gc.take(x, [-5], axis=0)),
    ("take-scalar", (), lambda x: gc.take(x, [0])),
    ("take-bool", (3,), lambda x: gc.take(x, [True, False, True])),
    ("getitem-out-of-range", (4, 3), lambda x: x[[1, 4]]),
    ("getitem-arrays-out-of-range", (4, 3), lambda x: x[[1, 2], [0, 3]]),
    ("getitem-mask-shape", (4, 3), lambda x: x[np.ones((4, 4), bool)]),
    ("matmul-inner", (3, 4), lambda x: gc.matmul(x, x)),
    ("matmul-scalar", (3, 4), lambda x: gc.matmul(x, gc.sum(x))),
    ("matmul-batch", (2, 3, 3), lambda x: gc.matmul(x, gc.concatenate([x, x], 0)[:3])),
    ("einsum-unequal-diagonal", (3, 4), lambda x: gc.einsum("ii->i", x)),
    ("einsum-no-broadcast", (2, 3), lambda x: gc.einsum("ij,ij->ij", x, x[:, :2])),
    ("where-shapes", (2, 3), lambda x: gc.where(x > 0, x, gc.sum(x, axis=0)[:2])),
]


@pytest.mark.parametrize("build", [pytest.param(b, id=n) for n, _, b in _ERRORS])
def test_documented_errors(build: Callable[[Any], Any]) -> None:
    shape = next(s for n, s, b in _ERRORS if b is build)
    x = gc.placeholder(shape, "float64")
    with pytest.raises(gc.GraphcError):
        build(x)
