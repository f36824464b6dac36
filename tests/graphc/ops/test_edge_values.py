"""Every elementwise op and reduction at edge values (0, -0, +-1, subnormal, tiny, huge, +-inf,
NaN): value, first and second derivative, natively (with every pass and with none) and in eager
mode, against the NumPy reference; and against PyTorch when it is installed, where every
difference must be one that docs/conventions.md explains (`edges.DIFFERS_FROM_TORCH`)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from graphc.opdef import REGISTRY

from . import edges
from .edge_results import compiled, differences, eagerly, with_torch
from .edges import DIFFERS_FROM_TORCH

# float32: the vectorized tanh (1.3 ulp) and float32 rounding in second derivatives.
TOLERANCE = {"float64": (1e-12, 0.0), "float32": (1e-4, 1e-6)}


def _mismatches(got: dict, want: dict, dtype: str) -> list[str]:  # type: ignore[type-arg]
    rtol, atol = TOLERANCE[dtype]
    out = []
    for key, w in want.items():
        if key not in got:
            continue
        g, w = np.asarray(got[key], np.float64), np.asarray(w, np.float64)
        bad = differences(g, w, rtol)
        bad = [i for i in bad if not (np.isfinite(g.flat[i]) and np.isfinite(w.flat[i]) and abs(g.flat[i] - w.flat[i]) <= atol)]
        if bad:
            out.append(f"{key}: at {bad[:5]} got {g.ravel()[bad[:5]]} want {w.ravel()[bad[:5]]}")
    return out


@pytest.fixture(scope="module", params=["float64", "float32"])
def reference(request: pytest.FixtureRequest) -> tuple[str, dict]:  # type: ignore[type-arg]
    with np.errstate(over="ignore"):
        return request.param, compiled(request.param, backend="numpy", optimize=False)


@pytest.mark.parametrize("options", [{}, {"optimize": False}], ids=["all passes", "no pass"])
def test_native_code_agrees_with_the_reference_at_edge_values(reference, options) -> None:  # type: ignore[no-untyped-def]
    dtype, want = reference
    with np.errstate(over="ignore"):
        got = compiled(dtype, **options)
    assert not _mismatches(got, want, dtype)


def test_eager_mode_agrees_with_the_reference_at_edge_values(reference) -> None:  # type: ignore[no-untyped-def]
    dtype, want = reference
    with np.errstate(over="ignore"):
        got = eagerly(dtype)
    assert not _mismatches(got, want, dtype)


def test_differences_from_pytorch_are_the_documented_ones(reference) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    dtype, want = reference
    with np.errstate(over="ignore"):
        theirs = with_torch(torch, dtype)
    found = {line.split(":")[0] for line in _mismatches(want, theirs, dtype)}
    documented = {str(key) for key in DIFFERS_FROM_TORCH}
    assert found <= documented, f"undocumented differences from PyTorch: {sorted(found - documented)}"
    if dtype == "float64":
        assert found == documented, f"documented but gone (update docs/conventions.md): {sorted(documented - found)}"


def test_the_conventions_page_lists_every_difference() -> None:
    page = (pathlib.Path(__file__).parents[3] / "docs" / "conventions.md").read_text()
    for op, _ in DIFFERS_FROM_TORCH:
        assert f"`{op}`" in page, op


def test_every_pointwise_op_meets_the_edge_values() -> None:
    # A new pointwise op must be added to edges.py (UNARY, BINARY or COMPARE): nothing else would
    # notice that it was never tried at 0, -0, subnormals, infinities and NaN.
    covered = set(edges.UNARY) | set(edges.BINARY) | set(edges.COMPARE) | {"cast"}  # cast as cast_f32
    # Bools and shapes have no edge floats; a barrier passes its input through unchanged.
    exempt = {"logical_not", "logical_and", "logical_or", "broadcast_to", "barrier"}
    missing = sorted(op.name for op in REGISTRY.values()
                     if op.pointwise and op.name not in covered | exempt and not op.name.startswith("test_"))
    assert not missing, f"pointwise ops without edge-value cases: {missing}"
