"""The BLAS compiled kernels call, and how many threads it runs.

Kernels call gemm through Numba, which takes it from SciPy's BLAS (`scipy.linalg.cython_blas`,
SciPy's own OpenBLAS in its wheels). A compiled program sets that library's thread count before
each call when it differs from the program's choice, whatever `OPENBLAS_NUM_THREADS` said: on a
busy machine a small product split over threads waits for the slowest of them. When the library
offers no thread control (another BLAS), programs run with what it has, and say so.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import scipy

# Products with fewer multiply-adds than this run on one thread: splitting them costs more
# than it saves.
SPLIT_FLOPS = 1 << 24
_PREFIXES = ("scipy_openblas_", "scipy_openblas64_", "openblas_")


@functools.lru_cache(maxsize=1)
def _controls() -> tuple[object, object, str] | None:
    """(get, set, name) of the thread count of SciPy's OpenBLAS, or None if there is none."""
    folder = os.path.dirname(os.path.abspath(scipy.__file__)) + ".libs"
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            get, set_ = (getattr(lib, f"{prefix}{what}_num_threads", None) for what in ("get", "set"))
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return get, set_, f"SciPy's OpenBLAS ({os.path.basename(path)})"
    return None


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
    found = _controls()
    return found[2] if found is not None else "a BLAS without thread control (threads as it chooses)"


def use_threads(n: int) -> None:
    """Make the BLAS run `n` threads (nothing when it offers no control)."""
    found = _controls()
    if found is not None:
        get, set_, _ = found
        if get() != n:  # type: ignore[operator]
            set_(n)  # type: ignore[operator]
