"""What every pass returns: the new graph and named counters of what it did."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphc.ir import Graph


@dataclass(frozen=True)
class PassResult:
    """A pass's output graph and its counters (`{"nodes_removed": 3}`); the input is untouched."""

    graph: Graph
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.stats.values())
