"""The recipe: z = x*y + (x + 5) at x=3, y=4, forward and backward, in both modes.

z = 20; dz/dx = y + 1 = 5 (x reaches z along two paths, and the chain rule adds them);
dz/dy = x = 3.
"""

import numpy as np

import graphc as gc
from graphc import eager

x, y = gc.placeholder((), name="x"), gc.placeholder((), name="y")
z = x * y + (x + 5)
dz_dx, dz_dy = gc.grad(z, [x, y])
f = gc.compile([x, y], [z, dz_dx, dz_dy])
print(f)  # the forward and backward program: the backward graph is just more graph
values = [float(v) for v in f(np.float32(3), np.float32(4))]
print("graph mode: z, dz/dx, dz/dy =", values)
assert values == [20.0, 5.0, 3.0]

xe, ye = eager.tensor(3.0, requires_grad=True), eager.tensor(4.0, requires_grad=True)
ze = xe * ye + (xe + 5)
ze.backward()
print("eager mode:", float(ze), float(xe.grad), float(ye.grad))
assert (float(xe.grad), float(ye.grad)) == (5.0, 3.0)
