"""Memory planning: place buffers with known lifetimes in one arena, overlapping only in time or
in space, never both.

A buffer lives from the step that writes it to the last step that reads it (inclusive). A
buffer may offer to reuse another's place (`reuses`): an elementwise loop that reads the old
buffer and writes the new one element by element, at the same index, can write in place when
the old buffer dies at that very step. The planner accepts the offer when it holds (the old
buffer's last step is the new one's first, and no one else took the place) and then places the
two as one. Two heuristics place the buffers; the smaller arena wins:
- greedy by size: largest first, each in the smallest gap that fits between the buffers already
  placed that are alive at the same time (best fit; up to `BEST_FIT_LIMIT` buffers);
- greedy by start: in order of birth, first fit, as an allocator sweeping the program once.
`lower_bound_bytes` is the most bytes alive at any one step: no plan can use less.
`check_plan` proves a plan sound; tests run it on every plan.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

ALIGN = 64
# Placing by size compares each buffer with every one placed before it (quadratic): above this
# many buffers only the sweep by start (n log n) runs.
BEST_FIT_LIMIT = 3000


def aligned(nbytes: int) -> int:
    """`nbytes` rounded up to the arena's alignment (at least one unit)."""
    return -(-max(nbytes, 1) // ALIGN) * ALIGN


@dataclass(frozen=True)
class Lifetime:
    """A buffer to place: `nbytes` alive from step `start` through step `end`."""

    key: Hashable
    nbytes: int
    start: int
    end: int
    reuses: Hashable | None = None  # a buffer whose place this one may take (see above)

    @property
    def size(self) -> int:
        return aligned(self.nbytes)


@dataclass(frozen=True)
class MemoryPlan:
    """Byte offsets in one arena, and the figures to judge it by."""

    offsets: dict[Hashable, int]
    arena_bytes: int
    naive_bytes: int
    lower_bound_bytes: int
    heuristic: str
    in_place: tuple[tuple[Hashable, Hashable], ...] = ()  # (old, new): new took old's place


def _overlap_in_time(a: Lifetime, b: Lifetime) -> bool:
    return a.start <= b.end and b.start <= a.end


def _best_fit_by_size(units: Sequence[Lifetime]) -> dict[Hashable, int]:
    """Largest first, each in the smallest gap between the placed buffers alive with it (the
    lowest such gap among equals; above them all when none fits)."""
    order = sorted(units, key=lambda b: (-b.size, b.start))
    starts, ends = np.array([b.start for b in order]), np.array([b.end for b in order])
    sizes = [b.size for b in order]
    lows, highs = np.zeros(len(order), np.int64), np.zeros(len(order), np.int64)
    offsets: dict[Hashable, int] = {}
    for i, buf in enumerate(order):
        alive = np.flatnonzero((starts[:i] <= buf.end) & (ends[:i] >= buf.start))
        offset = 0
        if alive.size:
            by_low = np.lexsort((highs[alive], lows[alive]))
            lo, hi = lows[alive][by_low], highs[alive][by_low]
            cursor = np.concatenate(([0], np.maximum.accumulate(hi)[:-1]))  # the top of what lies below each
            gaps = lo - cursor
            fits = np.flatnonzero(gaps >= sizes[i])
            if fits.size:  # the smallest gap; the lowest among equals
                best = fits[np.lexsort((cursor[fits], gaps[fits]))[0]]
                offset = int(cursor[best])
            else:
                offset = int(max(cursor[-1], hi[-1]))
        offsets[buf.key] = offset
        lows[i], highs[i] = offset, offset + sizes[i]
    return offsets


def _first_fit_by_start(units: Sequence[Lifetime]) -> dict[Hashable, int]:
    """In order of birth, each at the lowest offset free when it is born: the arena is swept
    once, buffers freed as they die (their space joins its free neighbours) and allocated from
    the lowest free gap that fits, or from the top."""
    gaps: list[list[int]] = []  # free [lo, hi) below `top`, sorted, never adjacent
    top = 0
    dying: list[tuple[int, int, int]] = []  # (last step, offset, size) of the buffers alive
    offsets: dict[Hashable, int] = {}
    for buf in sorted(units, key=lambda b: (b.start, -b.size)):
        while dying and dying[0][0] < buf.start:
            _, lo, size = heapq.heappop(dying)
            top = _free(gaps, top, lo, lo + size)
        at = next((k for k, (lo, hi) in enumerate(gaps) if hi - lo >= buf.size), None)
        if at is None:
            offset, top = top, top + buf.size
        else:
            offset = gaps[at][0]
            gaps[at][0] += buf.size
            if gaps[at][0] == gaps[at][1]:
                del gaps[at]
        offsets[buf.key] = offset
        heapq.heappush(dying, (buf.end, offset, buf.size))
    return offsets


def _free(gaps: list[list[int]], top: int, lo: int, hi: int) -> int:
    """Return [lo, hi) to the free gaps (joined with its neighbours); the new top."""
    at = bisect.bisect_left(gaps, [lo, hi])
    if at > 0 and gaps[at - 1][1] == lo:  # joins the gap below
        at -= 1
        lo = gaps.pop(at)[0]
    if hi == top:  # the top of the arena: everything from lo up is free
        return lo
    if at < len(gaps) and gaps[at][0] == hi:  # joins the gap above
        gaps[at][0] = lo
    else:
        gaps.insert(at, [lo, hi])
    return top


def accepted_reuses(buffers: Sequence[Lifetime]) -> list[tuple[Hashable, Hashable]]:
    """The (old, new) offers that hold: same size, old dies where new is born, one taker each."""
    by_key = {b.key: b for b in buffers}
    taken: set[Hashable] = set()
    pairs = []
    for b in sorted(buffers, key=lambda b: b.start):
        old = by_key.get(b.reuses) if b.reuses is not None else None
        if old is not None and old.key not in taken and old.end == b.start and old.size == b.size:
            taken.add(old.key)
            pairs.append((old.key, b.key))
    return pairs


def _merged(buffers: Sequence[Lifetime], pairs: Sequence[tuple[Hashable, Hashable]]) -> tuple[list[Lifetime], dict[Hashable, Hashable]]:
    """Chains of in-place buffers as single lifetimes, and each buffer's chain."""
    chain = {b.key: b.key for b in buffers}
    for old, new in pairs:  # in order of birth, so `old` already knows its chain
        chain[new] = chain[old]
    spans: dict[Hashable, Lifetime] = {}
    for b in buffers:
        c = chain[b.key]
        s = spans.get(c)
        spans[c] = b if s is None else Lifetime(c, max(s.nbytes, b.nbytes), min(s.start, b.start), max(s.end, b.end))
    return [Lifetime(c, s.nbytes, s.start, s.end) for c, s in spans.items()], chain


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
    """Raise AssertionError if two buffers alive at the same step share a byte — unless one
    took the other's place in place, at the one step where the old dies and the new is born."""
    allowed = {frozenset(pair) for pair in plan.in_place}
    by_key = {b.key: b for b in buffers}
    for old, new in plan.in_place:
        assert by_key[old].end == by_key[new].start, f"{new} took the place of {old}, which is still alive"
        assert plan.offsets[old] == plan.offsets[new], f"{new} is in place of {old} but elsewhere"
    ordered = sorted(buffers, key=lambda b: plan.offsets[b.key])
    for i, a in enumerate(ordered):
        a_lo = plan.offsets[a.key]
        assert a_lo % ALIGN == 0 and a_lo + a.size <= plan.arena_bytes, f"{a.key} is out of the arena"
        for b in ordered[i + 1:]:
            b_lo = plan.offsets[b.key]
            if b_lo >= a_lo + a.size:
                break
            if frozenset((a.key, b.key)) in allowed:
                continue
            assert not _overlap_in_time(a, b), f"{a.key} and {b.key} overlap in time and space"


def plan_memory(buffers: Sequence[Lifetime], naive_bytes: int | None = None) -> MemoryPlan:
    """The smaller of the two greedy plans for `buffers`, in-place offers taken where they hold.

    `naive_bytes` is what the program would take with no planning at all (default: every
    buffer its own place); `lower_bound_bytes` is the bound for these buffers, chains merged.
    """
    pairs = accepted_reuses(buffers)
    units, chain = _merged(buffers, pairs)
    heuristics: dict[str, Callable[[], dict[Hashable, int]]] = {"greedy by start, first fit": lambda: _first_fit_by_start(units)}
    if len(units) <= BEST_FIT_LIMIT:
        heuristics["greedy by size, best fit"] = lambda: _best_fit_by_size(units)
    best: MemoryPlan | None = None
    naive = sum(b.size for b in buffers) if naive_bytes is None else naive_bytes
    bound = lower_bound(units)
    for name, place in heuristics.items():
        placed = place()
        offsets = {b.key: placed[chain[b.key]] for b in buffers}
        arena = max((offsets[b.key] + b.size for b in buffers), default=0)
        if best is None or arena < best.arena_bytes:
            best = MemoryPlan(offsets, arena, naive, bound, name, tuple(pairs))
        if best.arena_bytes == bound:  # no plan can do better
            break
    assert best is not None
    return best
