"""Kernels compiled once: a program is a list of kernels whose text holds nothing of the program,
so equal layers, and equal computations in other programs, share one compiled kernel; the
driver binds each call's arrays by address."""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.passes.fuse import MAX_MEMBERS


def _tanh_mlp(layers: int, width: int = 16, batch: int = 4) -> tuple[gc.Function, list[gc.Variable], object]:
    rng = np.random.default_rng(layers)
    x = gc.placeholder((batch, width), "float64", name="x")
    params = [gc.variable(rng.standard_normal((width, width)) * 0.3, name=f"w{i}") for i in range(layers)]
    h = x
    for w in params:
        h = gc.tanh(h @ w)
    loss = gc.sum(h * h)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, params, 0.1))
    return f, params, loss


def test_equal_layers_share_their_kernels() -> None:
    distinct = []
    for layers in (3, 6, 12):
        f, _, _ = _tanh_mlp(layers)
        texts = f._native.texts  # type: ignore[union-attr]
        distinct.append(len(set(texts)))
        assert len(texts) > len(set(texts))
    assert distinct[1] == distinct[2]  # more layers, no new kernel to compile


def test_a_kernel_holds_nothing_of_its_program() -> None:
    def program(name: str, scale: float) -> gc.Function:
        x = gc.placeholder((5, 3), "float32", name=name)
        w = gc.variable(np.full((3, 2), scale, np.float32), name=name + "_w")
        return gc.compile([x], gc.sum(gc.tanh(x @ w)))

    one, two = program("a", 0.5), program("zz", -2.0)  # other names, other values, same code
    assert one._native.texts == two._native.texts  # type: ignore[union-attr]
    assert two._native.cache_hit  # type: ignore[union-attr]
    data = np.linspace(-1, 2, 15, dtype=np.float32).reshape(5, 3)
    np.testing.assert_allclose(one(data), np.sum(np.tanh(data @ np.full((3, 2), 0.5, np.float32))), rtol=1e-6)
    np.testing.assert_allclose(two(data), np.sum(np.tanh(data @ np.full((3, 2), -2.0, np.float32))), atol=1e-5)


def test_a_long_chain_of_layers_becomes_a_run_of_equal_kernels() -> None:
    x = gc.placeholder((8,), "float64", name="x")
    h = x
    for _ in range(300):
        h = gc.tanh(h * 1.01 + 0.1)
    loss = gc.sum(h)
    outputs = [loss, gc.grad(loss, x)]
    f = gc.compile([x], outputs)
    assert max(len(g.members) for g in f.graph.groups) <= MAX_MEMBERS
    texts = f._native.texts  # type: ignore[union-attr]
    assert len(texts) >= 10 and len(set(texts)) <= 8
    data = np.linspace(-1, 1, 8)
    for got, want in zip(f(data), gc.compile([x], outputs, backend="numpy")(data)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_each_call_binds_the_arrays_it_is_given() -> None:
    f, params, _ = _tanh_mlp(2)
    x = gc.placeholder((4, 16), "float64", name="x")
    h = x
    for w in params:
        h = gc.tanh(h @ w)
    plain = gc.compile([x], gc.sum(h * h))
    data = np.linspace(-1, 1, 64).reshape(4, 16)
    first = plain(data)
    data *= 0.5  # the same array, changed in place
    np.testing.assert_allclose(plain(data), gc.compile([x], gc.sum(h * h), backend="numpy")(data), rtol=1e-12)
    assert plain(data) != first
    params[0].assign(np.eye(16))  # a variable given a new array
    np.testing.assert_allclose(plain(data), np.sum(np.tanh(np.tanh(data) @ params[1].value) ** 2), rtol=1e-12)
    transposed = np.asfortranarray(data)  # not C-contiguous: read as a C copy
    np.testing.assert_allclose(plain(transposed), plain(np.ascontiguousarray(data)), rtol=0)
