"""Forward vs reverse mode: for f: R^2 -> R^50, forward mode needs 2 passes (one per input) and
reverse mode 50 (one per output) to build the Jacobian; both give the same matrix. graphc writes
the two forward passes out, and runs the 50 reverse ones as a loop whose body, one vector-Jacobian
product, is compiled once."""

import numpy as np

import graphc as gc

x = gc.placeholder((2,), "float64", name="x")
k = gc.constant(np.linspace(0.1, 5.0, 50))
y = gc.sin(k * x[0]) * gc.exp(x[1])  # 50 outputs from 2 inputs
fwd = gc.compile([x], gc.jacobian(y, x, mode="fwd"))
rev = gc.compile([x], gc.jacobian(y, x, mode="rev"))
loops = [n.attrs["body"].length for n in rev.graph.nodes if n.op.name == "loop"]
print(f"forward mode: {x.size} passes, written out; reverse mode: a loop of {loops[0]} passes")
print("\n".join(["the reverse-mode program's kernels:"] + ["  " + line for line in rev.kernels()]))
point = np.array([0.3, -0.2])
J = fwd(point)
np.testing.assert_allclose(J, rev(point))
ks = np.linspace(0.1, 5.0, 50)
np.testing.assert_allclose(J[:, 0], ks * np.cos(ks * 0.3) * np.exp(-0.2))
assert loops == [50] and not any(n.op.name == "loop" for n in fwd.graph.nodes)
print("Jacobian shape", J.shape, "- both modes agree")
