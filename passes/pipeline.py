"""The optimization pipeline: a plain ordered list of passes, run one after the other.

Each pass is a pure function from a graph to a `PassResult`, run inside loops' bodies too
(`graphc.passes.loops`); `run_pipeline` records, per pass,
the nodes before and after, its counters and its time, and can verify the graph after every
pass (always in the test suite, through GRAPHC_VERIFY_PASSES=1).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graphc.errors import GraphError
from graphc.ir import Graph, verify
from graphc.printer import format_graph

from .base import PassResult
from .cse import cse
from .dce import eliminate_dead_nodes
from .fold import fold_constants
from .fuse import fuse
from .loops import inside_loops
from .simplify import simplify

PIPELINE: list[tuple[str, Callable[[Graph], PassResult]]] = [  # in the order they run
    ("fold", fold_constants),
    ("simplify", simplify),
    ("cse", cse),
    ("dce", eliminate_dead_nodes),
    ("fuse", fuse),
]
VERIFY_EACH = os.environ.get("GRAPHC_VERIFY_PASSES") == "1"


@dataclass(frozen=True)
class PassReport:
    """What one pass did."""

    name: str
    nodes_before: int
    nodes_after: int
    stats: dict[str, int]
    seconds: float
    notes: tuple[str, ...] = ()
    graph: Graph | None = field(default=None, repr=False, compare=False)  # the graph after the pass

    def __str__(self) -> str:
        counters = ", ".join(f"{k} {v}" for k, v in self.stats.items()) or "no change"
        return (f"{self.name:<8} {self.nodes_before:>6} -> {self.nodes_after:<6} nodes  {counters}"
                f"  ({self.seconds * 1e3:.1f} ms)")


Pass = tuple[str, Callable[[Graph], PassResult]]


def run_pipeline(graph: Graph, disabled: Sequence[str] = (), verify_each: bool = VERIFY_EACH,
                 debug: bool = False, pipeline: Sequence[Pass] | None = None) -> tuple[Graph, list[PassReport]]:
    """`graph` through every pass of PIPELINE not named in `disabled`, with a report per pass.

    `debug` verifies the graph after every pass and prints it, with the pass's report, to stderr.
    """
    passes = PIPELINE if pipeline is None else pipeline
    unknown = set(disabled) - {name for name, _ in passes}
    if unknown:
        raise GraphError(f"unknown passes {sorted(unknown)}; the passes are {[n for n, _ in passes]}")
    reports = []
    for name, run in passes:
        if name in disabled:
            continue
        started = time.perf_counter()
        result = inside_loops(run)(graph)
        seconds = time.perf_counter() - started
        if verify_each or debug:
            verify(result.graph)
        report = PassReport(name, len(graph), len(result.graph), result.stats, seconds, result.notes, result.graph)
        if debug:
            notes = "".join(f"\n  {line}" for line in result.notes)
            print(f"--- after {report}{notes}\n{format_graph(result.graph)}", file=sys.stderr)
        reports.append(report)
        graph = result.graph
    return graph, reports
