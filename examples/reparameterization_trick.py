"""The reparameterization trick: z = mu + sigma * eps with eps ~ N(0, 1) drawn inside the graph,
so gradients reach mu and sigma. Minimizing E[(z - 3)^2] drives mu to 3 and sigma to 0."""

import numpy as np

import graphc as gc

gc.set_seed(0)
mu = gc.variable(np.array(0.0), name="mu")
log_sigma = gc.variable(np.array(0.0), name="log_sigma")
eps = gc.random_normal((256,), dtype="float64")  # new draws every call, reproducible by seed
z = mu + gc.exp(log_sigma) * eps
loss = gc.mean((z - 3.0) ** 2)
step = gc.compile([], loss, updates=gc.optim.adam(loss, [mu, log_sigma], lr=0.05))
for _ in range(400):
    value = step()
print(f"mu = {float(mu.value):.3f}, sigma = {float(np.exp(log_sigma.value)):.3f}, loss {float(value):.4f}")
assert abs(float(mu.value) - 3.0) < 0.05 and np.exp(float(log_sigma.value)) < 0.1
