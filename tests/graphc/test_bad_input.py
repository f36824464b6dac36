"""A bad-input tour: every input that once escaped as a raw Python error, a silent wrong value or a
failed compile now gets a GraphcError subclass with a clear message, and leaves variables as
they were."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda x: gc.sum(x, axis=1.5), gc.ShapeError, "axis must be"),
        (lambda x: gc.max(x, axis="0"), gc.ShapeError, "axis must be"),
        (lambda x: gc.softmax(x, axis=1.5), gc.ShapeError, "axis must be"),
        (lambda x: x[::0], gc.ShapeError, "step cannot be zero"),
        (lambda x: x[0.5:], gc.ShapeError, "slice bounds"),
        (lambda x: gc.transpose(x, (0, 1.5)), gc.ShapeError, "axis must be an int"),
        (lambda x: gc.concatenate([x, x], 1.5), gc.ShapeError, "axis must be an int"),
        (lambda x: gc.stack([x, x], 3), gc.ShapeError, "out of range"),
        (lambda x: gc.one_hot(gc.constant(np.array([0, 1])), -1), gc.ShapeError, "positive int"),
        (lambda x: gc.cast(x, "int32") + 2**40, gc.DTypeError, "does not fit in int32"),
        (lambda x: gc.cast(x, "uint8") - 300, gc.DTypeError, "does not fit in uint8"),
        (lambda x: gc.constant(2**70), gc.DTypeError, "does not fit"),
        (lambda x: gc.placeholder((2**40, 2**40)), gc.ShapeError, "more than an array can hold"),
        (lambda x: gc.placeholder((2,), "float16"), gc.DTypeError, "float16 is not supported"),
        (lambda x: gc.placeholder((2,), "complex64"), gc.DTypeError, "complex64 is not supported"),
        (lambda x: gc.placeholder((2,), "no such dtype"), gc.DTypeError, "expected a dtype"),
        (lambda x: gc.where(None, x, 0.0), gc.DTypeError, "the condition is None"),
    ],
)
def test_bad_arguments_raise_graphc_errors(make, error, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=words) as info:
        make(gc.placeholder((2, 3), name="x"))
    assert "test_bad_input.py" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, 2], np.complex64),
        np.array([1, 2], object),
        np.array(["a", "b"]),
        np.array([1, 2], "datetime64[s]"),
        [1000, -1000],
        [1.5, 2.0],
    ],
    ids=["complex64", "object", "str", "datetime64", "ints out of range", "floats"],
)
@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_bad_feeds_name_the_placeholder_and_change_nothing(value, backend) -> None:  # type: ignore[no-untyped-def]
    w = gc.variable(np.array([1, 2], np.int8), name="w")
    p = gc.placeholder((2,), "int8", name="labels")
    f = gc.compile([p], p * 2, updates={w: w + p}, backend=backend)
    with pytest.raises(gc.FeedError, match="input 'labels' expects i8") as info:
        f(value)
    assert "test_bad_input.py" in str(info.value)
    assert w.value.tolist() == [1, 2]


def test_ints_that_fit_are_fed() -> None:
    p = gc.placeholder((2,), "int8", name="p")
    assert gc.compile([p], p * 1, backend="numpy")([100, -128]).tolist() == [100, -128]


def test_run_many_with_zero_steps_runs_nothing() -> None:
    w = gc.variable(np.ones(3), name="w")
    x = gc.placeholder((3,), "float64", name="x")
    f = gc.compile([x], {"y": gc.sum(x * w)}, updates={w: w - 0.1 * x}, backend="numpy")
    out = f.run_many(np.zeros((0, 3)))
    assert out["y"].shape == (0,) and w.value.tolist() == [1.0, 1.0, 1.0]


def test_run_many_checks_a_list_of_steps_one_by_one() -> None:
    # a ragged list used to reach NumPy's stacking and raise its ValueError (helper's port)
    w = gc.variable(np.ones(3), name="w")
    x = gc.placeholder((8, 3), "float64", name="x")
    f = gc.compile([x], gc.sum(x @ w), updates={w: w * 0.5})
    good = np.ones((8, 3))
    with pytest.raises(gc.FeedError, match=r"input 'x' at step 2 expects f64\[8,3\], got f64\[8,2\]"):
        f.run_many([good, good, good[:, :2]])
    assert w.value.tolist() == [1.0, 1.0, 1.0]
    assert f.run_many([good, good.tolist()]).tolist() == [24.0, 12.0] and f.run_many([]).shape == (0,)


def test_a_hook_returning_the_wrong_shape_is_refused() -> None:
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(gc.ShapeError, match=r"returned a gradient of shape \(1,\); expected \(2,\)"):
        gc.sum(x * x).backward()


def test_writing_a_detached_tensor_of_a_recorded_computation_is_refused() -> None:
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    y = gc.sum(x * x)
    with pytest.raises(gc.GraphError, match="shared with a tensor recorded for backward"):
        x.detach().data[0] = 5.0
    y.backward()
    assert x.grad is not None and x.grad.data.tolist() == [2.0, 4.0]
    free = eager.tensor([1.0, 2.0])
    free.detach().data[0] = 5.0  # nothing recorded: shared and writable, as in PyTorch
    assert free.data.tolist() == [5.0, 2.0]


def test_eager_mode_takes_constants_and_expressions_of_constants() -> None:
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    assert (x + gc.stack([0.5, 0.5])).data.tolist() == [1.5, 2.5]
    y = gc.sum(x * gc.exp(gc.constant(1.0)))
    y.backward()
    np.testing.assert_allclose(x.grad.data, [np.e, np.e], rtol=1e-6)  # type: ignore[union-attr]
    p = gc.placeholder((2,), name="p")
    with pytest.raises(gc.GraphError, match="depends on .*placeholder"):
        _ = x + gc.exp(p)


def test_the_gradient_of_sign_is_zero_in_both_modes() -> None:
    t = eager.tensor([1.0, -2.0, 0.0], requires_grad=True)
    gc.sum(gc.sign(t)).backward()
    assert t.grad is not None and t.grad.data.tolist() == [0.0, 0.0, 0.0]
    p = gc.placeholder((3,), "float64", name="p")
    g = gc.compile([p], gc.grad(gc.sum(gc.sign(p)), p), backend="numpy")(np.array([1.0, -2.0, 0.0]))
    assert g.tolist() == [0.0, 0.0, 0.0]


def test_a_huge_placeholder_compiles_without_allocating_it() -> None:
    # 400 TB as float32: the compile must not make a sample array to learn the signature.
    x = gc.placeholder((10**7, 10**7), "float32", name="huge")
    f = gc.compile([x], x[0, :2] * 2.0)
    assert f.graph.inputs[0].shape == (10**7, 10**7)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda x: gc.softmax(x, axis=(0, 1)), gc.ShapeError, "one int"),
        (lambda x: gc.log_softmax(x, axis=None), gc.ShapeError, "one int"),
        (lambda x: gc.argmax(x, axis=(0, 1)), gc.ShapeError, "one int or None"),
        (lambda x: gc.random_normal((2,), seed=2**80), gc.ShapeError, "seed"),
        (lambda x: gc.set_seed("x"), gc.ShapeError, "seed"),
        (lambda x: gc.leaky_relu(x, "a"), gc.ShapeError, "slope"),
        (lambda x: gc.constant([[1], [1, 2]]), gc.ShapeError, "expected a tensor, a number or an array"),
        (lambda x: x + [[1], [1, 2]], gc.ShapeError, "expected a tensor, a number or an array"),
        (lambda x: gc.constant(np.nan, dtype="int32"), gc.DTypeError, "cannot make a int32 array"),
        (lambda x: gc.compile([x], x, updates=[(1, 2)]), gc.GraphError, "updates must be a dict"),
        (lambda x: gc.compile([x], x, disable=3), gc.GraphError, "pass names"),
        (lambda x: gc.optim.adam(gc.sum(x), [gc.variable(np.ones(2))], betas=(0.9,)), gc.GraphError, "a pair"),
        (lambda x: gc.optim.sgd(gc.sum(x), [gc.variable(np.ones(2))], "0.1"), gc.GraphError, "learning rate"),
        (lambda x: gc.repeat(x, [1, 2], axis=1), gc.ShapeError, "an int or 3 ints"),  # was NumPy's ValueError
        (lambda x: gc.repeat(x, 1.5), gc.ShapeError, "an int or 6 ints"),  # was truncated to 1
        (lambda x: gc.repeat(x, [2**62, 2**62], axis=0), gc.ShapeError, "more elements than an array can hold"),
        (lambda x: gc.pad(gc.cast(x, "int8"), 1, constant_values=np.nan), gc.DTypeError, "cannot pad a int8"),
        # a None or a string where a cotangent goes: was NaN, or a raw error
        (lambda x: gc.vjp(gc.sum(x), x, None), gc.ShapeError, "expected a tensor or an array for"),
        (lambda x: gc.jvp(x * 2.0, {"x": x}, {"x": "abc"}), gc.ShapeError, "expected a tensor or an array for"),
        # a dict of gradients beside a list of parameters: which is which?
        (lambda x: gc.optim.sgd(None, [gc.variable(np.ones(2), name="a")], 0.1, grads={"a": x[0, :2]}), gc.GraphError,
         "grads= is a dict"),
        (lambda x: gc.optim.sgd(None, [eager.tensor(np.ones(2), requires_grad=True)], 0.1, grads=[x]), gc.GraphError,
         "an eager optimizer steps with each parameter's .grad"),
        (lambda x: gc.optim.sgd(gc.sum(x), [gc.variable(np.ones(2, np.int64), name="steps")], 0.1),
         gc.GraphError, "float variables; got steps of dtype int64"),
    ],
)
def test_more_bad_arguments(make, error, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=words):
        make(gc.placeholder((2, 3), "float64", name="x"))


@pytest.mark.parametrize(("dt", "value"), [("uint8", [-1]), ("uint8", 300), ("float32", 1e40), ("float64", 2**53 + 1)])
def test_feeds_that_would_lose_their_value_are_refused(dt: str, value: object) -> None:
    p = gc.placeholder(np.shape(value), dt, name="p")
    with pytest.raises(gc.FeedError, match=f"which {dt} cannot hold"):
        gc.compile([p], p, backend="numpy")(value)


def test_clip_of_integers_by_fractional_or_far_bounds() -> None:
    i = gc.placeholder((3,), "int32", name="i")
    u = gc.placeholder((3,), "uint8", name="u")
    outs = [gc.clip(i, -1.5, 2.5), gc.clip(u, -5, 300), gc.clip(u, 0.5, 254.5)]
    feeds = (np.array([7, -7, 0], np.int32), np.array([0, 7, 255], np.uint8))
    for backend in ("numpy", "python"):
        a, b, c = gc.compile([i, u], outs, backend=backend)(*feeds)
        assert a.tolist() == [2.5, -1.5, 0.0] and a.dtype == np.float64  # as NumPy: a float result
        assert b.tolist() == [0, 7, 255] and b.dtype == np.uint8
        assert c.tolist() == [0.5, 7.0, 254.5]


def test_reductions_over_an_empty_axis() -> None:
    e = gc.placeholder((0, 2), "float64", name="e")
    outs = [gc.logsumexp(e, axis=0), gc.softmax(e, 0), gc.log_softmax(e, 0), gc.sum(e, axis=0)]
    for backend in ("numpy", "python"):
        got = gc.compile([e], outs, backend=backend)(np.zeros((0, 2)))
        assert [o.tolist() for o in got] == [[-np.inf, -np.inf], [], [], [0.0, 0.0]]


def test_eager_data_seen_from_outside_a_recorded_computation_is_read_only() -> None:
    x = eager.tensor(np.ones(3), requires_grad=True)
    y = x * 2
    loss = gc.sum(y * y)
    with pytest.raises(gc.GraphError, match="shared with a tensor recorded for backward"):
        y.numpy()[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(y)[0] = 100.0
    loss.backward()
    assert x.grad is not None and x.grad.data.tolist() == [8.0, 8.0, 8.0]


def test_eager_hooks_and_grads_are_checked() -> None:
    t = eager.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(gc.GraphError, match="takes a function"):
        t.register_hook(42)  # type: ignore[arg-type]
    t.register_hook(lambda g: "abc")  # type: ignore[arg-type, return-value]
    with pytest.raises(gc.GraphError, match="not a gradient"):
        gc.sum(t * t).backward()
    s = eager.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s.grad = np.ones(4)  # type: ignore[assignment]
    with pytest.raises(gc.GraphError, match="not a tensor of its shape"):
        gc.sum(s * s).backward()


def test_odd_names_and_memory() -> None:
    p = gc.placeholder((2,), "float64", name="self")
    assert gc.compile([p], p * 2, backend="numpy")(**{"self": [1.0, 2.0]}).tolist() == [2.0, 4.0]
    w = gc.variable(np.ones(3, np.float32), name="w32")
    lr = gc.placeholder((), "float64", name="lr")
    x = gc.placeholder((3,), "float32", name="x")
    loss = gc.sum(w * x)
    gc.compile([x, lr], loss, gc.optim.sgd(loss, [w], lr), backend="numpy")(np.ones(3, np.float32), 0.5)
    assert w.value.tolist() == [0.5, 0.5, 0.5]  # a float64 rate steps a float32 parameter
    labels = gc.placeholder((3,), "int64", name="labels")
    with pytest.raises(gc.GraphcError, match="memory"):
        gc.compile([labels], gc.one_hot(labels, 2**40), backend="python")
