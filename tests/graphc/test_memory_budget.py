"""`memory_budget=`: the arena the program runs in is at most the budget, by recomputing forward
values in the backward pass, and every result is bit-identical to the program without it."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy.executor import evaluate
from graphc.ir import Graph, verify
from graphc.passes.pipeline import run_pipeline
from graphc.passes.remat import chosen_by_min_cut, late_nodes, rematerialize

RNG = np.random.default_rng(5)
X = RNG.normal(size=(256, 64)).astype(np.float32)
INITS = [(RNG.normal(size=(64, 64)) * 0.15).astype(np.float32) for _ in range(4)]


def _step(budget=None, dropout=0.1):
    """A 4-layer network whose layers are pointwise-heavy (what recomputation pays off on)."""
    gc.set_seed(2)
    x = gc.placeholder((256, 64), name="x")
    params = [gc.variable(w, name=f"w{k}") for k, w in enumerate(INITS)]
    h = x
    for w in params:
        u = h @ w
        h = gc.dropout(gc.gelu(u) * gc.sigmoid(u) + gc.tanh(u), dropout)
    loss = gc.mean(h * h)
    return gc.compile([x], loss, updates=gc.optim.adam(loss, params, lr=0.01), memory_budget=budget), params


@pytest.fixture(scope="module")
def plain():
    f, params = _step()
    losses = [f(X) for _ in range(3)]
    return f.memory.arena_bytes, losses, [p.value for p in params]


@pytest.mark.parametrize("fraction", [1.0, 0.8, 0.65])
def test_the_arena_fits_the_budget_and_results_are_bit_identical(plain, fraction) -> None:
    arena, losses, values = plain
    budget = int(arena * fraction)
    f, params = _step(budget)
    assert f.memory.arena_bytes <= budget
    np.testing.assert_array_equal([f(X) for _ in range(3)], losses)
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.value, v)
    remat = next(r for r in f.passes if r.name == "remat")
    if fraction < 1.0:
        assert remat.stats["nodes_recomputed"] > 0
        assert any(f"arena {arena} ->" in note for note in remat.notes)
        assert "remat" in f.report() and "recomputed in the backward pass" in f.report()
    else:
        assert remat.stats["nodes_recomputed"] == 0


def test_a_budget_out_of_reach_says_the_smallest_arena_reached(plain) -> None:
    arena, _, _ = plain
    with pytest.raises(gc.GraphError, match=r"memory_budget=1000 bytes cannot be met: the smallest arena graphc"
                                            r" reached is \d+ bytes.*largest values alive at its peak: .*test_memory_budget"):
        _step(1000)
    for bad in (0, -5, 1.5, "1MB", True):
        with pytest.raises(gc.GraphError, match="positive whole number of bytes"):
            _step(bad)


def test_second_derivatives_through_recomputed_values_are_unchanged() -> None:
    w = gc.variable(INITS[0].astype(np.float64)[:8, :8])
    x = gc.placeholder((4, 8), "float64", name="x")
    h = gc.tanh(gc.sin(x @ w) * 1.5)
    loss = gc.sum(gc.exp(-h * h))
    g = gc.grad(loss, w)
    hv = gc.grad(gc.sum(g * g), w)
    a = RNG.normal(size=(4, 8))
    plain = gc.compile([x], [loss, g, hv], backend="numpy")(a)
    graph, _ = run_pipeline(Graph([x], [loss, g, hv]), ("fuse",))
    chosen = chosen_by_min_cut(graph, 0.0)
    assert chosen
    redone = rematerialize(graph, chosen)
    verify(redone.graph)
    assert redone.stats["nodes_recomputed"] > 0
    for got, want in zip(evaluate(redone.graph, {redone.graph.inputs[0]: a}), plain):
        np.testing.assert_array_equal(got, want)


def test_what_is_late_and_what_the_cut_never_recomputes() -> None:
    x = gc.placeholder((4, 8), name="x")
    w = gc.variable(np.ones((8, 8), np.float32))
    u = x @ w
    loss = gc.sum(gc.tanh(u))
    g = gc.grad(loss, w)
    graph, _ = run_pipeline(Graph([x], [loss, w - 0.1 * g]), ("fuse",))
    late = late_nodes(graph)
    assert all(n.grad_of is not None or any(id(i) in late for i in n.inputs) for n in graph.nodes if id(n) in late)
    assert id(graph.outputs[1]) in late  # the update reads the gradient
    chosen = chosen_by_min_cut(graph, 0.0)
    assert all(n.op.name != "matmul" for n in graph.nodes if id(n) in chosen)
    assert chosen_by_min_cut(graph, float("inf")) == set()


def test_a_deep_mlp_reaches_well_below_its_arena_by_recomputing_segments() -> None:
    # tanh layers keep only what their products read: pointwise recomputation cannot halve that;
    # segments (every s-th layer input kept, the products between recomputed) can.
    rng = np.random.default_rng(8)
    x = gc.placeholder((128, 64), name="x")
    ws = [gc.variable((rng.normal(size=(64, 64)) / 8).astype(np.float32), name=f"m{k}") for k in range(8)]
    h = x
    for w in ws:
        h = gc.tanh(h @ w)
    loss = gc.mean(h * h)
    updates = gc.optim.sgd(loss, ws, 0.1)
    a = rng.normal(size=(128, 64)).astype(np.float32)
    start = [w.value for w in ws]
    plain = gc.compile([x], loss, updates=updates)
    want = [plain(a) for _ in range(2)] + [w.value for w in ws]
    for w, v in zip(ws, start):
        w.assign(v)
    budget = int(0.6 * plain.memory.arena_bytes)
    f = gc.compile([x], loss, updates=updates, memory_budget=budget)
    assert f.memory.arena_bytes <= budget
    remat = next(r for r in f.passes if r.name == "remat")
    assert "products" in remat.notes[0] and " 0 of them products" not in remat.notes[0]
    got = [f(a) for _ in range(2)] + [w.value for w in ws]
    for u, v in zip(got, want):
        np.testing.assert_array_equal(u, v)


def test_the_report_page_draws_memory_against_compute(plain, tmp_path) -> None:
    arena, _, _ = plain
    f, _ = _step(int(arena * 0.8))
    page = f.save_html(tmp_path / "budget.html").read_text()
    assert "<h2>Memory budget</h2>" in page and "more elements computed per step" in page
    assert f.budget is not None and f.budget.trials[0][0] == 0 and f.budget.trials[-1][1] <= f.budget.budget
    assert page.count("<svg") >= 3


def test_an_update_that_copies_another_variable_reads_its_value_from_before_the_step() -> None:
    # `previous <- w` is read at the end of the step: w's own update must not be written before.
    rng = np.random.default_rng(4)
    x = gc.placeholder((8, 4), name="x")
    w = gc.variable(rng.normal(size=(4, 3)).astype(np.float32), name="w")
    previous = gc.variable(np.zeros((4, 3), np.float32), name="previous")
    loss = gc.mean(gc.tanh(x @ w) ** 2)
    start = w.value
    for value in (w, w * 1.0, gc.transpose(gc.transpose(w))):
        w.assign(start)
        f = gc.compile([x], loss, updates={**gc.optim.sgd(loss, [w], 0.5), previous: value})
        f(rng.normal(size=(8, 4)).astype(np.float32))
        np.testing.assert_array_equal(previous.value, start)
        assert not np.array_equal(w.value, start)


def test_a_saved_function_keeps_its_budget(tmp_path) -> None:
    rng = np.random.default_rng(6)
    x = gc.placeholder((128, 32), name="x")
    ws = [gc.variable((rng.normal(size=(32, 32)) / 6).astype(np.float32)) for _ in range(6)]
    h = x
    for w in ws:
        h = gc.tanh(h @ w)
    loss = gc.mean(h * h)
    updates = gc.optim.sgd(loss, ws, 0.1)
    budget = int(0.7 * gc.compile([x], loss, updates=updates, backend="numpy").memory.arena_bytes)
    f = gc.compile([x], loss, updates=updates, memory_budget=budget, backend="numpy")
    gc.save(tmp_path / "f.npz", f)
    g = gc.load(tmp_path / "f.npz")
    assert g.options["memory_budget"] == budget and g.memory.arena_bytes <= budget
    a = rng.normal(size=(128, 32)).astype(np.float32)
    assert f(a) == g(a)
