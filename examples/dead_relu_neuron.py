"""A micrograd-style neuron, relu(w . x + b), whose pre-activation is negative for every input:
its gradient is exactly zero (relu'(z) = 0 for z <= 0), so gradient descent never revives it."""

import numpy as np

import graphc as gc

rng = np.random.default_rng(0)
xs = rng.uniform(0, 1, (64, 3)).astype(np.float32)  # positive inputs
targets = xs.sum(axis=1)
w = gc.variable(np.array([-1.0, -2.0, -0.5], np.float32), name="w")
b = gc.variable(np.array(-0.5, np.float32), name="b")  # w . x + b < 0 for every x above
x = gc.placeholder((64, 3), name="x")
t = gc.placeholder((64,), name="t")
out = gc.relu(x @ w + b)
loss = gc.mean((out - t) ** 2)
dead_fraction = gc.mean(gc.cast(out == 0.0, "float32"))
grad_w, grad_b = gc.grad(loss, [w, b])
step = gc.compile([x, t], [loss, dead_fraction, grad_w, grad_b], updates=gc.optim.sgd(loss, [w, b], lr=0.1))
for i in range(5):
    value, dead, gw, gb = step(xs, targets)
    print(f"step {i}: loss {float(value):.3f}, dead units {float(dead):.0%}, |grad w| {np.abs(gw).max():.1f}")
assert float(dead) == 1.0 and not gw.any() and float(gb) == 0.0
print("the neuron is dead: zero gradient, weights unchanged:", w.value)
