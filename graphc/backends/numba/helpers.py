"""Numba helpers that generated programs call: Philox draws and a finiteness check.

The Philox code is the scalar twin of `graphc.philox` (same key, counters and bit-to-float
conversions), so compiled programs draw what the NumPy reference draws.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba.extending import intrinsic

from .driver import G_DGEMM, G_SGEMM

# Row-major CBLAS constants (the gemm signature kernels call: `graphc.backends.numba.blas`).
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

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


@intrinsic
def _f32_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    """The float32 whose bit pattern is the int32 `bits` (an LLVM bitcast, which vectorizes)."""
    from llvmlite import ir
    from numba.core import types

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        value = context.cast(builder, args[0], signature.args[0], types.int32)
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


# exp for float32 that vectorizes: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two, as
# Cody and Waite), e**r by Cephes' expf polynomial, times 2**n built from its bits in two halves
# (so that results down to the smallest subnormal come out right). Libm's expf is a scalar call
# (3.3 ns per element here). Max error against float64 exp: 1 ulp (tests/graphc/test_kernels.py).
_F = np.float32
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_P0, _P1, _P2, _P3, _P4, _P5 = (_F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3), _F(4.1665795894e-2),
                                _F(1.6666665459e-1), _F(5.0000001201e-1))
_EXP_HIGH, _EXP_LOW, _HALF, _INF, _ONE = _F(88.72283935546875), _F(-103.97283935546875), _F(0.5), _F(np.inf), _F(1.0)


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def exp_f32(x: float) -> float:
    """e**x of a float32 scalar, inlined into loops so that they vectorize."""
    c = np.minimum(np.maximum(x, _EXP_LOW), _EXP_HIGH)
    n = np.floor(c * _LOG2E + _HALF)
    r = (c - n * _LN2_HI) - n * _LN2_LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    p = p * (r * r) + r + _ONE
    k = np.int32(n)
    half = k >> 1
    scaled = p * _f32_from_bits((half + 127) << 23) * _f32_from_bits((k - half + 127) << 23)
    if x > _EXP_HIGH:
        return _INF
    if x < _EXP_LOW:
        return _F(0.0)
    return scaled if x == x else x  # NaN stays NaN


# tanh for float32 that vectorizes, after Cephes' tanhf: below 0.625 an odd polynomial; above,
# 1 - 2 / (e**2|x| + 1) with e**2|x| by exp_f32's steps (no overflow or subnormal case: 2|x| is
# at most 20, where the result is 1 in float32). Both are computed and one is selected, so the
# loop stays branch-free. Libm's tanhf is a scalar call (16 ns per element here); this is about
# 0.7 ns. Max error against float64 tanh: 1.3 ulp (tests/graphc/test_kernels.py), where the
# Eigen/XLA rational function this replaced was 6 ulp (gelu's tail, 1 + tanh, showed it).
_T1, _T3, _T5 = _F(-3.33332819422e-1), _F(1.33314422036e-1), _F(-5.37397155531e-2)
_T7, _T9 = _F(2.06390887954e-2), _F(-5.70498872745e-3)
_POLY_BELOW, _TANH_CAP, _TWO = _F(0.625), _F(10.0), _F(2.0)


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def tanh_f32(x: float) -> float:
    """tanh of a float32 scalar, inlined into loops so that they vectorize."""
    a = np.minimum(abs(x), _TANH_CAP)
    z = a * a
    near_zero = a + a * z * (_T1 + z * (_T3 + z * (_T5 + z * (_T7 + z * _T9))))
    t = a + a
    n = np.floor(t * _LOG2E + _HALF)
    r = (t - n * _LN2_HI) - n * _LN2_LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    e = (p * (r * r) + r + _ONE) * _f32_from_bits((np.int32(n) + 127) << 23)
    y = near_zero if a < _POLY_BELOW else _ONE - _TWO / (e + _ONE)
    return np.copysign(y, x) if x == x else x  # odd, -0 included; NaN stays NaN


# `for i in lanes(n)` is `for i in range(n)` whose iterations kernel_ir asks LLVM to run in
# vector lanes however few they are: its cost model leaves loops of under 16 known trips scalar
# (a pooling row of 12 windows). Numba, running the same source, sees range itself.
lanes = range


# Floats to integers as C converts them on x86-64, NumPy with it (truncation toward 0; the
# lowest int where the value is out of range or NaN; narrower ints through int32). LLVM's own conversion is poison out of range, which constant folding turns
# into anything (a constant -1.0 as uint8 came out 0, not NumPy's 255).
@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def int32_of(x: float) -> int:
    return np.int32(x) if -2147483648.0 <= x < 2147483648.0 else np.int32(-2147483648)


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def int64_of(x: float) -> int:
    return np.int64(x) if -9223372036854775808.0 <= x < 9223372036854775808.0 else np.int64(-9223372036854775808)


@_jit
def all_finite(flat: np.ndarray) -> bool:
    """Whether no element of 1-D `flat` is NaN or infinite."""
    for i in range(flat.size):
        if not math.isfinite(flat[i]):
            return False
    return True


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"}, boundscheck=False)
def sum_run(flat: np.ndarray, start: int, n: int) -> float:
    """The float64 sum of flat[start:start + n], contiguous: reassociation (the only fast-math
    flag: inf and nan behave as IEEE says) lets LLVM keep partial sums in vector lanes, 14x
    faster than one running sum. Unsigned indices spare the negative-index check that would
    otherwise turn the loads into gathers."""
    acc = 0.0
    base = np.uint64(start)
    for i in range(np.uint64(n)):
        acc += np.float64(flat[base + i])
    return acc


@_jit
def add_run(dst: np.ndarray, i: int, src: np.ndarray, j: int, n: int) -> None:
    """dst[i:i + n] += src[j:j + n], elementwise; the two runs never overlap. `kernel_ir`
    gives a run of literal length one vector load of each, one add and one store (neither this
    loop nor the row written out is vectorized by LLVM, which cannot rule out an overlap, and
    Numba leaves its SLP vectorizer off)."""
    a, b = np.uint64(i), np.uint64(j)
    for k in range(np.uint64(n)):
        dst[a + k] += src[b + k]


@_jit
def copy_run(dst: np.ndarray, i: int, src: np.ndarray, j: int, n: int) -> None:
    """dst[i:i + n] = src[j:j + n]; the two runs never overlap. As `add_run`, one vector load
    and store for a literal n."""
    a, b = np.uint64(i), np.uint64(j)
    for k in range(np.uint64(n)):
        dst[a + k] = src[b + k]


@intrinsic
def gemm(typingctx, g, a, ia, b, ib, c, ic, trans_a, trans_b, m, n, k, alpha, beta):  # type: ignore[no-untyped-def]
    """c = alpha * op(a) @ op(b) + beta * c for row-major matrices held in 1-D arrays, starting
    `ia`, `ib`, `ic` elements in: op(a) is [m, k] (the transpose of a's [k, m] data when
    trans_a), op(b) is [k, n], c is [m, n]. It calls the gemm whose address the shared words `g`
    hold (`G_SGEMM` or `G_DGEMM`, see `graphc.backends.numba.blas`), so cached machine code holds
    no address; with alpha and beta, `w - lr * (x.T @ g)` is one gemm into w, without the
    product ever being stored. Offsets, not slices: a slice costs Numba's typing and LLVM far
    more code than the call."""
    from llvmlite import ir
    from numba.core import cgutils, types

    if not isinstance(g, types.CPointer) or a.dtype not in (types.float32, types.float64):
        return None
    sig = types.void(g, a, ia, b, ib, c, ic, trans_a, trans_b, m, n, k, alpha, beta)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        g_, a_, ia_, b_, ib_, c_, ic_, ta, tb, m_, n_, k_, alpha_, beta_ = args
        types_ = signature.args
        dtype = types_[1].dtype
        element, i32, i64 = context.get_value_type(dtype), ir.IntType(32), ir.IntType(64)
        pointer = element.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, element, pointer, i64, pointer, i64,
                                               element, pointer, i64])
        word = G_SGEMM if dtype == types.float32 else G_DGEMM
        address = builder.load(builder.gep(g_, [i64(word)]))
        target = builder.inttoptr(address, fnty.as_pointer())
        data = []
        for t, v, off, off_t in ((types_[1], a_, ia_, types_[2]), (types_[3], b_, ib_, types_[4]),
                                 (types_[5], c_, ic_, types_[6])):
            start = cgutils.create_struct_proxy(t)(context, builder, value=v).data
            data.append(builder.gep(start, [context.cast(builder, off, off_t, types.intp)]))
        m_, n_, k_ = (context.cast(builder, v, types_[i], types.int64) for i, v in ((9, m_), (10, n_), (11, k_)))
        ta = builder.icmp_unsigned("!=", context.cast(builder, ta, types_[7], types.int64), i64(0))
        tb = builder.icmp_unsigned("!=", context.cast(builder, tb, types_[8], types.int64), i64(0))
        flag_a, ld_a = builder.select(ta, i32(TRANS), i32(NO_TRANS)), builder.select(ta, m_, k_)
        flag_b, ld_b = builder.select(tb, i32(TRANS), i32(NO_TRANS)), builder.select(tb, k_, n_)
        alpha_, beta_ = (context.cast(builder, v, types_[i], dtype) for i, v in ((12, alpha_), (13, beta_)))
        builder.call(target, (i32(ROW_MAJOR), flag_a, flag_b, m_, n_, k_, alpha_, data[0], ld_a, data[1], ld_b, beta_,
                              data[2], n_))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _scipy_gemm(typingctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):  # type: ignore[no-untyped-def]
    """Row-major gemm on raw pointers through the BLAS of Numba's own np.dot (SciPy's;
    numba_xxgemm, resolved by name when the code is linked)."""
    from llvmlite import ir
    from numba.core import cgutils, types

    sig = types.void(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        dtype = signature.args[6].dtype
        void_p, char, intp = ir.IntType(8).as_pointer(), ir.IntType(8), context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [char, char, char, intp, intp, intp, void_p, void_p, intp,
                                                void_p, intp, void_p, void_p, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        slots = []
        for value in (alpha_, beta_):
            slot = cgutils.alloca_once(builder, context.get_value_type(dtype))
            builder.store(value, slot)
            slots.append(builder.bitcast(slot, void_p))
        flag = {}
        for name, t in (("a", ta), ("b", tb)):
            flag[name] = builder.select(builder.icmp_signed("==", t, ir.IntType(32)(TRANS)), char(ord("t")), char(ord("n")))
        kind = char(ord("s" if dtype == types.float32 else "d"))
        # Row-major c = op(a) op(b) is column-major c^T = op(b)^T op(a)^T.
        builder.call(fn, (kind, flag["b"], flag["a"], n_, m_, k_, slots[0], builder.bitcast(b_, void_p), ldb_,
                          builder.bitcast(a_, void_p), lda_, slots[1], builder.bitcast(c_, void_p), ldc_))
        return context.get_dummy_value()

    return sig, codegen


def gemm_adapter(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):  # type: ignore[no-untyped-def]
    """The kernels' gemm signature (`blas.gemm_signature`, row-major only) on SciPy's BLAS:
    compiled by `graphc.backends.numba.blas` as a cfunc when NumPy has no OpenBLAS of its own."""
    _scipy_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


def gemm_reference(g: object, a: np.ndarray, ia: int, b: np.ndarray, ib: int, c: np.ndarray, ic: int, trans_a: int,
                   trans_b: int, m: int, n: int, k: int, alpha: float, beta: float) -> None:
    """`gemm` in NumPy, for generated code run by CPython (an intrinsic runs only in Numba)."""
    a, b, c = a[ia:ia + m * k], b[ib:ib + k * n], c[ic:ic + m * n]
    left = a.reshape(k, m).T if trans_a else a.reshape(m, k)
    right = b.reshape(n, k).T if trans_b else b.reshape(k, n)
    out = c.reshape(m, n)
    out[...] = alpha * (left @ right) + (beta * out if beta else 0)  # beta 0: c is not read (as BLAS)
