"""The shared benchmark workloads (../shared/bench/workloads.py) written with graphc.

One model function per workload, run either compiled (`GraphcRunner`) or eagerly
(`GraphcEagerRunner`), with the runner interface of the shared peers.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import graphc as gc
from graphc import eager


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
            loss = ln_gelu_loss(*phs, wl["eps"])
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
            loss = mlp_loss(*self.inputs, self.params, self.wl["act"])
            loss.backward()
            with eager.no_grad():
                for p in self.params:
                    p.data -= np.float32(self.wl["lr"]) * p.grad.data
            return loss
        if self.kind == "ln_gelu":
            loss = ln_gelu_loss(*self.params, self.wl["eps"])
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
