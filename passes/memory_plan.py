"""Memory planning: place buffers with known lifetimes in one arena, overlapping only in time or
in space, never both.

A buffer lives from the step that writes it to the last step that reads it (inclusive). Two
heuristics place them; the smaller arena wins:
- greedy by size: largest first, each at the lowest offset that fits between the buffers already
  placed that are alive at the same time (best fit: the smallest gap that fits);
- greedy by start: in order of birth, first fit.
`lower_bound_bytes` is the most bytes alive at any one step: no plan can use less.
`check_plan` proves a plan sound; tests run it on every plan.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

ALIGN = 64


@dataclass(frozen=True)
class Lifetime:
    """A buffer to place: `nbytes` alive from step `start` through step `end`."""

    key: Hashable
    nbytes: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return -(-max(self.nbytes, 1) // ALIGN) * ALIGN


@dataclass(frozen=True)
class MemoryPlan:
    """Byte offsets in one arena, and the figures to judge it by."""

    offsets: dict[Hashable, int]
    arena_bytes: int
    naive_bytes: int
    lower_bound_bytes: int
    heuristic: str


def _overlap_in_time(a: Lifetime, b: Lifetime) -> bool:
    return a.start <= b.end and b.start <= a.end


def _place(order: Sequence[Lifetime], best_fit: bool) -> dict[Hashable, int]:
    placed: list[tuple[Lifetime, int]] = []
    offsets: dict[Hashable, int] = {}
    for buf in order:
        busy = sorted((off, off + other.size) for other, off in placed if _overlap_in_time(buf, other))
        candidates, cursor = [], 0
        for lo, hi in busy:
            if lo - cursor >= buf.size:
                candidates.append((lo - cursor, cursor))
            cursor = max(cursor, hi)
        if best_fit and candidates:
            offset = min(candidates)[1]
        elif candidates:
            offset = candidates[0][1]
        else:
            offset = cursor
        offsets[buf.key] = offset
        placed.append((buf, offset))
    return offsets


def lower_bound(buffers: Sequence[Lifetime]) -> int:
    """The most bytes alive at any single step."""
    events: dict[int, int] = {}
    for b in buffers:
        events[b.start] = events.get(b.start, 0) + b.size
        events[b.end + 1] = events.get(b.end + 1, 0) - b.size
    live = peak = 0
    for step in sorted(events):
        live += events[step]
        peak = max(peak, live)
    return peak


def check_plan(buffers: Sequence[Lifetime], plan: MemoryPlan) -> None:
    """Raise AssertionError if two buffers alive at the same step share a byte."""
    ordered = sorted(buffers, key=lambda b: plan.offsets[b.key])
    for i, a in enumerate(ordered):
        a_lo = plan.offsets[a.key]
        assert a_lo % ALIGN == 0 and a_lo + a.size <= plan.arena_bytes, f"{a.key} is out of the arena"
        for b in ordered[i + 1:]:
            b_lo = plan.offsets[b.key]
            if b_lo >= a_lo + a.size:
                break
            assert not _overlap_in_time(a, b), f"{a.key} and {b.key} overlap in time and space"


def plan_memory(buffers: Sequence[Lifetime]) -> MemoryPlan:
    """The smaller of the two greedy plans for `buffers`."""
    heuristics: dict[str, Callable[[], dict[Hashable, int]]] = {
        "greedy by size, best fit": lambda: _place(sorted(buffers, key=lambda b: (-b.size, b.start)), True),
        "greedy by start, first fit": lambda: _place(sorted(buffers, key=lambda b: (b.start, -b.size)), False),
    }
    best: MemoryPlan | None = None
    naive = sum(b.size for b in buffers)
    bound = lower_bound(buffers)
    for name, place in heuristics.items():
        offsets = place()
        arena = max((offsets[b.key] + b.size for b in buffers), default=0)
        if best is None or arena < best.arena_bytes:
            best = MemoryPlan(offsets, arena, naive, bound, name)
    assert best is not None
    return best
