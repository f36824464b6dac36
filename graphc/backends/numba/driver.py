"""Running a program's kernels: generic loops compiled once per machine, never per program.

A kernel is a Numba cfunc `void(int64 *g, int64 *p)`. `g` points at what every kernel of a
step shares (`G_STEP`, the address of the status words, the loops' step indices and the
addresses of the BLAS's gemm); `p` at the kernel's own
parameters: the addresses of the arrays it reads or writes (feeds, variables, constants, arena
buffers alike).
A program is then data — its kernels' addresses and one int64 table of parameters — so that
running it, one step or many, compiles nothing: kernels are compiled once each, whatever
program uses them, and called through their addresses. The driver itself (`run_step`,
`run_steps`) is C functions too, compiled once per machine and called through ctypes, so
that a new process loads its machine code like a kernel's, without Numba's start-up.

A loop is data too: a kernel address 0 marks a loop's beginning or end, its parameter words
saying which (`LOOP_BEGIN`: the step count, whether reversed, the nesting depth, the index of
the end marker, and a word counting the steps done; `LOOP_END`: the index of the beginning).
The kernels between run once per step, reading the step's index from `g[G_LOOP + depth]`.
A cond is three markers: `COND_BEGIN` (the index of its `COND_ELSE`), `COND_ELSE` (the index of
its `COND_END`) and `COND_END`. The kernel before the first writes the predicate into
`g[G_PRED]`; where it is 0 the driver jumps past `COND_ELSE` to the false branch's kernels, and
where it is 1 runs the true branch's and, reaching `COND_ELSE`, jumps past `COND_END`.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

G_STEP, G_STATUS, G_LOOP = 0, 1, 2
MAX_DEPTH = 8  # loops nested in loops, at most
G_SGEMM = G_LOOP + MAX_DEPTH  # the addresses of the BLAS's float32 and float64 gemm (`blas.py`)
G_DGEMM = G_SGEMM + 1
G_PRED = G_DGEMM + 1  # the predicate of the cond whose first marker comes next
G_SIZE = G_PRED + 1
LOOP_BEGIN, LOOP_END, COND_BEGIN, COND_ELSE, COND_END = 1, 2, 3, 4, 5
# status[0]: 0, or why a kernel stopped; status[1]: which of its failure sites; status[2]: a
# value the site reports; status[3]: which kernel of the program (set by the driver).
STATUS_WORDS = 4
KERNEL_SIGNATURE = types.void(types.CPointer(types.int64), types.CPointer(types.int64))


@intrinsic
def address_as(typingctx, address, dtype):  # type: ignore[no-untyped-def]
    """The integer `address` as a pointer to `dtype` elements (for `numba.carray`)."""
    if not isinstance(address, types.Integer) or not isinstance(dtype, types.NumberClass):
        return None
    pointer = types.CPointer(dtype.instance_type)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, dtype), codegen


@intrinsic
def call_kernel(typingctx, function, g, p):  # type: ignore[no-untyped-def]
    """Call the kernel at address `function` with parameter blocks at addresses `g` and `p`."""
    if not all(isinstance(t, types.Integer) for t in (function, g, p)):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        block = ir.IntType(64).as_pointer()
        kind = ir.FunctionType(ir.VoidType(), [block, block])
        target = builder.inttoptr(args[0], kind.as_pointer())
        builder.call(target, [builder.inttoptr(args[1], block), builder.inttoptr(args[2], block)])
        return context.get_dummy_value()

    return types.void(function, g, p), codegen


_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def after_marker(k: int, starts: np.ndarray, table: np.ndarray) -> int:
    """The index of the kernel to run after marker `k` (a loop's, setting the step index; or a cond's)."""
    s = starts[k]
    kind = table[s]
    if kind == COND_BEGIN:
        return k + 1 if table[G_PRED] != 0 else table[s + 1] + 1
    if kind == COND_ELSE:  # the true branch is done
        return table[s + 1] + 1
    if kind == COND_END:
        return k + 1
    if kind == LOOP_BEGIN:
        n, reverse, depth, end = table[s + 1], table[s + 2], table[s + 3], table[s + 4]
        if n == 0:
            return end + 1
        table[s + 5] = 0
        table[G_LOOP + depth] = n - 1 if reverse else 0
        return k + 1
    begin = table[s + 1]
    b = starts[begin]
    done = table[b + 5] + 1
    if done >= table[b + 1]:
        return k + 1
    table[b + 5] = done
    table[G_LOOP + table[b + 3]] = table[b + 1] - 1 - done if table[b + 2] else done
    return begin + 1


def run_step(block_at: int) -> int:
    """`run_program` with its arguments in the int64 words at `block_at` (one argument: the
    cheapest call through ctypes)."""
    b = numba.carray(address_as(block_at, np.int64), 6)
    return run_program_jit(b[0], b[1], b[2], b[3], b[4], b[5])


def run_program(functions_at: int, starts_at: int, table_at: int, status_at: int, n_kernels: int, table_size: int) -> int:
    """Run every kernel in order (the kernels of a loop once per step); the index of the one
    that set a status (-1 if none did). Arrays by address: the kernels' addresses and their
    parameter blocks' starts (`n_kernels` each), the table (`table_size` words), the status
    words."""
    functions = numba.carray(address_as(functions_at, np.int64), n_kernels)
    starts = numba.carray(address_as(starts_at, np.int64), n_kernels)
    table = numba.carray(address_as(table_at, np.int64), table_size)
    status = numba.carray(address_as(status_at, np.int64), STATUS_WORDS)
    k = 0
    while k < n_kernels:
        if functions[k] == 0:
            k = after_marker(k, starts, table)
            continue
        call_kernel(functions[k], table_at, table_at + 8 * starts[k])
        if status[0] != 0:
            status[3] = k
            return k
        k += 1
    return -1


def run_steps(functions_at: int, starts_at: int, table_at: int, status_at: int, n_kernels: int, table_size: int,
              arena_at: int, n_steps: int, step0: int, fed_at: int, fed_base_at: int, fed_stride_at: int, n_fed: int,
              out_offset_at: int, out_bytes_at: int, out_base_at: int, n_out: int) -> int:
    """`n_steps` steps: before step t each fed slot `fed[i]` of the table points at row t of its
    stack (`fed_base[i] + t * fed_stride[i]`); after it, output i (`out_bytes[i]` bytes at arena
    byte `out_offset[i]`) is copied into row t of its stack at `out_base[i]`. Returns the number
    of steps done (fewer when a kernel set a status). Arrays by address, as `run_step`."""
    table = numba.carray(address_as(table_at, np.int64), table_size)
    fed = numba.carray(address_as(fed_at, np.int64), n_fed)
    fed_base = numba.carray(address_as(fed_base_at, np.int64), n_fed)
    fed_stride = numba.carray(address_as(fed_stride_at, np.int64), n_fed)
    out_offset = numba.carray(address_as(out_offset_at, np.int64), n_out)
    out_bytes = numba.carray(address_as(out_bytes_at, np.int64), n_out)
    out_base = numba.carray(address_as(out_base_at, np.int64), n_out)
    for t in range(n_steps):
        for i in range(n_fed):
            table[fed[i]] = fed_base[i] + t * fed_stride[i]
        table[G_STEP] = step0 + t
        if run_program_jit(functions_at, starts_at, table_at, status_at, n_kernels, table_size) >= 0:
            return t
        for i in range(n_out):
            n = out_bytes[i]
            row = numba.carray(address_as(out_base[i] + t * n, np.uint8), n)
            arena = numba.carray(address_as(arena_at + out_offset[i], np.uint8), n)
            for b in range(n):
                row[b] = arena[b]
    return n_steps


run_program_jit = _jit(run_program)
DRIVER_SIGNATURES = {  # the driver's C functions
    "run_step": types.int64(types.int64),
    "run_steps": types.int64(*[types.int64] * 17),
}


def address_as_python(address: int, dtype: Any) -> tuple[int, np.dtype]:
    """`address_as` for kernels run by CPython: the pair `carray_python` takes."""
    return int(address), np.dtype(dtype)


def carray_python(pointer: tuple[int, np.dtype], n: int) -> np.ndarray:
    """`numba.carray` for kernels run by CPython: `n` elements at the address, writable."""
    address, dtype = pointer
    raw = (ctypes.c_char * (int(n) * dtype.itemsize)).from_address(address)
    return np.frombuffer(raw, dtype=dtype)
