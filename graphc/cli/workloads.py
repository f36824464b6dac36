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
    "cnn_small": dict(kind="cnn", batch=64, lr=0.01),
    "cnn_b256": dict(kind="cnn", batch=256, lr=0.01),
    "transformer_small": dict(kind="transformer", vocab=64, context=64, batch=8, d_model=128, heads=4, layers=2,
                              d_ff=512, eps=1e-5, lr=0.01),
    "lstm_small": dict(kind="lstm", input=32, hidden=128, seq=64, batch=32, lr=0.01),
}
CNN_CHANNELS, CNN_KERNEL, CNN_SIDE, CLASSES = (8, 16), 5, 28, 10  # LeNet-like: 28 -> 24 -> 12 -> 8 -> 4
MASK_VALUE = -1e9  # the transformer's causal mask replaces future scores by this


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
    if wl["kind"] == "cnn":
        return _cnn_data(wl, rng)
    if wl["kind"] == "transformer":
        return _transformer_data(wl, rng)
    if wl["kind"] == "lstm":
        return _lstm_data(wl, rng)
    n = wl["n"]
    scale = n**-0.25
    return dict(A=(rng.standard_normal((n, n)) * scale).astype(F32), B=(rng.standard_normal((n, n)) * scale).astype(F32))


def _cnn_data(wl: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    # Drawn in the shared bench's order: x, y, then He-normal conv weights and a Glorot-uniform
    # dense layer; zero biases draw nothing.
    (c1, c2), k, side, classes = CNN_CHANNELS, CNN_KERNEL, CNN_SIDE, CLASSES
    batch = wl["batch"]
    x = rng.standard_normal((batch, 1, side, side)).astype(F32)
    y = rng.integers(0, classes, size=batch).astype(np.int64)
    w1 = (rng.standard_normal((c1, 1, k, k)) * np.sqrt(2.0 / (k * k))).astype(F32)
    w2 = (rng.standard_normal((c2, c1, k, k)) * np.sqrt(2.0 / (c1 * k * k))).astype(F32)
    features = c2 * (((side - k + 1) // 2 - k + 1) // 2) ** 2
    limit = np.sqrt(6.0 / (features + classes))
    w3 = rng.uniform(-limit, limit, size=(features, classes)).astype(F32)
    params = [w1, np.zeros(c1, F32), w2, np.zeros(c2, F32), w3, np.zeros(classes, F32)]
    return dict(x=x, y=y, params=params)


def _transformer_data(wl: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    # Tokens and targets, then every matrix and embedding N(0, 0.02^2) in parameter order; layer
    # norm gains are ones and biases zeros, drawing nothing.
    vocab, context, batch, d, ff = wl["vocab"], wl["context"], wl["batch"], wl["d_model"], wl["d_ff"]
    x = rng.integers(0, vocab, size=(batch, context)).astype(np.int64)
    y = rng.integers(0, vocab, size=(batch, context)).astype(np.int64)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(F32)

    params = [normal(vocab, d), normal(context, d)]
    for _ in range(wl["layers"]):
        params += [np.ones(d, F32), np.zeros(d, F32)]
        for _ in range(4):  # q, k, v, output projections
            params += [normal(d, d), np.zeros(d, F32)]
        params += [np.ones(d, F32), np.zeros(d, F32), normal(d, ff), np.zeros(ff, F32), normal(ff, d), np.zeros(d, F32)]
    params += [np.ones(d, F32), np.zeros(d, F32), normal(d, vocab), np.zeros(vocab, F32)]
    return dict(x=x, y=y, params=params)


def _lstm_data(wl: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    # x (time-major), y, then Glorot-uniform Wx, Wh and the dense layer; the forget gate's bias 1.
    n_in, hidden, steps, batch = wl["input"], wl["hidden"], wl["seq"], wl["batch"]
    x = rng.standard_normal((steps, batch, n_in)).astype(F32)
    y = rng.integers(0, CLASSES, size=batch).astype(np.int64)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(F32)

    wx, wh = glorot(n_in, 4 * hidden), glorot(hidden, 4 * hidden)
    b = np.zeros(4 * hidden, F32)
    b[hidden:2 * hidden] = 1.0
    return dict(x=x, y=y, params=[wx, wh, b, glorot(hidden, CLASSES), np.zeros(CLASSES, F32)])


def lstm_loss(x: Any, y: Any, params: list[Any]) -> Any:
    """One LSTM layer over time-major x (gates input, forget, cell, output, as torch.nn.LSTM)
    with gc.scan, then a dense layer on the last hidden state and the mean cross-entropy. The
    input projection of every step is one matrix product, as PyTorch's LSTM computes it."""
    wx, wh, b, wd, bd = params
    steps, batch, _ = x.shape
    hidden = wh.shape[0]
    projected = gc.reshape(gc.reshape(x, (steps * batch, -1)) @ wx + b, (steps, batch, 4 * hidden))

    def cell(carry: Any, z_x: Any) -> Any:
        h, c = carry
        z = z_x + h @ wh
        i, f = gc.sigmoid(z[:, :hidden]), gc.sigmoid(z[:, hidden:2 * hidden])
        g, o = gc.tanh(z[:, 2 * hidden:3 * hidden]), gc.sigmoid(z[:, 3 * hidden:])
        c = f * c + i * g
        return (o * gc.tanh(c), c), None

    zeros = np.zeros((batch, hidden), x.dtype)
    (h, _), _ = gc.scan(cell, (zeros, zeros), projected)
    return gc.mean(gc.softmax_cross_entropy(h @ wd + bd, y))


def cnn_loss(x: Any, y: Any, params: list[Any]) -> Any:
    """LeNet-like: two (conv 5x5, bias, relu, 2x2 max pool) blocks, a dense layer, mean
    cross-entropy."""
    w1, b1, w2, b2, w3, b3 = params
    h = gc.max_pool2d(gc.relu(gc.conv2d(x, w1) + gc.reshape(b1, (-1, 1, 1))), 2)
    h = gc.max_pool2d(gc.relu(gc.conv2d(h, w2) + gc.reshape(b2, (-1, 1, 1))), 2)
    logits = gc.reshape(h, (h.shape[0], -1)) @ w3 + b3
    return gc.mean(gc.softmax_cross_entropy(logits, y))


def transformer_loss(x: Any, y: Any, params: list[Any], wl: dict[str, Any]) -> Any:
    """A pre-LN GPT: token and position embeddings, causal multi-head attention and a GELU MLP
    per layer, a final layer norm and the mean next-token cross-entropy."""
    batch, context = x.shape
    d, heads, eps = wl["d_model"], wl["heads"], wl["eps"]
    width = d // heads
    future = np.triu(np.ones((context, context), bool), 1)

    def split(a: Any) -> Any:  # (B, T, d) -> (B, heads, T, width)
        return gc.transpose(gc.reshape(a, (batch, context, heads, width)), (0, 2, 1, 3))

    h = params[0][x] + params[1]
    at = 2
    for _ in range(wl["layers"]):
        g1, c1, wq, bq, wk, bk, wv, bv, wo, bo, g2, c2, w1, b1, w2, b2 = params[at : at + 16]
        at += 16
        a = gc.layer_norm(h, g1, c1, eps)
        q, k, v = split(a @ wq + bq), split(a @ wk + bk), split(a @ wv + bv)
        scores = gc.where(future, MASK_VALUE, q @ gc.transpose(k, (0, 1, 3, 2)) / np.sqrt(width))
        o = gc.reshape(gc.transpose(gc.softmax(scores, -1) @ v, (0, 2, 1, 3)), (batch, context, d))
        h = h + (o @ wo + bo)
        h = h + (gc.gelu(gc.layer_norm(h, g2, c2, eps) @ w1 + b1) @ w2 + b2)
    gf, cf, w_out, b_out = params[at : at + 4]
    logits = gc.layer_norm(h, gf, cf, eps) @ w_out + b_out
    return gc.mean(gc.softmax_cross_entropy(logits, y))


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


TRAINED = ("mlp", "cnn", "transformer", "lstm")  # workloads whose step trains parameters with SGD


def model_loss(wl: dict[str, Any], x: Any, y: Any, params: list[Any]) -> Any:
    """The loss of a trained workload's model."""
    if wl["kind"] == "cnn":
        return cnn_loss(x, y, params)
    if wl["kind"] == "transformer":
        return transformer_loss(x, y, params, wl)
    if wl["kind"] == "lstm":
        return lstm_loss(x, y, params)
    return mlp_loss(x, y, params, wl["act"])


class GraphcRunner:
    """The workload's step compiled by graphc (forward, backward and SGD in one native call)."""

    def __init__(self, wl: dict, d: dict, **options: Any) -> None:
        self.kind = wl["kind"]
        self.updates = self.kind in TRAINED
        if self.updates:
            x = gc.placeholder(d["x"].shape, d["x"].dtype, name="x")
            y = gc.placeholder(d["y"].shape, "int64", name="y")
            self.params = [gc.variable(p, name=f"p{i}") for i, p in enumerate(d["params"])]
            loss = model_loss(wl, x, y, self.params)
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
        self.updates = self.kind in TRAINED
        self.wl = wl
        self.params: list[Any]
        self.inputs: list[Any] = []
        if self.updates:
            self.params = [eager.tensor(p, requires_grad=True) for p in d["params"]]
            self.inputs = [eager.tensor(d["x"]), eager.tensor(d["y"])]
        elif self.kind == "ln_gelu":
            self.params = [eager.tensor(d[k], requires_grad=True) for k in ("x", "gamma", "beta")]
        else:
            self.params = [eager.tensor(d[k], requires_grad=True) for k in ("A", "B")]

    def step(self) -> Any:
        for p in self.params:
            p.grad = None
        if self.updates:
            loss = model_loss(self.wl, self.inputs[0], self.inputs[1], self.params)
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
