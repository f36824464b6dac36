"""A user's script, written from the docs alone with the public API: NumPy data as it comes
(float64, any number of rows), a last short batch, an evaluation batch of another size, NumPy
functions on tensors, a checkpoint saved and training resumed, and the same model trained
eagerly with the same optimizer."""

from __future__ import annotations

import numpy as np

import graphc as gc

RNG = np.random.default_rng(2026)
DATA = RNG.normal(size=(100, 6))  # float64, as NumPy makes it
LABELS = (DATA[:, 0] + DATA[:, 1] ** 2 > 0.5).astype(np.int64)
W1, W2 = RNG.normal(size=(6, 16)) * 0.4, RNG.normal(size=(16, 2)) * 0.4


def model(x, w1, w2):
    return np.tanh(x @ w1) @ w2  # NumPy's tanh on a tensor runs graphc's


def _step():
    x = gc.placeholder((None, 6), name="x")  # float32 model, fed float64 data
    y = gc.placeholder((None,), "int64", name="y")
    w1, w2 = gc.variable(W1.astype(np.float32), name="w1"), gc.variable(W2.astype(np.float32), name="w2")
    loss = np.mean(gc.softmax_cross_entropy(model(x, w1, w2), y))
    updates = gc.optim.adam(loss, [w1, w2], lr=0.02)
    accuracy = np.mean(gc.cast(gc.argmax(model(x, w1, w2), axis=1) == y, "float32"))
    return gc.compile([x, y], loss, updates=updates), gc.compile([x, y], accuracy), list(updates)


def _epoch(step, batch=32):
    return [float(step(DATA[i:i + batch], LABELS[i:i + batch])) for i in range(0, len(DATA), batch)]  # 32, 32, 32, 4


def test_a_users_training_script(tmp_path) -> None:
    step, accuracy, state = _step()
    first = _epoch(step)
    assert len(first) == 4 and all(np.isfinite(first))
    before = float(accuracy(DATA, LABELS))  # all 100 rows at once
    gc.save(tmp_path / "checkpoint.npz", state)
    uninterrupted = _epoch(step) + _epoch(step)
    assert np.mean(uninterrupted[-4:]) < np.mean(first)
    assert 0.5 < before <= 1.0 and 0.0 <= float(accuracy(DATA[:10], LABELS[:10])) <= 1.0

    resumed, _, resumed_state = _step()  # a new process would build the same step
    for var, value in zip(resumed_state, gc.load(tmp_path / "checkpoint.npz")):
        var.assign(value)
    np.testing.assert_allclose(_epoch(resumed) + _epoch(resumed), uninterrupted, rtol=1e-5)
    assert len(resumed.losses()) == 8


def test_the_same_model_trained_eagerly_with_the_same_optimizer() -> None:
    step, _, _ = _step()
    compiled = _epoch(step)
    w1 = gc.eager.tensor(W1.astype(np.float32), requires_grad=True)
    w2 = gc.eager.tensor(W2.astype(np.float32), requires_grad=True)
    opt = gc.optim.adam(None, [w1, w2], lr=0.02)  # given eager tensors: opt.zero_grad(), opt.step()
    eager = []
    for i in range(0, len(DATA), 32):
        x = gc.eager.tensor(DATA[i:i + 32].astype(np.float32))
        loss = np.mean(gc.softmax_cross_entropy(model(x, w1, w2), gc.eager.tensor(LABELS[i:i + 32])))
        opt.zero_grad()
        loss.backward()
        opt.step()
        eager.append(float(loss.data))
    np.testing.assert_allclose(eager, compiled, rtol=1e-4)
