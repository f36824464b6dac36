"""Bad input gets a clear GraphcError naming what was expected, what came, and where."""

from __future__ import annotations

import inspect
import runpy

import numpy as np
import pytest

import graphc as gc
from graphc import eager


def here(offset: int = 1) -> str:
    """'test_errors.py:N' for the line `offset` lines below the caller's."""
    frame = inspect.currentframe().f_back  # type: ignore[union-attr]
    return f"test_errors.py:{frame.f_lineno + offset}"  # type: ignore[union-attr]


def test_all_errors_derive_from_graphc_error() -> None:
    for error in (gc.ShapeError, gc.FeedError, gc.NumericsError, gc.GraphError):
        assert issubclass(error, gc.GraphcError)


def test_impossible_matmul_names_op_shapes_and_line() -> None:
    a, b = gc.placeholder((3, 4)), gc.placeholder((5, 6))
    where = here(2)
    with pytest.raises(gc.ShapeError) as info:
        gc.matmul(a, b)
    message = str(info.value)
    assert "matmul" in message and "(3, 4)" in message and "(5, 6)" in message and where in message


def test_a_users_script_named_graphc_is_the_users_and_odd_file_names_stay_on_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # found by a break-it review: any file called graphc counted as graphc's own console script,
    # and a newline in a file name split the printed program's lines and the errors
    for name, shown in (("graphc", "graphc:2"), ("two\nlines.py", "two\\nlines.py:2")):
        (tmp_path / name).write_text("import graphc as gc\nx = gc.placeholder((2,), name='x')\n")
        assert str(runpy.run_path(str(tmp_path / name))["x"].location) == shown


def test_broadcast_mismatch_names_shapes_and_line() -> None:
    a, b = gc.placeholder((2, 3)), gc.placeholder((4,))
    where = here(2)
    with pytest.raises(gc.ShapeError, match=r"add.*\(2, 3\).*\(4,\).*" + where):
        _ = a + b


@pytest.mark.parametrize(
    "make",
    [
        lambda x: gc.reshape(x, (5,)),
        lambda x: gc.sum(x, axis=2),
        lambda x: gc.transpose(x, (0, 0)),
        lambda x: gc.broadcast_to(x, (3,)),
        lambda x: gc.concatenate([x, gc.placeholder((3, 2))], 0),
        lambda x: x[2],
        lambda x: gc.softmax_cross_entropy(x, gc.placeholder((3,), "int64")),
        lambda x: gc.where(x, x, x),
        lambda x: gc.one_hot(x, 3),
    ],
)
def test_shape_errors(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(gc.ShapeError, match="test_errors.py"):
        make(gc.placeholder((2, 3), name="x"))


def test_grad_of_non_scalar_is_a_graph_error() -> None:
    x = gc.placeholder((3,), name="x")
    where = here(2)
    with pytest.raises(gc.GraphError, match=r"scalar.*\(3,\).*" + where):
        gc.grad(x * 2, x)


def test_eager_backward_of_non_scalar_needs_a_gradient() -> None:
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(gc.GraphError, match="non-scalar"):
        (x * 2).backward()
    (x * 2).backward(np.ones(2, np.float32))
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_feed_errors_name_the_placeholder_and_change_nothing() -> None:
    x = gc.placeholder((2, 3), name="x")
    w = gc.variable(np.ones(3, np.float32), name="w")
    loss = gc.sum(x * w)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], lr=0.1))
    bad_feeds = [
        ((np.ones((3, 2), np.float32),), {}, r"'x'.*f32\[2,3\].*f32\[3,2\]"),
        ((np.ones((2, 3), np.int64),), {}, r"'x'.*f32\[2,3\].*i64\[2,3\]"),
        ((np.full((2, 3), 1e300),), {}, r"'x'.*1e\+300, which float32 cannot hold"),
        ((), {}, r"missing input 'x'"),
        ((np.ones((2, 3), np.float32), 1), {}, r"at most 1"),
        ((), {"y": np.ones((2, 3), np.float32)}, r"unknown input 'y'"),
        (("text",), {}, r"'x'"),
    ]
    for args, kwargs, pattern in bad_feeds:
        with pytest.raises(gc.FeedError, match=pattern):
            f(*args, **kwargs)
    np.testing.assert_array_equal(w.value, np.ones(3, np.float32))
    f(x=np.ones((2, 3), np.float32))  # by name
    np.testing.assert_allclose(w.value, np.full(3, 1 - 0.1 * 2, np.float32))


def test_float_feeds_of_another_width_are_converted_as_tf1_does() -> None:
    x = gc.placeholder((2,), "float32", name="x")
    f = gc.compile([x], x * 2)
    out = f(np.array([0.1, 2.5]))  # float64 data, a float32 model
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([0.1, 2.5], np.float32) * 2)
    stacked = f.run_many(np.array([[0.1, 2.5], [1.0, 3.0]]))
    assert stacked.dtype == np.float32 and stacked.shape == (2, 2)
    w = gc.variable(np.zeros(2, np.float32), name="w")
    with pytest.raises(gc.FeedError, match="f64"):  # assign checks the dtype: it is not a feed
        w.assign(np.zeros(2))


def test_safe_feeds_are_converted() -> None:
    x = gc.placeholder((2,), "float64", name="x")
    n = gc.placeholder((2,), "int64", name="n")
    f = gc.compile([x, n], [x * 2, n + 1])
    out = f(np.array([1, 2], np.float32), np.array([1, 2], np.int32))
    assert out[0].dtype == np.float64 and out[1].dtype == np.int64
    out = f([1.5, 2.5], [3, 4])
    np.testing.assert_array_equal(out[0], [3.0, 5.0])


def test_check_numerics_names_node_and_line_and_changes_nothing() -> None:
    x = gc.placeholder((2,), name="x")
    w = gc.variable(np.ones(2, np.float32), name="w")
    where = here()
    y = gc.log(x * w)
    loss = gc.sum(y)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, [w], 0.1), check_numerics=True)
    with pytest.raises(gc.NumericsError) as info:
        f(np.array([1.0, -1.0], np.float32))
    message = str(info.value)
    assert "log" in message and "NaN" in message and where in message
    np.testing.assert_array_equal(w.value, [1.0, 1.0])
    unchecked = gc.compile([x], loss)
    assert np.isnan(unchecked(np.array([1.0, -1.0], np.float32)))


@pytest.mark.parametrize("optimizer", ["adam", "sgd with a schedule"])
def test_a_numerics_error_in_the_backward_pass_leaves_optimizer_state_unchanged(optimizer: str) -> None:
    # The step counter's update reads no gradient: it used to be written before the backward
    # pass's infinity (d sqrt(0)) was found, so a caught error skewed every later step.
    w = gc.variable(np.array([1.0, 2.0]), name="w")
    x = gc.placeholder((2,), "float64", name="x")
    loss = gc.sum(gc.sqrt(x * w))
    updates = (gc.optim.adam(loss, [w], 0.1) if optimizer == "adam"
               else gc.optim.sgd(loss, [w], lambda t: 0.1 / (t + 1)))
    before = {v: v.value for v in updates}
    f = gc.compile([x], loss, updates=updates, check_numerics=True)
    with pytest.raises(gc.NumericsError):
        f(np.array([1.0, 0.0]))
    for v, value in before.items():
        np.testing.assert_array_equal(v.value, value, err_msg=v.name)


def test_numerics_error_in_a_gradient_points_at_the_forward_line() -> None:
    x = gc.placeholder((), "float64", name="x")
    where = here()
    y = gc.sqrt(x)
    f = gc.compile([x], gc.grad(y, x), check_numerics=True)
    with pytest.raises(gc.NumericsError, match=where + ".*derivative"):
        f(0.0)


def test_compile_errors() -> None:
    x = gc.placeholder((2,), name="x")
    other = gc.placeholder((2,), name="other")
    w = gc.variable(np.ones(2, np.float32), name="w")
    with pytest.raises(gc.GraphError, match="'other'.*not among the inputs"):
        gc.compile([x], x + other)
    with pytest.raises(gc.GraphError, match="placeholders"):
        gc.compile([x * 2], x)
    with pytest.raises(gc.ShapeError, match="'w'.*f32\\[2\\].*f64"):
        gc.compile([x], x, updates={w: gc.cast(w, "float64")})
    with pytest.raises(gc.GraphError, match="variables"):
        gc.compile([x], x, updates={x: x})


def test_symbolic_tensors_have_no_truth_value() -> None:
    x = gc.placeholder((), name="x")
    with pytest.raises(gc.GraphError, match="gc.where"):
        if x > 0:
            pass


def test_eager_and_graph_tensors_do_not_mix() -> None:
    x = gc.placeholder((), name="x")
    with pytest.raises(gc.GraphError, match="cannot mix"):
        _ = eager.tensor(1.0) + x


def test_indexing_that_has_no_static_shape_is_refused_clearly() -> None:
    x = gc.placeholder((3, 4), name="x")
    with pytest.raises(gc.GraphError, match="data-dependent shape"):
        _ = x[np.array([0, 1]), x[0] > 0]
    with pytest.raises(gc.ShapeError, match="out of range for axis 1 of size 4"):
        _ = x[np.array([0, 1]), [1, 4]]
    with pytest.raises(gc.GraphError, match="data-dependent shape"):
        _ = x[x > 0]
    with pytest.raises(gc.GraphError, match="an int, a slice, ..., None or an integer array"):
        _ = x[1.5]


def test_variable_assign_checks_shape_and_dtype() -> None:
    w = gc.variable(np.zeros((2, 2), np.float32), name="w")
    with pytest.raises(gc.FeedError, match="'w'.*f32\\[2,2\\].*f32\\[3\\]"):
        w.assign(np.zeros(3, np.float32))
    with pytest.raises(gc.FeedError, match="f64"):
        w.assign(np.zeros((2, 2), np.float64))
    w.assign(np.ones((2, 2), np.float32))
    value = w.value
    value[:] = 7  # a copy: the variable is unchanged
    np.testing.assert_array_equal(w.value, 1.0)


def test_labels_out_of_range_raise() -> None:
    logits = gc.placeholder((2, 3), name="logits")
    labels = gc.placeholder((2,), "int64", name="labels")
    f = gc.compile([logits, labels], gc.mean(gc.softmax_cross_entropy(logits, labels)))
    with pytest.raises(gc.GraphcError, match="label 3 is out of range for 3 classes"):
        f(np.zeros((2, 3), np.float32), np.array([0, 3]))


def test_requires_grad_only_on_floats() -> None:
    with pytest.raises(gc.GraphError, match="float"):
        eager.tensor([1, 2], requires_grad=True)


def test_numpy_functions_on_tensors_run_graphcs_or_say_why_not() -> None:
    from graphc import eager

    x = gc.placeholder((2, 3), "float64", name="x")
    outs = [np.exp(x), np.sum(x, axis=0), np.mean(x, keepdims=True), np.concatenate([x, x]), np.arange(3.0) + x,
            np.where(x > 0, x, 0.0), np.maximum(x, 0.5), np.var(x, ddof=1)]
    assert all(isinstance(o, gc.Node) for o in outs)
    feed = np.arange(6.0).reshape(2, 3) - 2
    got = gc.compile([x], outs)(feed)
    want = [np.exp(feed), feed.sum(0), feed.mean(keepdims=True), np.concatenate([feed, feed]), np.arange(3.0) + feed,
            np.where(feed > 0, feed, 0.0), np.maximum(feed, 0.5), feed.var(ddof=1)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
    with pytest.raises(gc.GraphError, match="no value to make an array of"):
        np.asarray(x)
    assert isinstance(np.cumsum(x, axis=1), gc.Node) and isinstance(np.flip(x), gc.Node)
    with pytest.raises(gc.GraphcError, match="graphc has no sort"):
        np.sort(x)
    with pytest.raises(gc.GraphcError, match="no dtype="):
        np.sum(x, dtype=np.float32)
    with pytest.raises(gc.GraphcError, match="exp with out="):
        np.exp(x, out=np.zeros((2, 3)))
    t = eager.tensor(np.ones(3), requires_grad=True)  # eager tensors too, gradients included
    np.sum(np.exp(t)).backward()
    np.testing.assert_allclose(t.grad.data, np.e)
