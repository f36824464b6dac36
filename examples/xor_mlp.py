"""XOR is not linearly separable; a 2-8-1 MLP with tanh learns it."""

import numpy as np

import graphc as gc

xs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
ys = np.array([0, 1, 1, 0], np.float32)
rng = np.random.default_rng(1)
w1 = gc.variable(rng.standard_normal((2, 8)).astype(np.float32), name="w1")
b1 = gc.variable(np.zeros(8, np.float32), name="b1")
w2 = gc.variable(rng.standard_normal((8, 1)).astype(np.float32), name="w2")
b2 = gc.variable(np.zeros(1, np.float32), name="b2")
x, y = gc.placeholder((4, 2), name="x"), gc.placeholder((4,), name="y")
p = gc.sigmoid(gc.reshape(gc.tanh(x @ w1 + b1) @ w2 + b2, (4,)))
loss = -gc.mean(y * gc.log(p) + (1 - y) * gc.log(1 - p))
params = [w1, b1, w2, b2]
train = gc.compile([x, y], [loss, p], updates=gc.optim.adam(loss, params, lr=0.05))
losses, probs = train.run_many(np.stack([xs] * 300), np.stack([ys] * 300))  # 300 steps, one call
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; predictions {np.round(probs[-1], 3)}")
assert losses[-1] < 0.05 and ((probs[-1] > 0.5) == ys.astype(bool)).all()
