"""The fusion pass: what it groups, what it refuses and why, and that fused programs compute what
the reference does (ln_gelu's whole step in one pass over the rows; an MLP's epilogues)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, schedule, verify
from graphc.passes.fuse import fuse, role


def _fused(outputs: list) -> tuple[Graph, list[str]]:  # type: ignore[type-arg]
    result = fuse(Graph.of(outputs))
    verify(result.graph)
    return result.graph, list(result.notes)


def test_elementwise_chain_becomes_one_loop_with_every_needed_output() -> None:
    x = gc.placeholder((8, 5), "float64", name="x")
    b = gc.placeholder((5,), "float64", name="b")
    h = gc.tanh(x + b)
    y = h * h + 1.0
    graph, notes = _fused([y, h])  # h is an output too: a multi-output group
    (g,) = graph.groups
    assert g.kind == "loop" and g.domain == (8, 5) and len(g.members) == 4
    assert notes[0].startswith("group 0 (loop over [8, 5], 4 nodes)")


def test_row_reductions_and_column_sums_share_the_rows_loop() -> None:
    x = gc.placeholder((6, 4), "float64", name="x")
    centered = x - gc.mean(x, axis=1, keepdims=True)
    col = gc.sum(centered * centered, axis=0)
    graph, _ = _fused([centered, col])
    (g,) = graph.groups
    assert g.kind == "rows"
    assert sorted(role(m, g.domain) or "" for m in g.members) == ["col", "full", "full", "row", "row"]


def test_a_sum_complete_only_after_the_loop_is_not_read_inside_it() -> None:
    x = gc.placeholder((6, 4), "float64", name="x")
    y = x * 2.0
    s = gc.sum(y, axis=0)  # a column sum ...
    z = y * s  # ... that z needs whole
    graph, notes = _fused([z])
    group_of = {id(m): k for k, g in enumerate(graph.groups) for m in g.members}
    assert group_of.get(id(z)) != group_of.get(id(s))
    assert any("complete only after the whole loop" in n for n in notes)


def test_fusion_never_makes_a_cycle_through_an_unfused_node() -> None:
    x = gc.placeholder((3, 4), "float64", name="x")
    a = gc.tanh(x)
    k = gc.softmax(a)  # a kernel between a and b
    b = a + k
    graph, notes = _fused([b])
    schedule(graph)  # would raise on a cycle
    assert graph.groups == () or all(not (a in g and b in g) for g in graph.groups)
    assert any("would loop back through" in n for n in notes)
    assert any("unfused softmax" in n and "own kernel" in n for n in notes)


def test_matmul_opens_a_group_and_its_epilogue_runs_in_place() -> None:
    rng = np.random.default_rng(1)
    x = gc.placeholder((16, 8), "float64", name="x")
    w = gc.constant(rng.standard_normal((8, 6)))
    b = gc.constant(rng.standard_normal(6))
    y = gc.relu(x @ w + b)
    f = gc.compile([x], y)
    (g,) = f.graph.groups
    assert g.members[0].op.name == "matmul" and "after a BLAS matmul" in f.kernels()[0]
    assert f.memory.in_place  # the product dies in its epilogue: the result takes its place
    data = rng.standard_normal((16, 8))
    np.testing.assert_allclose(f(data), gc.compile([x], y, backend="numpy")(data), rtol=1e-12)


def test_layer_norm_gelu_step_is_one_pass_over_the_rows() -> None:
    rng = np.random.default_rng(2)
    x = gc.placeholder((32, 48), "float32", name="x")
    gamma, beta = gc.placeholder((48,), "float32", name="gamma"), gc.placeholder((48,), "float32", name="beta")
    mu = gc.mean(x, axis=1, keepdims=True)
    c = x - mu
    y = gc.gelu(c / gc.sqrt(gc.mean(c * c, axis=1, keepdims=True) + 1e-5) * gamma + beta)
    loss = gc.mean(y * y)
    outs = (loss, gc.grad(loss, [x, gamma, beta]))
    f = gc.compile([x, gamma, beta], outs)
    assert [g.kind for g in f.graph.groups] == ["rows"]
    fused = {r.name: r for r in f.passes}["fuse"]
    assert fused.stats["loops_after"] <= 2 < 40 < fused.stats["loops_before"]
    unfused = gc.compile([x, gamma, beta], outs, disable=("fuse",))
    assert f.memory.arena_bytes * 4 < unfused.memory.arena_bytes
    data = [rng.standard_normal((32, 48)).astype(np.float32), (1 + 0.1 * rng.standard_normal(48)).astype(np.float32),
            (0.1 * rng.standard_normal(48)).astype(np.float32)]
    want = gc.compile([x, gamma, beta], outs, backend="numpy", optimize=False)(*data)
    for got, ref in zip([f(*data)[0], *f(*data)[1]], [want[0], *want[1]]):
        np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-6)


def test_numerics_checks_turn_fusion_off() -> None:
    x = gc.placeholder((4,), "float64", name="x")
    f = gc.compile([x], gc.log(gc.tanh(x) + 1.0), check_numerics=True)
    assert f.graph.groups == () and "fuse" not in [r.name for r in f.passes]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update_of_a_matmul_gradient_is_one_gemm_into_the_variable(dtype: str) -> None:
    rng = np.random.default_rng(3)
    x = gc.placeholder((16, 12), dtype, name="x")
    w = gc.variable(rng.standard_normal((12, 8)).astype(dtype), name="w")
    v = gc.variable(rng.standard_normal((8, 8)).astype(dtype), name="v")
    loss = gc.sum(gc.tanh(x @ w) @ v)
    updates = gc.optim.sgd(loss, [w, v], 0.05)
    updates[v] = v - 0.05 * (v @ v)  # reads its own variable: must not be computed in place by BLAS
    f = gc.compile([x], loss, updates=updates)
    updates_in_gemm = [t for t in f._native.texts if "one BLAS call: product and update" in t]
    assert len(updates_in_gemm) == 1 and updates_in_gemm[0].count("gemm(") == 1
    ref = gc.compile([x], loss, updates={w: updates[w] * 1.0, v: updates[v] * 1.0}, backend="numpy")
    start = (w.value, v.value)
    data = rng.standard_normal((16, 12)).astype(dtype)
    f(data)
    after = (w.value, v.value)
    w.assign(start[0])
    v.assign(start[1])
    ref(data)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(after[0], w.value, rtol=tol, atol=tol)
    np.testing.assert_allclose(after[1], v.value, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 5)])
def test_rows_groups_of_any_rank_match_the_reference(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    x = gc.placeholder(shape, "float64", name="x")
    g = gc.placeholder(shape[-1:], "float64", name="g")
    c = x - gc.mean(x, axis=-1, keepdims=True)
    y = gc.tanh(c / gc.sqrt(gc.mean(c * c, axis=-1, keepdims=True) + 1.0) * g)
    lead = tuple(range(len(shape) - 1))
    outs = [y, gc.sum(y * x, axis=lead) if lead else gc.sum(y * x), gc.sum(y), gc.sum(x * 2.0, axis=-1)]
    loss = gc.sum(y * y)
    outs += gc.grad(loss, [x, g])
    f = gc.compile([x, g], outs)
    assert any(grp.kind == "rows" for grp in f.graph.groups)
    data = [rng.standard_normal(shape), rng.standard_normal(shape[-1:])]
    want = gc.compile([x, g], outs, backend="numpy", optimize=False)(*data)
    for got, ref in zip(f(*data), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_the_fused_rows_loop_vectorizes_transcendentals_included() -> None:
    # A fused loop only pays if it vectorizes: packed single-precision arithmetic on ymm/zmm
    # registers, gelu's tanh included (graphc's own tanh_f32, inlined; no libm tanhf call).
    x = gc.placeholder((8, 256), "float32", name="x")
    c = x - gc.mean(x, axis=1, keepdims=True)
    y = gc.gelu(c / gc.sqrt(gc.mean(c * c, axis=1, keepdims=True) + 1e-5))
    f = gc.compile([x], gc.grad(gc.sum(y * y), x), cache=False)  # cached code has no asm
    assert [g.kind for g in f.graph.groups] == ["rows"]
    asm = f._native.assembly()
    packed = [line for line in asm.splitlines()
              if any(op in line for op in ("vmulps", "vdivps", "vaddps", "vfmadd")) and ("ymm" in line or "zmm" in line)]
    assert len(packed) > 20, "the fused loop did not vectorize"
    assert "tanhf" not in asm


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_convolution_its_bias_and_its_relu_are_one_kernel(backend: str) -> None:
    """A convolution heads a group as a matmul does: its bias and activation (and the ReLU's
    mask for the backward pass) are its epilogue, in the same kernel."""
    rng = np.random.default_rng(3)
    x = gc.placeholder((2, 3, 9, 9), "float64", name="x")
    w = gc.variable(rng.standard_normal((4, 3, 3, 3)) * 0.3, name="w")
    b = gc.variable(rng.standard_normal(4), name="b")
    h = gc.relu(gc.conv2d(x, w, stride=2, padding=1) + gc.reshape(b, (-1, 1, 1)))
    loss = gc.sum(h * h)
    f = gc.compile([x], [h, loss, *gc.grad(loss, [w, b])], backend=backend)
    lines = f.kernels()
    assert any(line.startswith("fused") and "over [2, 4, 5, 5] after a convolution" in line for line in lines), lines
    data = rng.standard_normal((2, 3, 9, 9))
    want = gc.compile([x], [h, loss, *gc.grad(loss, [w, b])], backend="numpy")(data)
    for got, expected in zip(f(data), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
