"""`graphc compare`: the benchmark workloads through the compiled step, the step with no
optimization, the eager baseline, and the installed peers (PyTorch eager, torch.compile, JAX:
`graphc.cli.peers`, carried with graphc), as a table; which peers were found and which were
skipped, and why, comes first, and a progress line per case goes to stderr.

A quick, in-process comparison (a few warm-up steps, then the median of the timed ones); the
rigorous numbers — one process per case, pinned, cold and warm compiles — come from
`benchmarks/run_all.sh` (docs/benchmarks.md). `--bench DIR` (or GRAPHC_PEER_BENCH) adds the
other peers of a shared bench folder, where there is one.
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
from .peers import NEEDS, build_peer, find_peers
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
    build_s: float | None  # building it and its first step (a compile, for the compiled ones)
    note: str = ""
    loss: float | None = None  # of the first step: the same for every runner, up to rounding


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
            out: Callable[[str], None] = print,
            progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> list[Row]:
    """Time every workload on every runner; print the table as rows arrive; return the rows."""
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise GraphcError(f"compare: unknown workloads {unknown}; the workloads are {sorted(WORKLOADS)}")
    shared: Any = None
    if bench is not None:
        sys.path.insert(0, bench)
        shared = importlib.import_module("peers")  # the shared bench's harness
    found, skipped = find_peers()
    extra = [p for p in shared.PEERS if p not in OURS and p not in NEEDS] if shared is not None else []
    available = list(OURS) + found + extra
    chosen = list(available if peers is None else peers)
    missing = [p for p in chosen if p not in available]
    if missing:
        why = "; ".join(f"{p}: {skipped[p]}" for p in missing if p in skipped)
        raise GraphcError(f"compare: runners {missing} are not available{' (' + why + ')' if why else ''};"
                          f" available: {available}")
    out(f"peers found: {', '.join(found + extra) or 'none'}" + "".join(
        f"; skipped {p}: {why}" for p, why in skipped.items()))
    rows: list[Row] = []
    out(f"{'workload':<16} {'runner':<15} {'median ms':>10} {'vs graphc':>10} {'build s':>8} {'first loss':>11}  note")
    cases, done = len(workloads) * len(chosen), 0
    for w in workloads:
        wl = dict(WORKLOADS[w], name=w)
        data = make_data(w)
        reference = None
        for p in chosen:
            done += 1
            progress(f"[{done}/{cases}] {w} on {p} ...")
            started = time.perf_counter()
            try:
                if p in OURS:
                    runner = OURS[p](wl, data)
                elif p in NEEDS:
                    runner = build_peer(p, wl, data)
                else:
                    lib, _ = shared.import_peer(p, 1)
                    runner = shared.build(p, dict(shared_workload(w), name=w), data, lib)
                first = runner.step()
                runner.sync(first)
                build = time.perf_counter() - started
                median = _time(runner, steps)
                row = Row(w, p, median, build, loss=runner.loss_value(first))
            except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
                row = Row(w, p, None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}" if str(exc)
                          else type(exc).__name__)
            if p == "graphc" and row.median_ms is not None:
                reference = row.median_ms
            rows.append(row)
            ratio = f"{row.median_ms / reference:.2f}x" if row.median_ms and reference else ""
            median_text = f"{row.median_ms:.3f}" if row.median_ms is not None else "-"
            build_text = f"{row.build_s:.2f}" if row.build_s is not None else "-"
            loss_text = f"{row.loss:.6g}" if row.loss is not None else "-"
            out(f"{w:<16} {p:<15} {median_text:>10} {ratio:>10} {build_text:>8} {loss_text:>11}  {row.note}")
    return rows


def shared_workload(name: str) -> dict[str, Any]:
    """The shared bench's own definition of workload `name` (its peers read its fields)."""
    import workloads as shared_workloads  # type: ignore[import-not-found]

    return dict(shared_workloads.WORKLOADS[name])
