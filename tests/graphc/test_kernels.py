"""Numba helper kernels: accuracy of the vectorizing float32 tanh over the whole input range."""

from __future__ import annotations

import numpy as np

from graphc.backends.numba.helpers import tanh_f32


def test_tanh_f32_accuracy_bound_over_the_whole_range() -> None:
    grid = np.concatenate([
        np.linspace(-20, 20, 400_001), np.geomspace(1e-38, 1e-2, 20_000), -np.geomspace(1e-38, 1e-2, 20_000),
        [1e30, -1e30, 3.4e38, -3.4e38, 1e-45, -1e-45],
    ]).astype(np.float32)
    got = np.array([tanh_f32(v) for v in grid[::7]] + [tanh_f32(v) for v in grid[-6:]], np.float64)
    x = np.concatenate([grid[::7], grid[-6:]]).astype(np.float64)
    want = np.tanh(x)
    assert np.max(np.abs(got - want)) < 4e-7
    small = np.abs(x) < 1e-2
    assert np.max(np.abs(got[small] - want[small]) / np.maximum(np.abs(want[small]), 1e-45)) < 3e-7


def test_tanh_f32_special_values() -> None:
    assert tanh_f32(np.float32(np.inf)) == 1.0 and tanh_f32(np.float32(-np.inf)) == -1.0
    assert tanh_f32(np.float32(20.0)) == 1.0
    assert np.isnan(tanh_f32(np.float32(np.nan)))
    zero = tanh_f32(np.float32(-0.0))
    assert zero == 0.0 and np.signbit(zero)
