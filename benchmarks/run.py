#!/usr/bin/env python
"""Run one workload on one peer with the shared protocol (../shared/bench/peers.py), with
graphc's runners added: `graphc` (compiled), `graphc_nofuse` (every pass but fusion),
`graphc_noopt` (optimize=False: no pass at all), `graphc_eager` (the define-by-run tape).

    python benchmarks/run.py --workload W --peer P [--threads T] [--json OUT]

Every other peer and every option is the shared harness's own.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.environ.get("GRAPHC_PEER_BENCH", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, BENCH)
sys.path.insert(0, HERE)

import peers  # noqa: E402

GRAPHC_PEERS = ["graphc", "graphc_nofuse", "graphc_noopt", "graphc_eager"]
GRAPHC_OPTIONS = {"graphc": {}, "graphc_nofuse": {"disable": ("fuse",)}, "graphc_noopt": {"optimize": False}}
_shared_import, _shared_build = peers.import_peer, peers.build


def import_peer(peer: str, threads: int):  # type: ignore[no-untyped-def]
    if peer in GRAPHC_PEERS:
        import graphc

        return graphc, graphc.__version__
    return _shared_import(peer, threads)


def build(peer: str, wl: dict, d: dict, lib):  # type: ignore[no-untyped-def]
    if peer in GRAPHC_PEERS:
        from graphc.cli.workloads import GraphcEagerRunner, GraphcRunner

        if peer == "graphc_eager":
            return GraphcEagerRunner(wl, d)
        return GraphcRunner(wl, d, **GRAPHC_OPTIONS[peer])
    return _shared_build(peer, wl, d, lib)


peers.PEERS[:0] = GRAPHC_PEERS
peers.import_peer, peers.build = import_peer, build

if __name__ == "__main__":
    peers.main()
