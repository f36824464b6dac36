"""Philox-4x32-10, the counter-based generator of Salmon et al. (SC'11), in NumPy.

A draw is a pure function of (key, counter): no state, so any executor that evaluates the same
formula gets the same bits. graphc's random ops use key = the node's seed, and counter =
(element index, call number k, the node's stream number, 0); every element uses its own block.
"""

from __future__ import annotations

import math

import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK = np.uint64(0xFFFFFFFF)
_ROUNDS = 10


def philox4x32(
    counter: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], key: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ten Philox rounds on uint32 counter words (arrays of one shape) under a 2-word key."""
    c0, c1, c2, c3 = (np.asarray(c, np.uint64) & _MASK for c in counter)
    k0, k1 = key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF
    for _ in range(_ROUNDS):
        p0, p1 = _M0 * c0, _M1 * c2  # 32x32 -> 64-bit products, exact in uint64
        hi0, lo0, hi1, lo1 = p0 >> np.uint64(32), p0 & _MASK, p1 >> np.uint64(32), p1 & _MASK
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


def random_words(size: int, seed: int, stream: int, step: int) -> tuple[np.ndarray, ...]:
    """Four uint64 arrays of 32 random bits each, one entry per element."""
    index = np.arange(size, dtype=np.uint64)
    zeros = np.zeros(size, np.uint64)
    counter = (index, zeros + np.uint64(step & 0xFFFFFFFF), zeros + np.uint64(stream & 0xFFFFFFFF), zeros)
    return philox4x32(counter, (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF))


def _unit(hi: np.ndarray, lo: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Uniform in [0, 1) from 24 bits (float32) or 53 bits (float64), exactly representable."""
    if np.dtype(dtype) == np.float32:
        return (hi >> np.uint64(8)).astype(np.float64) * 2.0**-24
    return ((hi << np.uint64(21)) | (lo >> np.uint64(11))).astype(np.float64) * 2.0**-53


def uniform(shape: tuple[int, ...], dtype: np.dtype, seed: int, stream: int, step: int) -> np.ndarray:
    """Uniform draws in [0, 1)."""
    size = int(np.prod(shape, dtype=np.int64))
    w = random_words(size, seed, stream, step)
    return _unit(w[0], w[1], dtype).astype(dtype).reshape(shape)


# The C library's log and cos, element by element: NumPy's own SIMD versions differ from them
# in the last bit now and then, and compiled code calls the C library.
_libm_log = np.frompyfunc(math.log, 1, 1)
_libm_cos = np.frompyfunc(math.cos, 1, 1)


def normal(shape: tuple[int, ...], dtype: np.dtype, seed: int, stream: int, step: int) -> np.ndarray:
    """Standard normal draws (Box-Muller on two uniforms per element, in float64)."""
    size = int(np.prod(shape, dtype=np.int64))
    w = random_words(size, seed, stream, step)
    u1 = 1.0 - _unit(w[0], w[1], dtype)  # in (0, 1]: log(u1) is finite
    u2 = _unit(w[2], w[3], dtype)
    log_u1 = np.asarray(_libm_log(u1), dtype=np.float64)
    cos_u2 = np.asarray(_libm_cos(2.0 * np.pi * u2), dtype=np.float64)
    z = np.sqrt(-2.0 * log_u1) * cos_u2
    return z.astype(dtype).reshape(shape)
