"""The peers `graphc compare` times beside graphc, carried here: PyTorch eager, torch.compile and
JAX jit, each running the workloads of `graphc.cli.workloads` (the same data, sizes and math:
the same layers, GELU's tanh form, PyTorch's LSTM gate order, mean cross-entropy, an SGD step)
with the runner interface of `GraphcRunner` (`step`, `sync`, `loss_value`, `check_arrays`).

A peer whose library is not installed is skipped with the reason; `find_peers` says which.
Each library is imported only when its peer is asked for (PyTorch and JAX take seconds to load).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from .workloads import MASK_VALUE, TRAINED

# peer -> (the module it needs, how to install it)
NEEDS = {"torch": ("torch", "pip install torch"), "torch_compile": ("torch", "pip install torch"),
         "jax": ("jax", "pip install jax jaxlib")}


def find_peers() -> tuple[list[str], dict[str, str]]:
    """The peers whose library is installed, and for the others why they are skipped."""
    found, skipped = [], {}
    for peer, (module, install) in NEEDS.items():
        if importlib.util.find_spec(module) is None:
            skipped[peer] = f"{module} is not installed ({install})"
        else:
            found.append(peer)
    return found, skipped


def build_peer(peer: str, wl: dict[str, Any], d: dict[str, Any]) -> Any:
    """A runner of workload `wl` (with data `d`) on `peer`."""
    if peer == "jax":
        return _JaxRunner(wl, d)
    return _TorchRunner(wl, d, compiled=peer == "torch_compile")


class _TorchRunner:
    """PyTorch eager (or torch.compile'd), one thread, as graphc's default."""

    def __init__(self, wl: dict[str, Any], d: dict[str, Any], compiled: bool) -> None:
        torch = importlib.import_module("torch")
        torch.set_num_threads(1)
        self.torch, self.wl, self.kind = torch, wl, wl["kind"]
        self.updates = self.kind in TRAINED
        if self.updates:
            self.params = [torch.tensor(p, requires_grad=True) for p in d["params"]]
            self.inputs = [torch.from_numpy(d["x"]), torch.from_numpy(d["y"])]
        else:
            names = ("x", "gamma", "beta") if self.kind == "ln_gelu" else ("A", "B")
            self.params = [torch.tensor(d[k], requires_grad=True) for k in names]
            self.inputs = []
        loss = _torch_loss(torch, wl)
        self.loss = torch.compile(loss) if compiled else loss

    def step(self) -> Any:
        for p in self.params:
            p.grad = None
        loss = self.loss(*self.inputs, *self.params)
        loss.backward()
        if not self.updates:
            return loss, [p.grad for p in self.params]
        with self.torch.no_grad():
            for p in self.params:
                p -= self.wl["lr"] * p.grad
        return loss

    def sync(self, out: Any) -> None:
        pass

    def loss_value(self, out: Any) -> float:
        return float((out if self.updates else out[0]).detach())

    def check_arrays(self, out: Any) -> list[np.ndarray]:
        if self.updates:
            return [p.detach().numpy().copy() for p in self.params]
        return [g.numpy().copy() for g in out[1]]


def _torch_loss(torch: Any, wl: dict[str, Any]) -> Callable[..., Any]:
    f = torch.nn.functional
    kind = wl["kind"]

    def xent(logits: Any, y: Any) -> Any:
        return f.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def gelu(u: Any) -> Any:
        return f.gelu(u, approximate="tanh")

    if kind == "mlp":
        def mlp(x: Any, y: Any, *params: Any) -> Any:
            h, n = x, len(params) // 2
            for i in range(n):
                h = h @ params[2 * i] + params[2 * i + 1]
                if i < n - 1:
                    h = torch.relu(h) if wl["act"] == "relu" else torch.tanh(h)
            return xent(h, y)
        return mlp
    if kind == "cnn":
        def cnn(x: Any, y: Any, w1: Any, b1: Any, w2: Any, b2: Any, w3: Any, b3: Any) -> Any:
            h = f.max_pool2d(torch.relu(f.conv2d(x, w1, b1)), 2)
            h = f.max_pool2d(torch.relu(f.conv2d(h, w2, b2)), 2)
            return xent(h.reshape(h.shape[0], -1) @ w3 + b3, y)
        return cnn
    if kind == "transformer":
        d, heads, eps = wl["d_model"], wl["heads"], wl["eps"]

        def transformer(x: Any, y: Any, *params: Any) -> Any:
            batch, context = x.shape
            width = d // heads
            future = torch.triu(torch.ones(context, context, dtype=torch.bool), 1)

            def split(a: Any) -> Any:
                return a.reshape(batch, context, heads, width).transpose(1, 2)

            h = params[0][x] + params[1]
            at = 2
            for _ in range(wl["layers"]):
                g1, c1, wq, bq, wk, bk, wv, bv, wo, bo, g2, c2, w1, b1, w2, b2 = params[at:at + 16]
                at += 16
                a = f.layer_norm(h, (d,), g1, c1, eps)
                q, k, v = split(a @ wq + bq), split(a @ wk + bk), split(a @ wv + bv)
                scores = (q @ k.transpose(-1, -2) / float(np.sqrt(width))).masked_fill(future, MASK_VALUE)
                o = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(batch, context, d)
                h = h + (o @ wo + bo)
                h = h + (gelu(f.layer_norm(h, (d,), g2, c2, eps) @ w1 + b1) @ w2 + b2)
            gf, cf, w_out, b_out = params[at:at + 4]
            return xent(f.layer_norm(h, (d,), gf, cf, eps) @ w_out + b_out, y)
        return transformer
    if kind == "lstm":
        def lstm(x: Any, y: Any, wx: Any, wh: Any, b: Any, wd: Any, bd: Any) -> Any:
            steps, batch, _ = x.shape
            hidden = wh.shape[0]
            projected = (x.reshape(steps * batch, -1) @ wx + b).reshape(steps, batch, 4 * hidden)
            h = c = torch.zeros(batch, hidden)
            for t in range(steps):
                z = projected[t] + h @ wh
                i, fg = torch.sigmoid(z[:, :hidden]), torch.sigmoid(z[:, hidden:2 * hidden])
                g, o = torch.tanh(z[:, 2 * hidden:3 * hidden]), torch.sigmoid(z[:, 3 * hidden:])
                c = fg * c + i * g
                h = o * torch.tanh(c)
            return xent(h @ wd + bd, y)
        return lstm
    if kind == "ln_gelu":
        def ln_gelu(x: Any, gamma: Any, beta: Any) -> Any:
            centered = x - x.mean(1, keepdim=True)
            var = (centered * centered).mean(1, keepdim=True)
            out = gelu(centered / torch.sqrt(var + wl["eps"]) * gamma + beta)
            return (out * out).mean()
        return ln_gelu
    return lambda a, b: torch.tanh(a @ b).sum()


class _JaxRunner:
    """JAX: the loss, its gradients and the SGD step in one jitted function."""

    def __init__(self, wl: dict[str, Any], d: dict[str, Any]) -> None:
        jax = importlib.import_module("jax")
        self.jnp = importlib.import_module("jax.numpy")
        self.kind = wl["kind"]
        self.updates = self.kind in TRAINED
        loss = _jax_loss(jax, self.jnp, wl)
        if self.updates:
            self.params = [self.jnp.asarray(p) for p in d["params"]]
            self.inputs = [self.jnp.asarray(d["x"]), self.jnp.asarray(d["y"])]
            lr = wl["lr"]

            def step(params: list[Any], x: Any, y: Any) -> Any:
                value, grads = jax.value_and_grad(lambda ps: loss(x, y, *ps))(params)
                return value, [p - lr * g for p, g in zip(params, grads)]
        else:
            names = ("x", "gamma", "beta") if self.kind == "ln_gelu" else ("A", "B")
            self.params = [self.jnp.asarray(d[k]) for k in names]
            self.inputs = []

            def step(params: list[Any]) -> Any:  # type: ignore[misc]  # the untrained workloads' step
                return jax.value_and_grad(lambda ps: loss(*ps))(params)
        self.jitted = jax.jit(step)

    def step(self) -> Any:
        if self.updates:
            value, self.params = self.jitted(self.params, *self.inputs)
            return value
        return self.jitted(self.params)

    def sync(self, out: Any) -> None:
        (out if self.updates else out[0]).block_until_ready()

    def loss_value(self, out: Any) -> float:
        return float(out if self.updates else out[0])

    def check_arrays(self, out: Any) -> list[np.ndarray]:
        return [np.asarray(p) for p in (self.params if self.updates else out[1])]


def _jax_loss(jax: Any, jnp: Any, wl: dict[str, Any]) -> Callable[..., Any]:
    kind = wl["kind"]

    def xent(logits: Any, y: Any) -> Any:
        logits = logits.reshape(-1, logits.shape[-1])
        picked = jnp.take_along_axis(jax.nn.log_softmax(logits), y.reshape(-1, 1), axis=1)
        return -jnp.mean(picked)

    def layer_norm(h: Any, g: Any, c: Any, eps: float) -> Any:
        mu = jnp.mean(h, -1, keepdims=True)
        var = jnp.mean((h - mu) ** 2, -1, keepdims=True)
        return (h - mu) / jnp.sqrt(var + eps) * g + c

    if kind == "mlp":
        def mlp(x: Any, y: Any, *params: Any) -> Any:
            h, n = x, len(params) // 2
            for i in range(n):
                h = h @ params[2 * i] + params[2 * i + 1]
                if i < n - 1:
                    h = jax.nn.relu(h) if wl["act"] == "relu" else jnp.tanh(h)
            return xent(h, y)
        return mlp
    if kind == "cnn":
        def conv(x: Any, w: Any, b: Any) -> Any:
            out = jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
            return out + b.reshape(-1, 1, 1)

        def pool(x: Any) -> Any:
            return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def cnn(x: Any, y: Any, w1: Any, b1: Any, w2: Any, b2: Any, w3: Any, b3: Any) -> Any:
            h = pool(jax.nn.relu(conv(x, w1, b1)))
            h = pool(jax.nn.relu(conv(h, w2, b2)))
            return xent(h.reshape(h.shape[0], -1) @ w3 + b3, y)
        return cnn
    if kind == "transformer":
        d, heads, eps = wl["d_model"], wl["heads"], wl["eps"]

        def transformer(x: Any, y: Any, *params: Any) -> Any:
            batch, context = x.shape
            width = d // heads
            future = np.triu(np.ones((context, context), bool), 1)

            def split(a: Any) -> Any:
                return a.reshape(batch, context, heads, width).transpose(0, 2, 1, 3)

            h = params[0][x] + params[1]
            at = 2
            for _ in range(wl["layers"]):
                g1, c1, wq, bq, wk, bk, wv, bv, wo, bo, g2, c2, w1, b1, w2, b2 = params[at:at + 16]
                at += 16
                a = layer_norm(h, g1, c1, eps)
                q, k, v = split(a @ wq + bq), split(a @ wk + bk), split(a @ wv + bv)
                scores = jnp.where(future, MASK_VALUE, q @ k.transpose(0, 1, 3, 2) / np.sqrt(width))
                o = (jax.nn.softmax(scores, -1) @ v).transpose(0, 2, 1, 3).reshape(batch, context, d)
                h = h + (o @ wo + bo)
                h = h + (jax.nn.gelu(layer_norm(h, g2, c2, eps) @ w1 + b1, approximate=True) @ w2 + b2)
            gf, cf, w_out, b_out = params[at:at + 4]
            return xent(layer_norm(h, gf, cf, eps) @ w_out + b_out, y)
        return transformer
    if kind == "lstm":
        def lstm(x: Any, y: Any, wx: Any, wh: Any, b: Any, wd: Any, bd: Any) -> Any:
            steps, batch, _ = x.shape
            hidden = wh.shape[0]
            projected = (x.reshape(steps * batch, -1) @ wx + b).reshape(steps, batch, 4 * hidden)

            def cell(carry: Any, z_x: Any) -> Any:
                h, c = carry
                z = z_x + h @ wh
                i, f = jax.nn.sigmoid(z[:, :hidden]), jax.nn.sigmoid(z[:, hidden:2 * hidden])
                g, o = jnp.tanh(z[:, 2 * hidden:3 * hidden]), jax.nn.sigmoid(z[:, 3 * hidden:])
                c = f * c + i * g
                return (o * jnp.tanh(c), c), None

            zeros = jnp.zeros((batch, hidden), x.dtype)
            (h, _), _ = jax.lax.scan(cell, (zeros, zeros), projected)
            return xent(h @ wd + bd, y)
        return lstm
    if kind == "ln_gelu":
        def ln_gelu(x: Any, gamma: Any, beta: Any) -> Any:
            out = jax.nn.gelu(layer_norm(x, gamma, beta, wl["eps"]), approximate=True)
            return jnp.mean(out * out)
        return ln_gelu
    return lambda a, b: jnp.sum(jnp.tanh(a @ b))
