"""Numba helper kernels: accuracy of the vectorizing float32 tanh and exp over the whole input range."""

from __future__ import annotations

import numba
import numpy as np

from graphc.backends.numba.helpers import exp_f32, tanh_f32


@numba.njit(error_model="numpy")
def _tanh_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = tanh_f32(x[i])


def test_tanh_f32_is_within_1_3_ulp_over_the_whole_range() -> None:
    # Measured against float64 tanh rounded to float32's spacing; PyTorch's (SLEEF) is 0.51 here.
    x = np.concatenate([
        np.linspace(-20, 20, 2_000_001), np.geomspace(1e-38, 1, 100_000), -np.geomspace(1e-38, 1, 100_000),
        [1e30, -1e30, 3.4e38, -3.4e38, 1e-45, -1e-45],
    ]).astype(np.float32)
    got = np.empty_like(x)
    _tanh_all(x, got)
    want = np.tanh(x.astype(np.float64))
    ulp = np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert ulp.max() <= 1.3
    assert np.mean(ulp) < 0.15
    np.testing.assert_array_equal(got[np.abs(x) >= 9.1], np.sign(x[np.abs(x) >= 9.1]))  # exactly +-1 out there


@numba.njit(error_model="numpy")
def _exp_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = exp_f32(x[i])


def test_exp_f32_is_within_one_ulp_over_the_whole_range() -> None:
    # Every result from the overflow threshold down through the subnormals: at most one unit in
    # the last place from float64 exp (NumPy's own float32 exp is within 2.5 here).
    x = np.concatenate([np.linspace(-104.5, 89.5, 1_000_001), np.geomspace(1e-40, 1, 10_000),
                        -np.geomspace(1e-40, 1, 10_000)]).astype(np.float32)
    got = np.empty_like(x)
    _exp_all(x, got)
    want = np.exp(x.astype(np.float64))
    with np.errstate(over="ignore"):
        want32 = want.astype(np.float32)
    finite = np.isfinite(want32) & (want32 != 0)
    ulp = np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want32[finite])).astype(np.float64)
    assert ulp.max() <= 1.0
    np.testing.assert_array_equal(got[~finite], want32[~finite])  # inf above 88.72, 0 below -103.97
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)
    out = np.empty_like(special)
    _exp_all(special, out)
    np.testing.assert_array_equal(out, [np.inf, 0.0, np.nan, 1.0, 1.0])


def test_tanh_f32_special_values() -> None:
    assert tanh_f32(np.float32(np.inf)) == 1.0 and tanh_f32(np.float32(-np.inf)) == -1.0
    assert tanh_f32(np.float32(20.0)) == 1.0
    assert np.isnan(tanh_f32(np.float32(np.nan)))
    zero = tanh_f32(np.float32(-0.0))
    assert zero == 0.0 and np.signbit(zero)
