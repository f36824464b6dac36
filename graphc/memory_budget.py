"""`gc.compile(..., memory_budget=BYTES)`: the least recomputation whose real arena fits.

The remat pass (`graphc.passes.remat`) recomputes in the backward pass the forward values a
minimum cut chooses, at a price per element recomputed against the bytes kept. Candidates go
from the least recomputation to the most: first pointwise work only, at falling prices; then,
when that is not enough, segments: every s-th layer input kept and everything between
recomputed, matrix products included (the tutorials' checkpointing, one segment alive at a
time in the backward pass), for growing s. The arena the Numba back end would plan is not
monotone along the way (a copy made too early can cost more than it saves), so each candidate
is fused and planned as it will run, and the first that fits wins: the promise
`arena_bytes <= memory_budget` is checked on the real plan, never estimated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .backends.numba.lowering import LoweredProgram, lower
from .errors import GraphError
from .ir import Graph, Variable
from .passes.fuse import fuse
from .passes.loops import inside_loops
from .passes.remat import PRODUCTS, chosen_by_min_cut, rematerialize, segment_boundaries
from .printer import node_names

# Prices per element recomputed, against 1 per byte kept: from nothing recomputed to all it can.
PRICES = (float("inf"), 64.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.0)


@dataclass(frozen=True)
class Fitted:
    """The graph chosen for a budget (not fused yet), with what it cost to get there: every
    program tried as (extra elements computed per step, arena bytes), in order, the last the one
    chosen, and the memory plan without recomputation (buffers, arena, lower bound, steps)."""

    graph: Graph
    stats: dict[str, int]
    notes: tuple[str, ...]
    seconds: float
    budget: int
    trials: tuple[tuple[int, int], ...]
    unconstrained: tuple[list[tuple[str, int, int, int, int]], int, int, int]


def _arena(graph: Graph, n_outputs: int, variables: Sequence[Variable], fused: bool,
           check: bool) -> tuple[int, str, LoweredProgram]:
    """The arena bytes of `graph` as the Numba back end would plan it, what fills its peak, and
    the lowered program."""
    if fused:
        graph = inside_loops(fuse)(graph).graph
    lowered = lower(graph, n_outputs, list(zip(variables, graph.outputs[n_outputs:])), check)
    events = sorted([(b[3], b[2]) for b in lowered.buffers] + [(b[4] + 1, -b[2]) for b in lowered.buffers])
    alive_bytes, most, peak = 0, -1, 0
    for step, change in events:
        alive_bytes += change
        if alive_bytes > most:
            most, peak = alive_bytes, step
    alive = sorted((b for b in lowered.buffers if b[3] <= peak <= b[4]), key=lambda b: -b[2])
    names = node_names(graph)
    named = {names[id(n)]: n for n in graph.nodes if id(n) in names}
    described = []
    for what, *_ in alive[:4]:
        n = named.get(what.removesuffix(" (result)"))
        described.append(f"{n.op.name} {n.type} at {n.location}" if n is not None else what)
    dominant = ", ".join(described)
    return lowered.arena_bytes, dominant, lowered


def _candidates(graph: Graph) -> Iterator[frozenset[int]]:
    """What to recompute, from the least to the most: pointwise work at falling prices, then
    segments between every s-th layer input kept, products included, for s rising."""
    for price in PRICES:
        yield frozenset() if price == float("inf") else frozenset(chosen_by_min_cut(graph, price))
    boundaries = segment_boundaries(graph)
    spans = sorted({max(2, round(len(boundaries) ** (k / 6))) for k in range(1, 7)} | {2, 3, 4})
    for span in (s for s in spans if s <= max(len(boundaries), 1)):
        yield frozenset(chosen_by_min_cut(graph, 0.0, keep=boundaries[::span], products=True))


def fit_memory_budget(graph: Graph, budget: int, n_outputs: int, variables: Sequence[Variable], fused: bool,
                      check: bool) -> Fitted:
    """`graph` (optimized, not fused) with the least recomputation that brings the arena of the
    program it becomes within `budget` bytes, or GraphError naming the smallest arena reached.
    `variables` are the updated variables, whose new values end `graph.outputs`."""
    started = time.perf_counter()
    tried: dict[frozenset[int], tuple[int, str, Graph, dict[str, int], tuple[str, ...]]] = {}
    trials: list[tuple[int, int]] = []
    unconstrained = None
    plain = None
    for chosen in _candidates(graph):
        if chosen in tried:
            continue
        result = rematerialize(graph, chosen)
        arena, dominant, lowered = _arena(result.graph, n_outputs, variables, fused, check)
        tried[chosen] = (arena, dominant, result.graph, result.stats, result.notes)
        extra = max(sum(n.size for n in result.graph.nodes) - sum(n.size for n in graph.nodes), 0)
        trials.append((extra, arena))
        if unconstrained is None:
            unconstrained = arena
            plain = (lowered.buffers, arena, lowered.memory.lower_bound_bytes, lowered.steps)
        if arena <= budget:
            products = sum(1 for n in result.graph.nodes if n.op in PRODUCTS) - sum(1 for n in graph.nodes if n.op in PRODUCTS)
            note = (f"memory_budget {budget} bytes: arena {unconstrained} -> {arena} bytes, recomputing"
                    f" {result.stats['nodes_recomputed']} nodes, {products} of them products (about {max(extra, 0)}"
                    " more elements computed per step)")
            return Fitted(result.graph, result.stats, (note, *result.notes), time.perf_counter() - started, budget,
                          tuple(trials), plain)  # type: ignore[arg-type]
    best, dominant, *_ = min(tried.values(), key=lambda t: t[0])
    how = ("recomputing everything it may, segment by segment" if len(tried) > 1 else
           "nothing here can be recomputed: no value of a forward pass is kept for a backward one")
    raise GraphError(
        f"compile: memory_budget={budget} bytes cannot be met: the smallest arena graphc reached is {best} bytes"
        f" (without recomputation {unconstrained}; {how}); largest values alive at its peak: {dominant}"
    )
