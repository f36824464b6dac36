"""The backprop stories the tutorials tell, reproduced in graph mode and eager mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager


def test_recipe_graph_values_and_gradients() -> None:
    # z = x*y + (x + 5) at x=3, y=4: z = 20, dz/dx = y + 1 = 5, dz/dy = x = 3.
    x, y = gc.placeholder((), name="x"), gc.placeholder((), name="y")
    z = x * y + (x + 5)
    f = gc.compile([x, y], [z, *gc.grad(z, [x, y])])
    assert [float(v) for v in f(np.float32(3), np.float32(4))] == [20.0, 5.0, 3.0]


def test_recipe_eager_gradients_accumulate_and_reset() -> None:
    x = eager.tensor(3.0, requires_grad=True)
    y = eager.tensor(4.0, requires_grad=True)
    z = x * y + (x + 5)
    assert float(z) == 20.0
    z.backward()
    assert float(x.grad) == 5.0 and float(y.grad) == 3.0
    z.backward()  # a second backward adds to the first, as in PyTorch
    assert x.grad == 10.0 and y.grad == 6.0
    x.zero_grad()
    z.backward()
    assert x.grad == 5.0


def test_relu_of_three_x_squared() -> None:
    # (3x^2).relu() at 2: 12, with derivative 6x = 12.
    x = eager.tensor(2.0, requires_grad=True)
    y = (3 * x**2).relu()
    y.backward()
    assert float(y) == 12.0 and float(x.grad) == 12.0
    xg = gc.placeholder((), name="x")
    (g,) = gc.compile([xg], [gc.grad((3 * xg**2).relu(), xg)])(np.float32(2))
    assert float(g) == 12.0


def test_ten_stacked_sigmoids_vanish() -> None:
    x = gc.placeholder((), "float64", name="x")
    h = x
    for _ in range(10):
        h = gc.sigmoid(h)
    (g,) = gc.compile([x], [gc.grad(h, x)])(0.0)
    assert 0 < g < 0.25**10
    xe = eager.tensor(np.float64(0.0), requires_grad=True)
    he = xe
    for _ in range(10):
        he = he.sigmoid()
    he.backward()
    assert float(xe.grad) == float(g)


def test_kink_and_tie_conventions() -> None:
    x = gc.placeholder((3,), "float64", name="x")
    at_zero = np.zeros(3)
    relu_g, abs_g = gc.compile([x], [gc.grad(gc.sum(gc.relu(x)), x), gc.grad(gc.sum(gc.abs(x)), x)])(at_zero)
    np.testing.assert_array_equal(relu_g, 0.0)
    np.testing.assert_array_equal(abs_g, 0.0)
    y = gc.placeholder((3,), "float64", name="y")
    gx, gy = gc.compile([x, y], gc.grad(gc.sum(gc.maximum(x, y)), [x, y]))(np.ones(3), np.ones(3))
    np.testing.assert_array_equal(gx, 0.5)
    np.testing.assert_array_equal(gy, 0.5)
    (gmax,) = gc.compile([x], [gc.grad(gc.max(x), x)])(np.array([2.0, 1.0, 2.0]))
    np.testing.assert_array_equal(gmax, [0.5, 0.0, 0.5])
    (gmin,) = gc.compile([x], [gc.grad(gc.min(x), x)])(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(gmin, [1 / 3] * 3)


def test_gradient_of_an_unrelated_tensor_is_zeros() -> None:
    x = gc.placeholder((2, 3), name="x")
    w = gc.variable(np.ones(4, np.float32), name="w")
    labels = gc.placeholder((2,), "int64", name="labels")
    y = gc.sum(x * 2)
    gw, gl = gc.grad(y, [w, labels])
    out = gc.compile([x, labels], [gw, gl])(np.ones((2, 3), np.float32), np.zeros(2, np.int64))
    np.testing.assert_array_equal(out[0], np.zeros(4, np.float32))
    assert out[1].dtype == np.int64 and not out[1].any()


def test_gradient_through_an_intermediate() -> None:
    x = gc.placeholder((), "float64", name="x")
    h = x * x
    y = gc.sin(h)
    gh, gx = gc.grad(y, [h, x])
    out = gc.compile([x], [gh, gx])(1.5)
    np.testing.assert_allclose(out, [np.cos(2.25), np.cos(2.25) * 3.0])


def test_forward_and_reverse_jacobians_agree() -> None:
    x = gc.placeholder((2,), "float64", name="x")
    y = gc.stack([x[0] * x[1], gc.sin(x[0]), gc.exp(x[1]), x[0] + x[1]])
    rev, fwd = gc.compile([x], [gc.jacobian(y, x), gc.jacobian(y, x, mode="fwd")])(np.array([0.3, -1.2]))
    expected = np.array([[-1.2, 0.3], [np.cos(0.3), 0.0], [0.0, np.exp(-1.2)], [1.0, 1.0]])
    np.testing.assert_allclose(rev, expected)
    np.testing.assert_allclose(fwd, expected)


def test_a_large_jacobian_is_one_loop_over_the_basis() -> None:
    # 108 rows: one vjp (one jvp) built as a loop's body, not 108 copies of the backward pass.
    rng = np.random.default_rng(0)
    x = gc.placeholder((1, 2, 6, 6), "float64", name="x")
    y = gc.tanh(gc.conv2d(x, gc.constant(rng.standard_normal((3, 2, 3, 3))), padding=1))
    f = gc.compile([x], [gc.jacobian(y, x), gc.jacobian(y, x, mode="fwd")])
    assert sum(n.op.name in ("conv2d", "conv_transpose2d") for n in f.source_graph.nodes) == 1  # the forward one
    data = rng.standard_normal((1, 2, 6, 6))
    rev, fwd = f(data)
    assert rev.shape == (1, 3, 6, 6, 1, 2, 6, 6)
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-14)
    g = gc.compile([x], y)
    for at in [(0, 0, 0, 0), (0, 1, 3, 2), (0, 0, 5, 5)]:  # columns against central differences
        e = np.zeros_like(data)
        e[at] = 1e-6
        np.testing.assert_allclose(rev[(...,) + at], (g(data + e) - g(data - e)) / 2e-6, atol=1e-8)


def test_jacobians_by_a_structure_of_tensors_come_in_that_structure() -> None:
    x = gc.placeholder((3,), "float64", name="x")
    z = gc.placeholder((2,), "float64", name="z")
    y = gc.concatenate([x * 2.0, z * z])
    got = gc.compile([x, z], gc.jacobian(y, {"a": x, "b": [z]}, mode="fwd"))(np.ones(3), np.array([1.0, 3.0]))
    np.testing.assert_array_equal(got["a"], np.vstack([2 * np.eye(3), np.zeros((2, 3))]))
    np.testing.assert_array_equal(got["b"][0], np.vstack([np.zeros((3, 2)), np.diag([2.0, 6.0])]))
    with pytest.raises(gc.GraphError, match="y must be one tensor"):
        gc.jacobian([y, y], x)
    with pytest.raises(gc.GraphError, match="y must be a float tensor"):
        gc.jacobian(gc.cast(x, "int64"), x)


def test_hessian_vector_product_of_a_quadratic() -> None:
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = gc.placeholder((2,), "float64", name="x")
    v = gc.placeholder((2,), "float64", name="v")
    y = 0.5 * gc.sum(x * gc.matmul(gc.constant(a), x))
    (hv,) = gc.compile([x, v], [gc.hvp(y, x, v)])(np.array([0.5, -1.0]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(hv, a @ [1.0, 2.0])


def test_third_order_derivative() -> None:
    x = gc.placeholder((), "float64", name="x")
    d = x**4
    for _ in range(3):
        d = gc.grad(d, x)
    assert float(gc.compile([x], d)(2.0)) == 24 * 2.0


def test_reparameterization_trick_differentiates_through_mu_and_sigma() -> None:
    mu = gc.variable(np.array([0.5, -1.0]), name="mu")
    sigma = gc.variable(np.array([2.0, 0.3]), name="sigma")
    eps = gc.random_normal((2,), seed=3, dtype="float64")
    z = mu + sigma * eps
    g_mu, g_sigma = gc.grad(gc.sum(z), [mu, sigma])
    f = gc.compile([], [eps, g_mu, g_sigma])
    draws, gm, gs = f()
    np.testing.assert_array_equal(gm, [1.0, 1.0])
    np.testing.assert_array_equal(gs, draws)
