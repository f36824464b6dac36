"""graphc owns its BLAS: kernels call the gemm whose address the program's table holds (NumPy's
OpenBLAS, else SciPy's through an adapter), and each call runs with the thread count the program
chose, the library's own count given back afterwards."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import blas, program

chosen = blas.chosen()
needs_control = pytest.mark.skipif(chosen.set_threads is None, reason="this BLAS offers no thread control")


def _product(n: int, **options: object) -> gc.Function:
    a = gc.placeholder((n, n), "float32", name="a")
    return gc.compile([a], a @ a, **options)  # type: ignore[arg-type]


def test_small_products_run_on_one_thread_large_ones_on_every_core() -> None:
    assert _product(8)._native.threads == 1  # type: ignore[union-attr]
    assert _product(512)._native.threads == blas.available_cores()  # type: ignore[union-attr]
    assert _product(512, threads=1)._native.threads == 1  # type: ignore[union-attr]


@needs_control
def test_each_call_runs_with_the_programs_threads_and_gives_the_users_back(monkeypatch: pytest.MonkeyPatch) -> None:
    f, g = _product(8, threads=1), _product(8, threads=2)
    data = np.eye(8, dtype=np.float32)
    assert chosen.get_threads is not None and chosen.set_threads is not None
    chosen.set_threads(3)  # as OPENBLAS_NUM_THREADS=3 would
    seen: list[int] = []

    def spy(n: int) -> None:
        seen.append(n)
        real(n)

    real = chosen.set_threads
    monkeypatch.setattr(blas, "chosen", lambda: blas.Blas(chosen.name, chosen.sgemm, chosen.dgemm, chosen.get_threads, spy))
    np.testing.assert_array_equal(f(data), data)
    g(data)
    f.run_many(np.stack([data, data]))
    assert seen == [1, 3, 2, 3, 1, 3] and chosen.get_threads() == 3
    assert "1 thread for this program" in f.report() and "2 threads" in g.report()
    monkeypatch.undo()
    chosen.set_threads(1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_threads_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(gc.GraphError, match="threads"):
        _product(4, threads=bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_scipy_adapter_has_the_kernels_gemm_signature(dtype: type, trans_a: int, trans_b: int) -> None:
    """The fallback (SciPy's BLAS behind the row-major CBLAS signature) computes what NumPy does,
    leading dimensions and beta included."""
    rng = np.random.default_rng(0)
    m, n, k = 3, 5, 4
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = 2.0 * ((a.T if trans_a else a) @ (b.T if trans_b else b)) + 0.5 * c
    adapter = blas.scipy_blas()
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    pointer = ctypes.POINTER(scalar)
    i32, i64 = ctypes.c_int32, ctypes.c_int64
    call = ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, scalar, pointer, i64, pointer, i64, scalar, pointer, i64)(
        adapter.sgemm if dtype == np.float32 else adapter.dgemm)
    flags = (blas.NO_TRANS, blas.TRANS)
    call(blas.ROW_MAJOR, flags[trans_a], flags[trans_b], m, n, k, 2.0, a.ctypes.data_as(pointer), a.shape[1],
         b.ctypes.data_as(pointer), b.shape[1], 0.5, c.ctypes.data_as(pointer), n)
    np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_programs_run_on_either_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same compiled kernels run on SciPy's BLAS when the table points there (their machine
    code holds no address): a forward product, transposed products of the gradient, a gemm into
    a variable."""
    rng = np.random.default_rng(1)
    x = gc.placeholder((6, 4), "float64", name="x")
    w = gc.variable(rng.standard_normal((4, 3)), name="w")
    loss = gc.sum(gc.tanh(x @ w) ** 2)
    step = gc.optim.sgd(loss, [w], 0.1)
    data = rng.standard_normal((6, 4))
    results = []
    for which in (blas.chosen(), blas.scipy_blas()):
        monkeypatch.setattr(program, "chosen_blas", lambda which=which: which)
        w.assign(np.ones((4, 3)))
        f = gc.compile([x], (loss, gc.grad(loss, [x])[0]), updates=step)
        results.append([np.asarray(r) for r in f(data)] + [w.value.copy()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@needs_control
def test_overlapping_calls_give_the_users_count_back_whichever_ends_first() -> None:
    """Calls in several Python threads share the process's count: the first to start saves the
    user's, the last to end gives it back (interleaved as two threads' calls may be)."""
    assert chosen.get_threads is not None and chosen.set_threads is not None
    chosen.set_threads(3)
    first = blas.use_threads(1)
    assert chosen.get_threads() == 1
    second = blas.use_threads(2)
    assert chosen.get_threads() == 2
    blas.restore_threads(first)  # the first call ends while the second runs: its count stays
    assert chosen.get_threads() == 2
    blas.restore_threads(second)
    assert chosen.get_threads() == 3
    chosen.set_threads(1)
