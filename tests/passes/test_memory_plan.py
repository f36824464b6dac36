"""The memory planner: sound on every plan (checked), never below the lower bound, and close to it."""

from __future__ import annotations

import numpy as np
import pytest

from graphc.passes.memory_plan import ALIGN, Lifetime, check_plan, lower_bound, plan_memory


def test_buffers_dead_apart_share_space() -> None:
    bufs = [Lifetime("a", 1000, 0, 1), Lifetime("b", 1000, 2, 3), Lifetime("c", 500, 1, 2)]
    plan = plan_memory(bufs)
    check_plan(bufs, plan)
    assert plan.offsets["a"] == plan.offsets["b"]  # a is dead when b is born
    assert plan.arena_bytes == plan.lower_bound_bytes == 1024 + 512
    assert plan.naive_bytes == 2 * 1024 + 512


@pytest.mark.parametrize("seed", range(40))
def test_random_lifetimes_are_placed_soundly_near_the_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bufs = []
    for k in range(60):
        start = int(rng.integers(0, 100))
        bufs.append(Lifetime(k, int(rng.integers(1, 50_000)), start, start + int(rng.integers(0, 20))))
    plan = plan_memory(bufs)
    check_plan(bufs, plan)
    assert plan.lower_bound_bytes == lower_bound(bufs) <= plan.arena_bytes <= plan.naive_bytes
    assert plan.arena_bytes <= 1.5 * plan.lower_bound_bytes
    assert all(off % ALIGN == 0 for off in plan.offsets.values())


def test_the_checker_catches_an_overlap() -> None:
    bufs = [Lifetime("a", 64, 0, 5), Lifetime("b", 64, 3, 4)]
    plan = plan_memory(bufs)
    broken = type(plan)({"a": 0, "b": 0}, 64, plan.naive_bytes, plan.lower_bound_bytes, "broken")
    with pytest.raises(AssertionError, match="overlap"):
        check_plan(bufs, broken)


def test_in_place_offers_are_taken_only_where_the_old_buffer_dies() -> None:
    bufs = [
        Lifetime("x", 4096, 0, 1),
        Lifetime("y", 4096, 1, 2, reuses="x"),  # x's last step is y's first: in place
        Lifetime("z", 4096, 2, 5, reuses="y"),  # and again, a chain
        Lifetime("w", 4096, 3, 4, reuses="x"),  # x is long dead (and taken): refused
        Lifetime("v", 1024, 4, 6, reuses="w"),  # a different size: refused
    ]
    plan = plan_memory(bufs)
    check_plan(bufs, plan)
    assert plan.in_place == (("x", "y"), ("y", "z"))
    assert plan.offsets["x"] == plan.offsets["y"] == plan.offsets["z"] != plan.offsets["w"]
    assert plan.arena_bytes == plan.lower_bound_bytes == 4096 + 4096 + 1024


def test_the_checker_refuses_a_reuse_of_a_live_buffer() -> None:
    bufs = [Lifetime("a", 64, 0, 3), Lifetime("b", 64, 2, 4, reuses="a")]
    plan = plan_memory(bufs)
    assert plan.in_place == ()
    forged = type(plan)({"a": 0, "b": 0}, 64, 128, 128, "forged", (("a", "b"),))
    with pytest.raises(AssertionError, match="still alive"):
        check_plan(bufs, forged)


def test_training_steps_write_in_place_and_stay_within_half_of_naive() -> None:
    import graphc as gc

    rng = np.random.default_rng(0)
    x = gc.placeholder((64, 100), name="x")
    y = gc.placeholder((64,), "int64", name="y")
    params = [gc.variable(rng.standard_normal(s).astype(np.float32) * 0.1) for s in [(100, 80), (80,), (80, 10), (10,)]]
    h = gc.relu(x @ params[0] + params[1])
    loss = gc.mean(gc.softmax_cross_entropy(h @ params[2] + params[3], y))
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, params, 0.1))
    m = f.memory
    assert m.in_place and m.arena_bytes <= 1.1 * m.lower_bound_bytes and m.arena_bytes <= m.naive_bytes / 2
    reference = gc.compile([x, y], loss, updates=None, backend="numpy")
    data = rng.standard_normal((64, 100)).astype(np.float32), rng.integers(0, 10, 64)
    before = reference(*data)
    np.testing.assert_allclose(f(*data), before, rtol=1e-5)
    assert float(reference(*data)) < float(before)  # the update was applied
