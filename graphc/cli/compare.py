"""`graphc compare`: the benchmark workloads through the compiled step, the step with no
optimization, the eager baseline, and every installed peer of the shared bench, as a table.

A quick, in-process comparison (a few warm-up steps, then the median of the timed ones); the
rigorous numbers — one process per case, pinned, cold and warm compiles — come from
`benchmarks/run_all.sh` (docs/benchmarks.md). Peers need the shared bench folder
(`--bench DIR` or GRAPHC_PEER_BENCH); without it graphc's own runners are compared.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GraphcError
from .workloads import WORKLOADS, GraphcEagerRunner, GraphcRunner, make_data

OURS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
    "graphc": lambda wl, d: GraphcRunner(wl, d),
    "graphc_noopt": lambda wl, d: GraphcRunner(wl, d, optimize=False),
    "graphc_eager": lambda wl, d: GraphcEagerRunner(wl, d),
}
QUICK = ["mlp_small", "mlp_mnist", "deep_narrow"]


@dataclass(frozen=True)
class Row:
    workload: str
    runner: str
    median_ms: float | None
    build_s: float | None
    note: str = ""


def find_bench(given: str | None) -> str | None:
    """The shared bench folder: `given`, GRAPHC_PEER_BENCH, or ../shared/bench beside the checkout."""
    if given:
        if not os.path.isfile(os.path.join(given, "peers.py")):
            raise GraphcError(f"compare: no peers.py in {given!r} (expected the shared bench folder)")
        return os.path.abspath(given)
    candidates = [os.environ.get("GRAPHC_PEER_BENCH"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "bench")]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "peers.py")):
            return os.path.abspath(c)
    return None


def _time(runner: Any, steps: int) -> float:
    for _ in range(3):
        runner.sync(runner.step())
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        runner.sync(runner.step())
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1e3


def compare(workloads: Sequence[str], peers: Sequence[str] | None, steps: int, bench: str | None,
            out: Callable[[str], None] = print) -> list[Row]:
    """Time every workload on every runner; print the table as rows arrive; return the rows."""
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise GraphcError(f"compare: unknown workloads {unknown}; the workloads are {sorted(WORKLOADS)}")
    shared: Any = None
    if bench is not None:
        sys.path.insert(0, bench)
        shared = importlib.import_module("peers")  # the shared bench's harness
    available = list(OURS) + ([p for p in shared.PEERS if p not in OURS] if shared is not None else [])
    chosen = list(available if peers is None else peers)
    missing = [p for p in chosen if p not in available]
    if missing:
        hint = "" if shared is not None else " (peers other than graphc's need the shared bench: --bench DIR)"
        raise GraphcError(f"compare: unknown runners {missing}; available: {available}{hint}")
    rows: list[Row] = []
    out(f"{'workload':<16} {'runner':<15} {'median ms':>10} {'vs graphc':>10} {'build s':>8}  note")
    for w in workloads:
        wl = dict(WORKLOADS[w], name=w)
        data = make_data(w)
        reference = None
        for p in chosen:
            started = time.perf_counter()
            try:
                if p in OURS:
                    runner = OURS[p](wl, data)
                else:
                    lib, _ = shared.import_peer(p, 1)
                    runner = shared.build(p, dict(shared_workload(w), name=w), data, lib)
                build = time.perf_counter() - started
                median = _time(runner, steps)
                row = Row(w, p, median, build)
            except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
                row = Row(w, p, None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}" if str(exc)
                          else type(exc).__name__)
            if p == "graphc" and row.median_ms is not None:
                reference = row.median_ms
            rows.append(row)
            ratio = f"{row.median_ms / reference:.2f}x" if row.median_ms and reference else ""
            median_text = f"{row.median_ms:.3f}" if row.median_ms is not None else "-"
            build_text = f"{row.build_s:.2f}" if row.build_s is not None else "-"
            out(f"{w:<16} {p:<15} {median_text:>10} {ratio:>10} {build_text:>8}  {row.note}")
    return rows


def shared_workload(name: str) -> dict[str, Any]:
    """The shared bench's own definition of workload `name` (its peers read its fields)."""
    import workloads as shared_workloads  # type: ignore[import-not-found]

    return dict(shared_workloads.WORKLOADS[name])
