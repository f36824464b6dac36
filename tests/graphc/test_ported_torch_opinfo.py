"""Special values in the manner of PyTorch's OpInfo reference inputs, for the ops a port of that
suite found wrong (each case failed before its fix).

PyTorch's ``torch/testing/_internal/common_methods_invocations.py`` feeds every op samples made
of extremal values (infinities, NaN, signed zeros, numbers whose products overflow) and compares
values and gradients with a reference. Here the same kinds of inputs go through graphc in every
way it runs a graph: natively with every pass, natively with none, on the NumPy back end and
eagerly. Each must give the exact answer: NumPy's where NumPy defines it, else the product of
the others computed one by one, log 3 for three equal logits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import eager

MODES = ["native", "native, no pass", "numpy back end", "eager"]


def run(fn: Callable[..., Any], arrays: list[np.ndarray], mode: str) -> list[np.ndarray]:
    """fn's outputs (a list) on `arrays`, run the way `mode` names."""
    if mode == "eager":
        out = fn(*[eager.tensor(a) for a in arrays])
        return [np.asarray(o.data) for o in (out if isinstance(out, list) else [out])]
    inputs = [gc.placeholder(a.shape, a.dtype) for a in arrays]
    options = {"native": {}, "native, no pass": {"optimize": False}, "numpy back end": {"backend": "numpy"}}[mode]
    out = gc.compile(inputs, fn(*inputs), **options)(*arrays)
    return out if isinstance(out, list) else [out]


def gradient(fn: Callable[[Any], Any], x: np.ndarray, mode: str) -> np.ndarray:
    """d sum(fn(x)) / dx, run the way `mode` names."""
    if mode == "eager":
        t = eager.tensor(x, requires_grad=True)
        gc.sum(fn(t)).backward()
        return np.asarray(t.grad)
    return run(lambda v: gc.grad(gc.sum(fn(v)), v), [x], mode)[0]


def same(got: np.ndarray, want: np.ndarray, rtol: float = 0.0) -> bool:
    """Equal, NaN where NaN, signs of zeros included; finite values to `rtol`."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not np.array_equal(np.isnan(got), np.isnan(want)):
        return False
    exact = ~np.isnan(want) & ((rtol == 0.0) | ~np.isfinite(want) | (want == 0))
    close = ~np.isnan(want) & ~exact
    return bool(np.array_equal(got[exact], want[exact]) and np.array_equal(np.signbit(got[exact]), np.signbit(want[exact]))
                and np.allclose(got[close], want[close], rtol=rtol, atol=0.0))


# --- cumsum: its shifted copies were led by x * 0, which is NaN where x is infinite ---

ROWS = np.array([[np.inf, 1.0, 2.0, 3.0, 4.0], [1.0, -np.inf, 2.0, np.inf, 5.0], [-0.0, -0.0, 1.0, -1.0, -0.0],
                 [1.0, np.nan, 2.0, 3.0, 4.0], [2.0, 0.5, np.inf, 1.0, -np.inf]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
def test_cumsum_carries_infinities_and_signed_zeros(mode: str, dtype: str) -> None:
    rows = ROWS.astype(dtype)
    for axis in (1, None):
        (got,) = run(lambda x, axis=axis: gc.cumsum(x, axis=axis), [rows], mode)
        with np.errstate(all="ignore"):
            assert same(got, np.cumsum(rows, axis=axis)), (axis, got)
    ints = np.array([[3, -1, 4], [1, 5, -9]], np.int32)
    (got,) = run(lambda x: gc.cumsum(x, axis=0), [ints], mode)
    assert got.dtype == np.cumsum(ints, axis=0).dtype and np.array_equal(got, np.cumsum(ints, axis=0))


# --- softmax_cross_entropy: log(sum) was added to the row's maximum before the picked logit ---

@pytest.mark.parametrize("mode", MODES)
def test_cross_entropy_of_large_equal_logits_is_log_3(mode: str) -> None:
    for dtype, scale in [("float32", 1e4), ("float32", 1e6), ("float32", 1e7), ("float64", 1e17), ("float64", -1e300)]:
        logits, labels = np.full((2, 3), scale, dtype), np.array([0, 2])
        (got,) = run(gc.softmax_cross_entropy, [logits, labels], mode)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, math.log(3.0), rtol=2 * np.finfo(dtype).eps, err_msg=f"{dtype} {scale}")
    # large logits that differ: the loss is the picked logit's distance below the log-sum-exp
    logits = np.array([[1e7, 1e7 + 2.0, 1e7 - 3.0]], np.float64)
    (got,) = run(gc.softmax_cross_entropy, [logits, np.array([0])], mode)
    want = math.log(1.0 + math.exp(2.0) + math.exp(-3.0))
    np.testing.assert_allclose(got, [want], rtol=1e-12)


def test_cross_entropy_agrees_with_pytorch_at_large_logits() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for dtype in ("float32", "float64"):
        logits = (1e6 + rng.standard_normal((16, 10)) * 3.0).astype(dtype)
        labels = rng.integers(0, 10, 16)
        (got,) = run(gc.softmax_cross_entropy, [logits, labels], "native")
        theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none")
        np.testing.assert_allclose(got, theirs.numpy(), rtol=4 * np.finfo(dtype).eps * 1e6, atol=0)


# --- pow: (-inf) ** y was NaN for every positive non-integer y; C's pow says +inf ---

EXPONENTS = np.array([1.5, 2.5, 0.25, 1e-300, -1.5, -0.25, 3.0, -3.0, 2.0, 0.5, -0.5, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("mode", MODES)
def test_pow_at_minus_infinity_and_minus_zero_follows_c_then_sqrt(mode: str) -> None:
    for base in (-np.inf, -0.0):
        x = np.full(EXPONENTS.shape, base)
        (got,) = run(gc.pow, [x, EXPONENTS], mode)
        with np.errstate(all="ignore"):
            want = np.power(x, EXPONENTS)  # NumPy's array loop is C's pow
            want = np.where(EXPONENTS == 0.5, np.sqrt(x), np.where(EXPONENTS == -0.5, 1 / np.sqrt(x), want))
        assert same(got, want), (base, got, want)
    if mode != "eager":  # a constant exponent: the simplifier's sqrt gives the same bits as pow's rule
        x = np.array([-np.inf, -0.0, 0.0, 4.0, -4.0])
        roots = run(lambda v: [v**0.5, v**-0.5, v**1.5], [x], mode)
        with np.errstate(all="ignore"):
            assert same(roots[0], np.sqrt(x)) and same(roots[1], 1 / np.sqrt(x))
            assert same(roots[2], np.power(x, 1.5))


def test_pow_agrees_with_pytorchs_scalar_exponents() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([-np.inf, -0.0, 0.0, 2.0, np.inf, -2.0])
    for e in (1.5, 0.5, -0.5, -1.5, 3.0, 0.25):
        (got,) = run(lambda v, e=e: v**e, [x], "native, no pass")
        assert same(got, (torch.tensor(x) ** e).numpy(), rtol=1e-15), e


# --- prod's gradient: out / x was NaN wherever the group held an infinity, NaN or overflowed ---

def others(row: np.ndarray) -> np.ndarray:
    """Each element's product of the others in its row, one by one."""
    with np.errstate(all="ignore"):
        return np.array([np.prod(np.delete(row, i)) for i in range(len(row))])


PROD_ROWS = np.array([[np.inf, 0.0, 1.0, 2.0], [np.nan, 1.0, 2.0, 3.0], [1e200, 1e200, 2.0, 0.5],
                      [0.0, 0.0, 2.0, 3.0], [0.0, 5.0, -2.0, 3.0], [-1.0, 4.0, 0.5, -np.inf]])


@pytest.mark.parametrize("mode", MODES)
def test_prod_gradient_is_the_product_of_the_others(mode: str) -> None:
    want = np.array([others(r) for r in PROD_ROWS])
    assert same(gradient(lambda x: gc.prod(x, axis=1), PROD_ROWS, mode), want, rtol=1e-15)
    # over several axes at once, and over all of them
    cube = np.arange(1.0, 25.0).reshape(2, 3, 4)
    cube[1, 2, 3] = 0.0
    got = gradient(lambda x: gc.prod(x, axis=(0, 2), keepdims=True), cube, mode)
    moved = np.moveaxis(cube, 1, 0).reshape(3, 8)
    assert same(got, np.moveaxis(np.array([others(r) for r in moved]).reshape(3, 2, 4), 0, 1), rtol=1e-15)
    assert same(gradient(gc.prod, cube, mode), others(cube.ravel()).reshape(cube.shape), rtol=1e-15)


@pytest.mark.parametrize("mode", ["native", "numpy back end"])
def test_prod_second_derivative_is_the_product_of_all_but_two(mode: str) -> None:
    row = np.array([0.0, 0.0, 2.0, 3.0])
    (hessian,) = run(lambda x: gc.jacobian(gc.grad(gc.prod(x), x), x), [row], mode)
    want = np.zeros((4, 4))
    for i, j in itertools.permutations(range(4), 2):
        want[i, j] = np.prod(np.delete(row, [i, j]))
    assert same(hessian, want)


def test_prod_gradient_agrees_with_pytorch() -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(PROD_ROWS, requires_grad=True)
    t.prod(1).sum().backward()  # a zero in the batch sends PyTorch down its exact path for every row
    assert same(gradient(lambda x: gc.prod(x, axis=1), PROD_ROWS, "native"), t.grad.numpy(), rtol=1e-15)
