"""The squared-error graph of linear regression: its gradient is the textbook 2/n X^T (Xw - y),
and gradient descent finds the least-squares solution."""

import numpy as np

import graphc as gc

rng = np.random.default_rng(0)
X = rng.standard_normal((100, 3))
true_w = np.array([2.0, -1.0, 0.5])
Y = X @ true_w + 0.01 * rng.standard_normal(100)
w = gc.variable(np.zeros(3), name="w")
x, y = gc.placeholder((100, 3), "float64", name="x"), gc.placeholder((100,), "float64", name="y")
loss = gc.mean((x @ w - y) ** 2)
(grad_w,) = gc.grad(loss, [w])
check = gc.compile([x, y], grad_w)
np.testing.assert_allclose(check(X, Y), 2 / 100 * X.T @ (X @ np.zeros(3) - Y))
fit = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, [w], lr=0.1))
losses = fit.run_many(np.stack([X] * 200), np.stack([Y] * 200))
print(f"loss {losses[0]:.3f} -> {losses[-1]:.6f}; w = {np.round(w.value, 3)} (true {true_w})")
np.testing.assert_allclose(w.value, np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-6)
