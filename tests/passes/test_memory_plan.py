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
