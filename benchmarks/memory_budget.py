"""Training memory under a budget: a deep tanh MLP's SGD step, graphc at several memory budgets
beside PyTorch and JAX, plain and with checkpointed segments (`torch.utils.checkpoint`,
`jax.checkpoint`), each case in its own process:

    python benchmarks/memory_budget.py [--layers 24 --width 512 --batch 512] [--peer-python jax=PY]

Per case: the step's median time, and its peak memory: the most resident memory while steps
run (the high-water mark reset after building, compiling and two warm-up steps) above the
resident memory right after imports, so parameters, data and the step's own buffers count,
compile-time scratch does not. graphc also reports its arena. Pin the command to one core, the
BLAS variables unset for it (docs/benchmarks.md). One case: `--case PEER FRACTION` (graphc:
the budget as a fraction of the unconstrained arena, 0 for none; peers: the segment length in
layers, 0 for no checkpoint).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np


def _status(key: str) -> int:
    """A /proc/self/status figure in bytes."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(key + ":"))
    return int(line.split()[1]) * 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _data(layers: int, width: int, batch: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width)).astype(np.float32)
    ws = [(rng.standard_normal((width, width)) / math.sqrt(width)).astype(np.float32) for _ in range(layers)]
    return x, ws


def _graphc(layers: int, width: int, batch: int, fraction: float) -> tuple[object, dict[str, object]]:
    import graphc as gc

    data, inits = _data(layers, width, batch)
    x = gc.placeholder((batch, width), name="x")
    ws = [gc.variable(w, name=f"w{k}") for k, w in enumerate(inits)]
    h = x
    for w in ws:
        h = gc.tanh(h @ w)
    loss = gc.mean(h * h)
    updates = gc.optim.sgd(loss, ws, 0.01)
    budget = None
    if fraction:
        plain = gc.compile([x], loss, updates=updates, backend="numpy")
        budget = int(plain.memory.arena_bytes * fraction)
    f = gc.compile([x], loss, updates=updates, memory_budget=budget)
    remat = next((r for r in f.passes if r.name == "remat"), None)
    extra = {"arena_bytes": f.memory.arena_bytes, "budget": budget,
             "recomputed": remat.stats["nodes_recomputed"] if remat else 0}
    return (lambda: f(data)), extra


def _torch(layers: int, width: int, batch: int, segment: int) -> tuple[object, dict[str, object]]:
    import torch
    from torch.utils.checkpoint import checkpoint

    torch.set_num_threads(1)
    data, inits = _data(layers, width, batch)
    x = torch.from_numpy(data)
    ws = [torch.tensor(w, requires_grad=True) for w in inits]

    def run(h: object, block: list[object]) -> object:
        for w in block:
            h = torch.tanh(h @ w)
        return h

    def step() -> float:
        h = x
        blocks = [ws[i:i + segment] for i in range(0, layers, segment)] if segment else [ws]
        for block in blocks:
            h = checkpoint(run, h, block, use_reentrant=False) if segment else run(h, block)
        loss = (h * h).mean()
        loss.backward()
        with torch.no_grad():
            for w in ws:
                w -= 0.01 * w.grad
                w.grad = None
        return float(loss)

    return step, {}


def _jax(layers: int, width: int, batch: int, segment: int) -> tuple[object, dict[str, object]]:
    import jax
    import jax.numpy as jnp

    data, inits = _data(layers, width, batch)

    def run(h: object, block: list[object]) -> object:
        for w in block:
            h = jnp.tanh(h @ w)
        return h

    def loss_of(ws: list[object], x: object) -> object:
        h = x
        blocks = [ws[i:i + segment] for i in range(0, layers, segment)] if segment else [ws]
        for block in blocks:
            h = jax.checkpoint(run)(h, block) if segment else run(h, block)
        return jnp.mean(h * h)

    @jax.jit
    def update(ws: list[object], x: object) -> tuple[object, list[object]]:
        loss, grads = jax.value_and_grad(loss_of)(ws, x)
        return loss, [w - 0.01 * g for w, g in zip(ws, grads)]

    state = {"ws": [jnp.asarray(w) for w in inits]}
    x = jnp.asarray(data)

    def step() -> float:
        loss, state["ws"] = update(state["ws"], x)
        return float(loss)

    return step, {}


def run_case(peer: str, setting: float, layers: int, width: int, batch: int, steps: int) -> dict[str, object]:
    """One case in this process: build, warm up, then time `steps` steps and watch the peak."""
    base = _status("VmRSS")
    build = {"graphc": _graphc, "torch": _torch, "jax": _jax}[peer]
    step, extra = build(layers, width, batch, setting if peer == "graphc" else int(setting))  # type: ignore[operator]
    step()  # type: ignore[operator]
    step()  # type: ignore[operator]
    _reset_peak()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    peak = _status("VmHWM") - base
    return {"peer": peer, "setting": setting, "ms": 1e3 * float(np.median(times)), "peak_mib": peak / 2**20, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--case", nargs=2, metavar=("PEER", "SETTING"))
    parser.add_argument("--peer-python", action="append", default=[], metavar="PEER=PYTHON")
    parser.add_argument("--json", help="append each case's result to this file")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], float(args.case[1]), args.layers, args.width, args.batch, args.steps)))
        return
    pythons = dict(p.split("=", 1) for p in args.peer_python)
    segment = max(1, round(math.sqrt(args.layers)))
    cases = [("graphc", f) for f in (0, 0.75, 0.5, 0.35)] + [("torch", 0), ("torch", segment)] + \
            ([("jax", 0), ("jax", segment)] if "jax" in pythons else [])
    print(f"{args.layers} tanh layers of {args.width}, batch {args.batch}, float32, SGD; median of {args.steps} steps")
    print("| case | step ms | peak MiB above imports | graphc arena MiB |")
    print("| --- | ---: | ---: | ---: |")
    for peer, setting in cases:
        command = [pythons.get(peer, sys.executable), os.path.abspath(__file__), "--case", peer, str(setting),
                   "--layers", str(args.layers), "--width", str(args.width), "--batch", str(args.batch),
                   "--steps", str(args.steps)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"| {peer} {setting} | failed: {done.stderr.strip().splitlines()[-1][:120]} | | |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps({**r, "layers": args.layers, "width": args.width, "batch": args.batch}) + "\n")
        what = (f"graphc, memory_budget {setting:.0%} of the arena" if setting else "graphc, no budget") \
            if peer == "graphc" else f"{peer}, {'checkpoint every ' + str(int(setting)) + ' layers' if setting else 'plain'}"
        arena = f"{r['arena_bytes'] / 2**20:.1f}" if "arena_bytes" in r else ""
        print(f"| {what} | {r['ms']:.1f} | {r['peak_mib']:.1f} | {arena} |", flush=True)


if __name__ == "__main__":
    main()
