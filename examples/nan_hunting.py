"""Finding a NaN: compile with check_numerics=True and the first non-finite value stops the step,
naming the node and the line of this file that created it; the variables are left unchanged."""

import numpy as np

import graphc as gc

x = gc.placeholder((4,), name="x")
w = gc.variable(np.ones(4, np.float32), name="w")
scaled = x * w
loss = gc.sum(gc.sqrt(scaled))  # sqrt of a negative input is NaN
step = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], 0.1), check_numerics=True)
before = w.value
try:
    step(np.array([1.0, 4.0, -1.0, 9.0], np.float32))
except gc.NumericsError as error:
    print("caught:", error)
    assert "sqrt" in str(error) and "nan_hunting.py" in str(error)
else:
    raise AssertionError("the NaN went unnoticed")
np.testing.assert_array_equal(w.value, before)
print("w unchanged:", w.value)
