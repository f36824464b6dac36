"""A Hessian-vector product without building the Hessian: forward mode over reverse mode.
For f(x) = sum(x**4) the Hessian is diag(12 x**2), so H v = 12 x**2 v."""

import numpy as np

import graphc as gc

n = 1000
x = gc.placeholder((n,), "float64", name="x")
v = gc.placeholder((n,), "float64", name="v")
hv = gc.compile([x, v], gc.hvp(gc.sum(x**4), x, v))
xs, vs = np.linspace(-1, 1, n), np.ones(n)
result = hv(xs, vs)
np.testing.assert_allclose(result, 12 * xs**2 * vs)
print(f"H v for n = {n} computed without the {n}x{n} Hessian; max {result.max():.1f}")
