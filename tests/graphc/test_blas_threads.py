"""graphc owns its BLAS threads: each compiled program sets the thread count it chose before a
call, whatever the environment or the last program said."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import blas

controls = blas._controls()
needs_control = pytest.mark.skipif(controls is None, reason="this BLAS offers no thread control")


def _product(n: int, **options: object) -> gc.Function:
    a = gc.placeholder((n, n), "float32", name="a")
    return gc.compile([a], a @ a, **options)  # type: ignore[arg-type]


def test_small_products_run_on_one_thread_large_ones_on_every_core() -> None:
    assert _product(8)._native.threads == 1  # type: ignore[union-attr]
    assert _product(512)._native.threads == blas.available_cores()  # type: ignore[union-attr]
    assert _product(512, threads=1)._native.threads == 1  # type: ignore[union-attr]


@needs_control
def test_each_call_sets_the_programs_thread_count() -> None:
    get, set_, _ = controls  # type: ignore[misc]
    f, g = _product(8, threads=1), _product(8, threads=2)
    data = np.eye(8, dtype=np.float32)
    set_(3)  # as OPENBLAS_NUM_THREADS=3 would
    np.testing.assert_array_equal(f(data), data)
    assert get() == 1
    g(data)
    assert get() == 2
    f.run_many(np.stack([data, data]))
    assert get() == 1
    assert "1 thread for this program" in f.report() and "2 threads" in g.report()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_threads_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(gc.GraphError, match="threads"):
        _product(4, threads=bad)
