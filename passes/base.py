"""What every pass returns: the new graph and named counters of what it did."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphc.ir import Graph


@dataclass(frozen=True)
class PassResult:
    """A pass's output graph, its counters (`{"nodes_merged": 3}`) and notes (one line each, for
    what counters cannot say: which nodes were fused, and why others were not). The input graph
    is untouched."""

    graph: Graph
    stats: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(self.stats.values())
