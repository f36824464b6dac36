"""Optimizers: each step equals torch.optim's (checked against PyTorch when installed, and
always against a NumPy transcription of PyTorch's update rules)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def regression(dtype: str = "float64", seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 3)).astype(dtype)
    y = rng.standard_normal((8, 2)).astype(dtype)
    w0 = rng.standard_normal((3, 2)).astype(dtype)
    b0 = np.zeros(2, dtype)
    return x, y, w0, b0


def build(optimizer: str, w0: np.ndarray, b0: np.ndarray, **kwargs):  # type: ignore[no-untyped-def]
    xp = gc.placeholder((8, 3), w0.dtype, name="x")
    yp = gc.placeholder((8, 2), w0.dtype, name="y")
    w, b = gc.variable(w0, name="w"), gc.variable(b0, name="b")
    loss = gc.mean((gc.tanh(xp @ w + b) - yp) ** 2)
    updates = getattr(gc.optim, optimizer)(loss, [w, b], **kwargs)
    return gc.compile([xp, yp], loss, updates=updates), w, b


def numpy_reference(optimizer: str, x, y, w, b, steps, lr, beta=0.9, betas=(0.9, 0.999), eps=1e-8):  # type: ignore[no-untyped-def]
    """PyTorch's update rules, transcribed (float64 scalars, as PyTorch's Python floats)."""
    params = [w.copy(), b.copy()]
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    losses = []
    for t in range(1, steps + 1):
        h = np.tanh(x @ params[0] + params[1])
        losses.append(np.mean((h - y) ** 2))
        dh = 2 * (h - y) / h.size * (1 - h * h)
        grads = [x.T @ dh, dh.sum(0)]
        for p, g, s in zip(params, grads, state):
            if optimizer == "sgd":
                p -= lr * g
            elif optimizer == "momentum":
                s[0] = s[0] * beta + g
                p -= lr * s[0]
            else:
                s[0] = s[0] + (1 - betas[0]) * (g - s[0])
                s[1] = s[1] * betas[1] + (1 - betas[1]) * g * g
                step_size = lr / (1 - betas[0] ** t)
                denom = np.sqrt(s[1]) / np.sqrt(1 - betas[1] ** t) + eps
                p += -step_size * s[0] / denom
    return np.array(losses), params


@pytest.mark.parametrize("optimizer,kwargs", [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1, "beta": 0.8}),
                                              ("adam", {"lr": 0.05})])
def test_matches_pytorch_update_rules(optimizer: str, kwargs: dict) -> None:
    x, y, w0, b0 = regression()
    f, w, b = build(optimizer, w0, b0, **kwargs)
    losses = f.run_many(np.stack([x] * 20), np.stack([y] * 20))
    ref_losses, (w_ref, b_ref) = numpy_reference(optimizer, x, y, w0, b0, 20, **kwargs)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    np.testing.assert_allclose(w.value, w_ref, rtol=1e-12)
    np.testing.assert_allclose(b.value, b_ref, rtol=1e-12, atol=1e-15)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_matches_torch_optim(optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    x, y, w0, b0 = regression()
    kwargs = {"lr": 0.05} if optimizer != "momentum" else {"lr": 0.05, "beta": 0.9}
    f, w, b = build(optimizer, w0, b0, **kwargs)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    if optimizer == "adam":
        opt = torch.optim.Adam([tw, tb], lr=0.05)
    else:
        opt = torch.optim.SGD([tw, tb], lr=0.05, momentum=0.9 if optimizer == "momentum" else 0.0)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(25):
        loss = float(f(x, y))
        opt.zero_grad()
        tloss = torch.mean((torch.tanh(tx @ tw + tb) - ty) ** 2)
        tloss.backward()
        opt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-13)
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_optimizer_state_lives_in_variables() -> None:
    x, y, w0, b0 = regression()
    w = gc.variable(w0, name="w")
    loss = gc.sum(w * w)
    updates = gc.optim.adam(loss, [w])
    names = sorted(v.name for v in updates)
    assert names == ["adam.step", "w", "w.adam_m", "w.adam_v"]
    with pytest.raises(gc.GraphError, match="variables"):
        gc.optim.sgd(loss, [gc.placeholder((2,))], 0.1)


def test_float32_parameters_stay_float32() -> None:
    x, y, w0, b0 = regression("float32")
    f, w, b = build("adam", w0, b0, lr=0.01)
    f(x, y)
    assert w.value.dtype == np.float32 and b.value.dtype == np.float32
