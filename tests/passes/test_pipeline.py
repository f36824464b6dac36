"""The pass manager as the user sees it: passes disabled by name, a debug mode that verifies and
prints the graph after each pass, and a report listing passes, kernels and memory."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.passes.pipeline import PIPELINE


def _program() -> tuple[gc.Tensor, gc.Tensor]:  # type: ignore[name-defined]
    x = gc.placeholder((4, 3), "float64", name="x")
    return x, gc.sum(gc.tanh(x) * 1.0, axis=1)


def test_debug_prints_the_graph_after_every_pass(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _program()
    gc.compile([x], y, debug=True, backend="numpy")
    err = capsys.readouterr().err
    for name, _ in PIPELINE:
        assert f"--- after {name}" in err
    assert "fused rows over [4,3] {" in err


def test_passes_are_disabled_by_name_and_unknown_names_refused() -> None:
    x, y = _program()
    f = gc.compile([x], y, disable=("simplify", "fuse"), backend="numpy")
    assert [r.name for r in f.passes] == [n for n, _ in PIPELINE if n not in ("simplify", "fuse")]
    assert f.graph.groups == () and any(n.op.name == "multiply" for n in f.graph.nodes)
    with pytest.raises(gc.GraphcError, match="unknown passes"):
        gc.compile([x], y, disable=("fusion",))
    assert [r.name for r in gc.compile([x], y, disable="fuse", backend="numpy").passes][-1] == "dce"


def test_report_lists_passes_then_kernels_then_memory() -> None:
    x, y = _program()
    f = gc.compile([x], y)
    report = f.report()
    order = [report.index(s) for s in ("passes:", "fuse ", "kernels, in order:", "fused rows over [4, 3]", "memory: arena")]
    assert order == sorted(order)
    np.testing.assert_allclose(f(np.ones((4, 3))), np.tanh(1.0) * 3 * np.ones(4))
