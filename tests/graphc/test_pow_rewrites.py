"""Constant powers rewritten as products, roots and reciprocals (passes/simplify.py), ported
from the special cases PyTorch's own pow kernel takes for scalar exponents 2, 3, 0.5 and -1
(`x ** 3` is x*x*x, `x ** 0.5` is sqrt): compiled natively with every pass, graphc gives
PyTorch's values bit for bit, edge values included, and stays within an ulp of C's pow."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ops.elementwise import POW

EDGES = [-0.0, 0.0, -1.0, 2.0, np.inf, -np.inf, np.nan, 1e-310, 3e102, -2.5, 0.7, 1e-3]
# What PyTorch 2.13 computes for `x ** e` on these values (float64), its special cases included.
TORCH = {
    2: [0.0, 0.0, 1.0, 4.0, np.inf, np.inf, np.nan, 0.0, 8.999999999999999e204, 6.25, 0.48999999999999994, 1e-06],
    3: [-0.0, 0.0, -1.0, 8.0, np.inf, -np.inf, np.nan, 0.0, 2.6999999999999998e307, -15.625, 0.3429999999999999,
        1e-09],
    0.5: [-0.0, 0.0, np.nan, 1.4142135623730951, np.inf, np.nan, np.nan, 9.999999999999986e-156,
          1.7320508075688772e51, np.nan, 0.8366600265340756, 0.03162277660168379],
    -1: [-np.inf, np.inf, -1.0, 0.5, 0.0, -0.0, np.nan, np.inf, 3.333333333333334e-103, -0.4, 1.4285714285714286,
         1000.0],
}


@pytest.fixture(scope="module")
def powers() -> gc.Function:
    x = gc.placeholder((len(EDGES),), "float64", name="x")
    return gc.compile([x], [x**e for e in TORCH])


def _bits(a: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(a, np.float64).view(np.int64)]


def test_constant_powers_equal_pytorchs_bit_for_bit(powers: gc.Function) -> None:
    assert not any(n.op is POW for n in powers.graph.nodes)  # every one rewritten
    for got, want in zip(powers(np.array(EDGES)), TORCH.values()):
        want = np.array(want)
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        assert _bits(got[~nan]) == _bits(want[~nan])  # signs of zeros included


def test_against_c_pow_within_an_ulp(powers: gc.Function) -> None:
    data = np.array(EDGES)
    with np.errstate(all="ignore"):
        for got, e in zip(powers(data), TORCH):
            want = np.power(data, float(e))
            finite = np.isfinite(want) & (want != 0)
            np.testing.assert_array_max_ulp(got[finite], want[finite], maxulp=1)


def test_torch_today_agrees_where_installed() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor(EDGES, dtype=torch.float64)
    for e, want in TORCH.items():
        got = (x**e).numpy()
        nan = np.isnan(np.array(want))
        assert _bits(got[~nan]) == _bits(np.array(want)[~nan]), e
