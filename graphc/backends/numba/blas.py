"""The BLAS compiled kernels call, and how many threads it runs.

Kernels call gemm through an address they read from the shared words of the program's table
(`driver.G_SGEMM`, `driver.G_DGEMM`), never through an address compiled into their machine code:
cached code stays valid in every process, whatever library the process loaded and where. The
function at that address has one fixed signature, row-major CBLAS with 64-bit integers
(`gemm_signature`), whichever library stands behind it:

- NumPy's own OpenBLAS (`numpy.libs/libscipy_openblas64_*`, in NumPy's wheels), when there: the
  library `np.matmul` uses, so a product costs what it costs in NumPy (one to two tenths faster
  here than SciPy's build for the products an LSTM step makes);
- otherwise SciPy's BLAS, the one Numba's own `np.dot` calls, through a small adapter compiled
  once per machine.

A compiled program runs its products with the thread count it chose: it sets the library's
count before a call when it differs, and sets it back afterwards, so the user's own NumPy or
SciPy keeps the threads it had. When the library offers no thread control, programs run with
what it has, and say so.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import scipy
from numba.core import types

from .helpers import NO_TRANS, ROW_MAJOR, TRANS, gemm_adapter

__all__ = ["NO_TRANS", "ROW_MAJOR", "TRANS", "Blas", "chosen", "scipy_blas", "use_threads", "restore_threads"]

# Products with fewer multiply-adds than this run on one thread: splitting them costs more
# than it saves.
SPLIT_FLOPS = 1 << 24


def gemm_signature(dtype: types.Float) -> Any:
    """The signature of the gemm kernels call for `dtype` elements: cblas_?gemm(order, trans_a,
    trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), integers 64-bit (an ILP64 CBLAS)."""
    pointer, i32, i64 = types.CPointer(dtype), types.int32, types.int64
    return types.void(i32, i32, i32, i64, i64, i64, dtype, pointer, i64, pointer, i64, dtype, pointer, i64)


@dataclass(frozen=True)
class Blas:
    """A BLAS kernels can call: what it is, its gemm addresses, its thread control if any."""

    name: str
    sgemm: int
    dgemm: int
    get_threads: Callable[[], int] | None
    set_threads: Callable[[int], None] | None


def _threads_of(lib: ctypes.CDLL, names: tuple[str, str]) -> tuple[Callable[[], int], Callable[[int], None]] | None:
    get, set_ = (getattr(lib, name, None) for name in names)
    if get is None or set_ is None:
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    return get, set_


def _libraries(package: object) -> list[str]:
    folder = os.path.dirname(os.path.abspath(package.__file__)) + ".libs"  # type: ignore[attr-defined]
    return sorted(glob.glob(os.path.join(folder, "*openblas*")))


def _numpy_openblas() -> Blas | None:
    """NumPy's ILP64 OpenBLAS, if this NumPy ships one."""
    for path in _libraries(np):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        sgemm, dgemm = (getattr(lib, f"scipy_cblas_{t}gemm64_", None) for t in "sd")
        if sgemm is None or dgemm is None:
            continue
        threads = _threads_of(lib, ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"))
        get, set_ = threads if threads is not None else (None, None)
        address = ctypes.cast(sgemm, ctypes.c_void_p).value, ctypes.cast(dgemm, ctypes.c_void_p).value
        return Blas(f"NumPy's OpenBLAS ({os.path.basename(path)})", int(address[0] or 0), int(address[1] or 0),
                    get, set_)
    return None


def scipy_blas() -> Blas:
    """SciPy's BLAS (Numba's), through the adapter: always there where Numba can multiply."""
    sgemm, dgemm = (int(numba.cfunc(gemm_signature(t), cache=True)(gemm_adapter).address or 0)
                    for t in (types.float32, types.float64))
    for path in _libraries(scipy):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "scipy_openblas64_", "openblas_"):
            threads = _threads_of(lib, (f"{prefix}get_num_threads", f"{prefix}set_num_threads"))
            if threads is not None:
                return Blas(f"SciPy's OpenBLAS ({os.path.basename(path)})", sgemm, dgemm, *threads)
    return Blas("SciPy's BLAS (threads as it chooses)", sgemm, dgemm, None, None)


@functools.lru_cache(maxsize=1)
def chosen() -> Blas:
    """The BLAS this process's kernels call: NumPy's OpenBLAS, else SciPy's."""
    return _numpy_openblas() or scipy_blas()


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_threads(largest_product_flops: int) -> int:
    """Threads for a program whose largest product has this many multiply-adds."""
    return available_cores() if largest_product_flops >= SPLIT_FLOPS else 1


def describe() -> str:
    """Which BLAS kernels call, and whether graphc controls its threads."""
    return chosen().name


_calls = threading.Lock()
_running = 0  # calls running native code now, in any Python thread
_users = 0  # the library's count before the first of them started
_current = 0  # the library's count while they run


def _forked() -> None:
    """In a child forked while other threads ran steps: those calls never end there."""
    global _running
    _calls._at_fork_reinit()  # type: ignore[attr-defined]
    _running = 0


os.register_at_fork(after_in_child=_forked)


def use_threads(n: int) -> int:
    """Make the BLAS run `n` threads for a call starting now; 1 if the library's count is to be
    given back when the call ends (`restore_threads`), 0 when beyond control. The count is the
    process's: the first of overlapping calls (in several Python threads) saves the user's, the
    last to end gives it back."""
    global _running, _users, _current
    blas = chosen()
    if blas.set_threads is None or blas.get_threads is None:
        return 0
    with _calls:
        if _running == 0:
            _users = _current = blas.get_threads()
        _running += 1
        if _current != n:
            blas.set_threads(n)
            _current = n
    return 1


def restore_threads(token: int) -> None:
    """End a call `use_threads` started (given what it returned)."""
    global _running, _current
    if not token:
        return
    with _calls:
        _running -= 1
        if _running == 0 and _current != _users:
            set_threads = chosen().set_threads
            assert set_threads is not None
            set_threads(_users)
            _current = _users
