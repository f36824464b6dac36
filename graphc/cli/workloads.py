"""The benchmark workloads written with graphc: one model function per workload, run compiled
(`GraphcRunner`) or eagerly (`GraphcEagerRunner`), with the runner interface of the shared
bench's peers.py (`step`, `sync`, `loss_value`, `check_arrays`), so `benchmarks/` and
`graphc compare` time the very same code.

`WORKLOADS` and `make_data` repeat the shared bench's definitions (../shared/bench/workloads.py:
the same sizes, dtypes and initial distributions) so that `graphc compare` runs where that
folder is absent; where it is present, its own data is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import graphc as gc
from graphc import eager

F32 = np.float32
WORKLOADS: dict[str, dict[str, Any]] = {
    "mlp_small": dict(kind="mlp", sizes=[64, 128, 128, 10], act="relu", batch=32, lr=0.01),
    "mlp_mnist": dict(kind="mlp", sizes=[784, 512, 512, 10], act="relu", batch=128, lr=0.01),
    "deep_narrow": dict(kind="mlp", sizes=[32] + [32] * 16 + [10], act="tanh", batch=16, lr=0.01),
    "ln_gelu": dict(kind="ln_gelu", shape=(4096, 1024), eps=1e-5),
    "big_matmul": dict(kind="big_matmul", n=1024),
    "mlp_mnist_b4096": dict(kind="mlp", sizes=[784, 512, 512, 10], act="relu", batch=4096, lr=0.01),
}


def make_data(name: str) -> dict[str, Any]:
    """Inputs and initial parameters of workload `name` (float32; labels int64), seeded."""
    wl = WORKLOADS[name]
    rng = np.random.default_rng(0)
    if wl["kind"] == "mlp":
        sizes, batch = wl["sizes"], wl["batch"]
        x = rng.standard_normal((batch, sizes[0])).astype(F32)
        y = rng.integers(0, 10, size=batch).astype(np.int64)
        params = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if wl["act"] == "relu" and i < len(sizes) - 2:
                w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            params += [w.astype(F32), np.zeros(fan_out, F32)]
        return dict(x=x, y=y, params=params)
    if wl["kind"] == "ln_gelu":
        rows, cols = wl["shape"]
        return dict(x=rng.standard_normal((rows, cols)).astype(F32),
                    gamma=(1.0 + 0.1 * rng.standard_normal(cols)).astype(F32),
                    beta=(0.1 * rng.standard_normal(cols)).astype(F32))
    n = wl["n"]
    scale = n**-0.25
    return dict(A=(rng.standard_normal((n, n)) * scale).astype(F32), B=(rng.standard_normal((n, n)) * scale).astype(F32))


def mlp_loss(x: Any, y: Any, params: list[Any], act: str) -> Any:
    h = x
    n = len(params) // 2
    for i in range(n):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            h = gc.relu(h) if act == "relu" else gc.tanh(h)
    return gc.mean(gc.softmax_cross_entropy(h, y))


def ln_gelu_loss(x: Any, gamma: Any, beta: Any, eps: float) -> Any:
    mu = gc.mean(x, axis=1, keepdims=True)
    centered = x - mu
    var = gc.mean(centered * centered, axis=1, keepdims=True)
    y = gc.gelu(centered / gc.sqrt(var + eps) * gamma + beta)
    return gc.mean(y * y)


def big_matmul_loss(a: Any, b: Any) -> Any:
    return gc.sum(gc.tanh(a @ b))


class GraphcRunner:
    """The workload's step compiled by graphc (forward, backward and SGD in one native call)."""

    def __init__(self, wl: dict, d: dict, **options: Any) -> None:
        self.kind = wl["kind"]
        self.updates = self.kind == "mlp"
        if self.kind == "mlp":
            x = gc.placeholder(d["x"].shape, "float32", name="x")
            y = gc.placeholder(d["y"].shape, "int64", name="y")
            self.params = [gc.variable(p, name=f"p{i}") for i, p in enumerate(d["params"])]
            loss = mlp_loss(x, y, self.params, wl["act"])
            updates = gc.optim.sgd(loss, self.params, wl["lr"])
            self.f = gc.compile([x, y], loss, updates=updates, **options)
            self.feeds = (d["x"], d["y"])
        elif self.kind == "ln_gelu":
            names = ("x", "gamma", "beta")
            phs = [gc.placeholder(d[k].shape, "float32", name=k) for k in names]
            loss = ln_gelu_loss(phs[0], phs[1], phs[2], wl["eps"])
            self.f = gc.compile(phs, (loss, gc.grad(loss, phs)), **options)
            self.feeds = tuple(d[k] for k in names)
        else:
            phs = [gc.placeholder(d[k].shape, "float32", name=k) for k in ("A", "B")]
            loss = big_matmul_loss(*phs)
            self.f = gc.compile(phs, (loss, gc.grad(loss, phs)), **options)
            self.feeds = (d["A"], d["B"])

    def step(self) -> Any:
        return self.f(*self.feeds)

    def sync(self, out: Any) -> None:
        pass

    def loss_value(self, out: Any) -> float:
        return float(out if self.updates else out[0])

    def check_arrays(self, out: Any) -> list[np.ndarray]:
        if self.updates:
            return [p.value for p in self.params]
        return [np.array(g) for g in out[1]]


class GraphcEagerRunner(GraphcRunner):
    """The same model functions on graphc's define-by-run tape (gradients reset to None)."""

    def __init__(self, wl: dict, d: dict) -> None:
        self.kind = wl["kind"]
        self.updates = self.kind == "mlp"
        self.wl = wl
        self.params: list[Any]
        self.inputs: list[Any] = []
        if self.kind == "mlp":
            self.params = [eager.tensor(p, requires_grad=True) for p in d["params"]]
            self.inputs = [eager.tensor(d["x"]), eager.tensor(d["y"])]
        elif self.kind == "ln_gelu":
            self.params = [eager.tensor(d[k], requires_grad=True) for k in ("x", "gamma", "beta")]
        else:
            self.params = [eager.tensor(d[k], requires_grad=True) for k in ("A", "B")]

    def step(self) -> Any:
        for p in self.params:
            p.grad = None
        if self.kind == "mlp":
            loss = mlp_loss(self.inputs[0], self.inputs[1], self.params, self.wl["act"])
            loss.backward()
            with eager.no_grad():
                for p in self.params:
                    p.data -= np.float32(self.wl["lr"]) * p.grad.data
            return loss
        if self.kind == "ln_gelu":
            loss = ln_gelu_loss(self.params[0], self.params[1], self.params[2], self.wl["eps"])
        else:
            loss = big_matmul_loss(*self.params)
        loss.backward()
        return loss, [p.grad.data for p in self.params]

    def loss_value(self, out: Any) -> float:
        return float(out if self.updates else out[0])

    def check_arrays(self, out: Any) -> list[np.ndarray]:
        if self.updates:
            return [p.data.copy() for p in self.params]
        return [g.copy() for g in out[1]]
