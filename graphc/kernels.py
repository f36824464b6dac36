"""Numba helpers that generated programs call: Philox draws and a finiteness check.

The Philox code is the scalar twin of `graphc.philox` (same key, counters and bit-to-float
conversions), so compiled programs draw what the NumPy reference draws.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

_jit = functools.partial(numba.njit, nogil=True, cache=True, error_model="numpy")
_MASK = np.uint64(0xFFFFFFFF)


@_jit
def _philox_block(index: int, step: int, stream: int, seed: int) -> tuple[int, int, int, int]:
    c0 = np.uint64(index) & _MASK
    c1 = np.uint64(step) & _MASK
    c2 = np.uint64(stream) & _MASK
    c3 = np.uint64(0)
    k0 = np.uint64(seed) & _MASK
    k1 = (np.uint64(seed) >> np.uint64(32)) & _MASK
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + np.uint64(0x9E3779B9)) & _MASK
        k1 = (k1 + np.uint64(0xBB67AE85)) & _MASK
    return c0, c1, c2, c3


@_jit
def _unit(hi: int, lo: int, single: bool) -> float:
    if single:
        return float(hi >> np.uint64(8)) * 2.0**-24
    return float((hi << np.uint64(21)) | (lo >> np.uint64(11))) * 2.0**-53


@_jit
def philox_uniform(out: np.ndarray, seed: int, stream: int, step: int) -> None:
    """Fill 1-D `out` with uniform draws in [0, 1) (as graphc.philox.uniform)."""
    single = out.itemsize == 4
    for i in range(out.size):
        w0, w1, _, _ = _philox_block(i, step, stream, seed)
        out[i] = _unit(w0, w1, single)


@_jit
def philox_normal(out: np.ndarray, seed: int, stream: int, step: int) -> None:
    """Fill 1-D `out` with standard normal draws (as graphc.philox.normal)."""
    single = out.itemsize == 4
    for i in range(out.size):
        w0, w1, w2, w3 = _philox_block(i, step, stream, seed)
        u1 = 1.0 - _unit(w0, w1, single)
        u2 = _unit(w2, w3, single)
        out[i] = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@_jit
def all_finite(flat: np.ndarray) -> bool:
    """Whether no element of 1-D `flat` is NaN or infinite."""
    for i in range(flat.size):
        if not math.isfinite(flat[i]):
            return False
    return True
