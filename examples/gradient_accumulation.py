"""Why a static graph has no gradient-accumulation pitfall: gradients are outputs, computed
afresh each call. In eager mode (as in PyTorch) .grad accumulates until zeroed."""

import numpy as np

import graphc as gc
from graphc import eager

w = eager.tensor(1.0, requires_grad=True)
for _ in range(3):  # forgetting zero_grad: the gradient triples
    (w * 2.0).backward()
print("eager, three backward() without zero_grad:", float(w.grad))
assert float(w.grad) == 6.0
w.zero_grad()
(w * 2.0).backward()
assert float(w.grad) == 2.0

wg = gc.variable(np.array(1.0, np.float32), name="w")
grad = gc.compile([], gc.grad(wg * 2.0, wg))
print("graph mode, three calls:", [float(grad()) for _ in range(3)])
assert all(float(grad()) == 2.0 for _ in range(3))
