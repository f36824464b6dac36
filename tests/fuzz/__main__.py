"""`make fuzz`: many random programs through every oracle, resumable, failures shrunk to scripts.

    FUZZ_N=20000 FUZZ_SEED=7 FUZZ_JOBS=2 FUZZ_NATIVE_EVERY=10 python -m tests.fuzz

Program i of seed S is `random_program(S * 1_000_000 + i)`. Progress is kept in
`.fuzz/state-S.json` after every chunk, so the same command continues where a stopped run left
off. Every program runs through the reference paths, eager mode and the generated code
(interpreted) under every configuration of passes; every FUZZ_NATIVE_EVERY-th program also
natively (Numba) with all passes and with none. Each mismatch is shrunk and written as a
runnable script `.fuzz/finding-<program>.py`.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from .oracles import CONFIGS, Mismatch, check_program
from .shrink import explain

STATE = pathlib.Path(".fuzz")
CHUNK = 50


def report(m: Mismatch) -> pathlib.Path:
    """Shrink `m` and write it as a script; returns the script's path."""
    path = STATE / f"finding-{m.program.seed}.py"
    text = explain(m)
    path.write_text(text[text.index("shrunk to:\n") + len("shrunk to:\n"):])
    return path


def run_chunk(args: tuple[int, int, int, int]) -> tuple[int, list[str], int]:
    """Programs [start, stop) of `seed`; returns (stop, findings, programs checked)."""
    seed, start, stop, native_every = args
    findings = []
    for i in range(start, stop):
        number = seed * 1_000_000 + i
        native = native_every > 0 and i % native_every == 0
        found = check_program(number, native=native, native_configs=CONFIGS[:2])
        for m in found[:1]:
            findings.append(f"{m}\n  -> {report(m)}")
    return stop, findings, stop - start


def main() -> int:
    n = int(os.environ.get("FUZZ_N", "20000"))
    seed = int(os.environ.get("FUZZ_SEED") or random.randrange(1, 10**6))
    jobs = int(os.environ.get("FUZZ_JOBS", str(os.cpu_count() or 1)))
    native_every = int(os.environ.get("FUZZ_NATIVE_EVERY", "10"))
    STATE.mkdir(exist_ok=True)
    state_file = STATE / f"state-{seed}.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"done": [], "findings": []}
    done = {tuple(c) for c in state["done"]}
    todo = [(seed, a, min(a + CHUNK, n), native_every) for a in range(0, n, CHUNK) if (a, min(a + CHUNK, n)) not in done]
    print(f"fuzz: seed {seed} (FUZZ_SEED={seed} to repeat or resume), {n} programs, {len(done) * CHUNK} done before,"
          f" {jobs} jobs, natively every {native_every}th", flush=True)
    started, checked = time.time(), 0
    with ProcessPoolExecutor(jobs) as pool:
        for stop, findings, count in pool.map(run_chunk, todo):
            checked += count
            state["done"].append([stop - count, stop])
            state["findings"] += findings
            state_file.write_text(json.dumps(state))
            for f in findings:
                print(f, flush=True)
            print(f"  {len(state['done']) * CHUNK}/{n} programs, {len(state['findings'])} findings,"
                  f" {time.time() - started:.0f} s", flush=True)
    print(f"fuzz: {checked} programs checked in {time.time() - started:.0f} s this run; seed {seed};"
          f" {len(state['findings'])} findings", flush=True)
    return 1 if state["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
