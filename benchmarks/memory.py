"""The memory figures of every shared workload's compiled step (no timing, no native compile):

    python benchmarks/memory.py

arena_bytes (the planned arena), lower_bound_bytes (the most bytes alive at once), naive_bytes
(every value the program computes in a buffer of its own), and buffers written in place.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.environ.get("GRAPHC_PEER_BENCH", os.path.join(HERE, "..", "..", "shared", "bench"))]

import workloads  # noqa: E402  (the shared bench's definitions)

from graphc.cli.workloads import GraphcRunner  # noqa: E402


def main() -> None:
    print("| workload | arena MiB | lower bound MiB | naive MiB | arena / bound | arena / naive | in place |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in workloads.WORKLOADS:
        m = GraphcRunner(workloads.get(name), workloads.make_data(name), backend="numpy").f.memory
        mib = 2.0**20
        print(f"| {name} | {m.arena_bytes / mib:.2f} | {m.lower_bound_bytes / mib:.2f} | {m.naive_bytes / mib:.2f}"
              f" | {m.arena_bytes / m.lower_bound_bytes:.3f} | {m.arena_bytes / m.naive_bytes:.3f} | {len(m.in_place)} |")


if __name__ == "__main__":
    main()
