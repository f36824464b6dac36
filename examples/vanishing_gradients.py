"""Ten stacked sigmoids shrink the gradient below 0.25**10 (sigmoid' <= 1/4); ten ReLUs pass it
through unchanged where they are active."""


import graphc as gc

x = gc.placeholder((), "float64", name="x")
deep_sigmoid, deep_relu = x, x
for _ in range(10):
    deep_sigmoid = gc.sigmoid(deep_sigmoid)
    deep_relu = gc.relu(deep_relu)
f = gc.compile([x], [gc.grad(deep_sigmoid, x), gc.grad(deep_relu, x)])
g_sigmoid, g_relu = (float(v) for v in f(0.5))
print(f"d/dx of 10 sigmoids at 0.5: {g_sigmoid:.3e} (0.25**10 = {0.25**10:.3e})")
print(f"d/dx of 10 relus at 0.5:    {g_relu}")
assert 0 < g_sigmoid < 0.25**10 and g_relu == 1.0
