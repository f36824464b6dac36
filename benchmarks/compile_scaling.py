#!/usr/bin/env python
"""Cold and warm compile time of a training step as the program grows.

    python benchmarks/compile_scaling.py [--layers 2 8 32 128] [--peers graphc jax torch_compile]
                                         [--chain 1000 10000] [--lstm 64 1024]
                                         [--peer-python PEER=PYTHON ...] [--json OUT]

Case `mlp L`: the SGD step of an L-layer tanh MLP (width 64, batch 32, mean softmax
cross-entropy). Case `chain N`: N elementwise layers `h = tanh(h * 1.01 + 0.1)` over a (64,)
vector and the gradient of their sum, with `backend="numpy"` (the passes and the memory plan,
no native code; `passes_s` is the passes' own time); `chain_native N` the same compiled. Case
`lstm N`: lstm_small's SGD step (gc.scan over N steps of one LSTM layer, input 32, hidden 128,
batch 32), its time to build and compile (the first call, which runs N steps, is `run_s`). Each case runs in its own process: `cold_s` is build + first call with empty compile
caches (the time to import the library is not counted), `warm_s` the same in a new process
against the caches the cold run filled. Peers (JAX jit, torch.compile) run the same MLP step
where installed (`--peer-python jax=/path/to/python` runs a peer with another interpreter, e.g. a
virtualenv holding JAX). For the shared protocol, pin the command to one core and unset
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for it (see run_all.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

WIDTH, BATCH, CLASSES, LR = 64, 32, 10, 0.01
TIMEOUT = 900


def mlp_data(layers: int):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=BATCH)
    sizes = [WIDTH] * layers + [CLASSES]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    return x, y, params


def graphc_mlp(layers: int) -> float:
    import graphc as gc
    from graphc.cli.workloads import mlp_loss

    x0, y0, p0 = mlp_data(layers)
    started = time.perf_counter()
    x = gc.placeholder(x0.shape, "float32", name="x")
    y = gc.placeholder(y0.shape, "int64", name="y")
    params = [gc.variable(p) for p in p0]
    loss = mlp_loss(x, y, params, "tanh")  # the benchmark workloads' own MLP
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, params, LR))
    f(x0, y0)
    return time.perf_counter() - started


def graphc_chain(n: int, backend: str = "numpy") -> tuple[float, float]:
    """Seconds to build, compile and call the chain, and of those the passes' own."""
    import numpy as np

    import graphc as gc

    started = time.perf_counter()
    x = gc.placeholder((64,), "float64", name="x")
    h = x
    for _ in range(n):
        h = gc.tanh(h * 1.01 + 0.1)
    loss = gc.sum(h)
    f = gc.compile([x], [loss, gc.grad(loss, x)], backend=backend)
    f(np.linspace(-1, 1, 64))
    return time.perf_counter() - started, sum(r.seconds for r in f.passes)


def graphc_lstm(steps: int) -> tuple[float, float]:
    """Seconds to build and compile lstm_small's step over `steps` steps, and to run it once."""
    import numpy as np

    import graphc as gc
    from graphc.cli.workloads import WORKLOADS, lstm_loss, make_data

    d = make_data("lstm_small")
    x0 = np.resize(d["x"], (steps, *d["x"].shape[1:]))
    started = time.perf_counter()
    x = gc.placeholder(x0.shape, "float32", name="x")
    y = gc.placeholder(d["y"].shape, "int64", name="y")
    params = [gc.variable(p) for p in d["params"]]
    loss = lstm_loss(x, y, params)
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, params, WORKLOADS["lstm_small"]["lr"]))
    compiled = time.perf_counter()
    f(x0, d["y"])
    return compiled - started, time.perf_counter() - compiled


def jax_mlp(layers: int) -> float:
    import jax
    import jax.numpy as jnp

    x0, y0, p0 = mlp_data(layers)
    started = time.perf_counter()

    def loss_fn(params, x, y):  # type: ignore[no-untyped-def]
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = jnp.tanh(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params, x, y):  # type: ignore[no-untyped-def]
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return loss, [p - LR * g for p, g in zip(params, grads)]

    loss, _ = step([jnp.asarray(p) for p in p0], jnp.asarray(x0), jnp.asarray(y0))
    loss.block_until_ready()
    return time.perf_counter() - started


def torch_compile_mlp(layers: int) -> float:
    import torch

    x0, y0, p0 = mlp_data(layers)
    started = time.perf_counter()
    params = [torch.tensor(p, requires_grad=True) for p in p0]
    x, y = torch.tensor(x0), torch.tensor(y0)

    @torch.compile
    def step(x, y):  # type: ignore[no-untyped-def]
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = torch.tanh(h)
        loss = torch.nn.functional.cross_entropy(h, y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return loss

    step(x, y)
    return time.perf_counter() - started


RUNNERS = {"graphc": graphc_mlp, "jax": jax_mlp, "torch_compile": torch_compile_mlp}


def one_case(peer: str, case: str, size: int) -> None:
    """Run one case in this process and print its time in seconds."""
    if peer == "graphc":
        import graphc  # noqa: F401 - import time is not compile time
    if case in ("chain", "chain_native"):
        seconds, passes = graphc_chain(size, "numpy" if case == "chain" else "numba")
        print(json.dumps({"seconds": seconds, "passes": passes}))
    elif case == "lstm":
        seconds, run = graphc_lstm(size)
        print(json.dumps({"seconds": seconds, "run": run}))
    else:
        print(json.dumps({"seconds": RUNNERS[peer](size)}))


def run_case(peer: str, case: str, size: int, cache: str, python: str) -> dict | None:
    env = dict(os.environ, GRAPHC_CACHE_DIR=os.path.join(cache, "graphc"), NUMBA_CACHE_DIR=os.path.join(cache, "numba"),
               TORCHINDUCTOR_CACHE_DIR=os.path.join(cache, "inductor"), JAX_PLATFORMS="cpu")
    try:
        done = subprocess.run([python, __file__, "--one", peer, case, str(size)], env=env,
                              capture_output=True, text=True, check=False, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"  {peer} {case} {size}: more than {TIMEOUT} s", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"  {peer} {case} {size}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="*", default=[2, 8, 32, 128])
    ap.add_argument("--peers", nargs="*", default=["graphc", "jax", "torch_compile"])
    ap.add_argument("--chain", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--lstm", type=int, nargs="*", default=[64, 1024])
    ap.add_argument("--peer-python", nargs="*", default=[], help="PEER=PYTHON: run PEER with that interpreter")
    ap.add_argument("--json", help="append one JSON line per case")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one_case(args.one[0], args.one[1], int(args.one[2]))
        return
    pythons = dict(item.split("=", 1) for item in args.peer_python)
    cases = [(p, "mlp", n) for p in args.peers for n in args.layers]
    cases += [("graphc", kind, n) for kind in ("chain", "chain_native") for n in args.chain]
    cases += [("graphc", "lstm", n) for n in args.lstm]
    for peer, case, size in cases:
        with tempfile.TemporaryDirectory() as cache:
            python = pythons.get(peer, sys.executable)
            cold = run_case(peer, case, size, cache, python)
            warm = run_case(peer, case, size, cache, python) if cold is not None else None
        if cold is None:
            continue
        row = {"peer": peer, "case": case, "size": size, "cold_s": round(cold["seconds"], 3),
               "warm_s": None if warm is None else round(warm["seconds"], 3)}
        if "passes" in cold:
            row["passes_s"] = round(cold["passes"], 3)
        if "run" in cold:
            row["run_s"] = round(cold["run"], 3)
        print(f"{peer:14s} {case:12s} {size:6d}  cold {row['cold_s']:7.2f} s  warm {row['warm_s']} s"
              + (f"  (passes {row['passes_s']:.2f} s)" if "passes_s" in row else "")
              + (f"  (then one step {row['run_s']:.2f} s)" if "run_s" in row else ""), flush=True)
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
