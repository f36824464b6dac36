"""`gc.compile(..., memory_budget=BYTES)`: the least recomputation whose real arena fits.

The remat pass (`graphc.passes.remat`) recomputes in the backward pass the forward values a
minimum cut chooses, at a price per element recomputed against the bytes kept. Higher prices
recompute less. The arena the Numba back end would plan is not monotone in the price (a copy
made too early can cost more than it saves), so every price of a fixed ladder is tried, each
program fused and planned as it will run, and the highest price whose arena fits wins: the
promise `arena_bytes <= memory_budget` is checked on the real plan, never estimated.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from .backends.numba.lowering import lower
from .errors import GraphError
from .ir import Graph, Variable
from .passes.fuse import fuse
from .passes.remat import chosen_by_min_cut, rematerialize
from .printer import node_names

# Prices per element recomputed, against 1 per byte kept: from nothing recomputed to all it can.
PRICES = (float("inf"), 64.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.0)


@dataclass(frozen=True)
class Fitted:
    """The graph chosen for a budget (not fused yet), with what it cost to get there."""

    graph: Graph
    stats: dict[str, int]
    notes: tuple[str, ...]
    seconds: float


def _arena(graph: Graph, n_outputs: int, variables: Sequence[Variable], fused: bool, check: bool) -> tuple[int, str]:
    """The arena bytes of `graph` as the Numba back end would plan it, and what fills its peak."""
    if fused:
        graph = fuse(graph).graph
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
    return lowered.arena_bytes, dominant


def fit_memory_budget(graph: Graph, budget: int, n_outputs: int, variables: Sequence[Variable], fused: bool,
                      check: bool) -> Fitted:
    """`graph` (optimized, not fused) with the least recomputation that brings the arena of the
    program it becomes within `budget` bytes, or GraphError naming the smallest arena reached.
    `variables` are the updated variables, whose new values end `graph.outputs`."""
    started = time.perf_counter()
    tried: dict[frozenset[int], tuple[int, str, Graph, dict[str, int], tuple[str, ...]]] = {}
    unconstrained = None
    for price in PRICES:
        chosen = frozenset() if price == float("inf") else frozenset(chosen_by_min_cut(graph, price))
        if chosen in tried:
            continue
        result = rematerialize(graph, chosen)
        arena, dominant = _arena(result.graph, n_outputs, variables, fused, check)
        tried[chosen] = (arena, dominant, result.graph, result.stats, result.notes)
        if unconstrained is None:
            unconstrained = arena
        if arena <= budget:
            extra = sum(n.size for n in result.graph.nodes) - sum(n.size for n in graph.nodes)
            note = (f"memory_budget {budget} bytes: arena {unconstrained} -> {arena} bytes, recomputing"
                    f" {result.stats['nodes_recomputed']} nodes (about {max(extra, 0)} more elements computed per step)")
            return Fitted(result.graph, result.stats, (note, *result.notes), time.perf_counter() - started)
    best, dominant, *_ = min(tried.values(), key=lambda t: t[0])
    raise GraphError(
        f"compile: memory_budget={budget} bytes cannot be met: the smallest arena graphc reached is {best} bytes"
        f" (without recomputation {unconstrained}; matrix products and convolutions are never recomputed);"
        f" largest values alive at its peak: {dominant}"
    )
