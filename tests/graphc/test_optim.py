"""Optimizers: each step equals torch.optim's (checked against PyTorch when installed, and
always against a NumPy transcription of PyTorch's update rules)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphc as gc


def regression(dtype: str = "float64", seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 3)).astype(dtype)
    y = rng.standard_normal((8, 2)).astype(dtype)
    w0 = rng.standard_normal((3, 2)).astype(dtype)
    b0 = np.zeros(2, dtype)
    return x, y, w0, b0


def build(optimizer: str, w0: np.ndarray, b0: np.ndarray, **kwargs):  # type: ignore[no-untyped-def]
    xp = gc.placeholder((8, 3), w0.dtype, name="x")
    yp = gc.placeholder((8, 2), w0.dtype, name="y")
    w, b = gc.variable(w0, name="w"), gc.variable(b0, name="b")
    loss = gc.mean((gc.tanh(xp @ w + b) - yp) ** 2)
    updates = getattr(gc.optim, optimizer)(loss, [w, b], **kwargs)
    return gc.compile([xp, yp], loss, updates=updates), w, b


def _step_beside_torch(torch, f, x, y, tw, tb, opt, sched, steps: int, rel: float) -> None:  # type: ignore[no-untyped-def]
    """`steps` compiled steps and as many of torch's optimizer (and schedule), the losses equal."""
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        loss = float(f(x, y))
        opt.zero_grad()
        tloss = torch.mean((torch.tanh(tx @ tw + tb) - ty) ** 2)
        tloss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        assert loss == pytest.approx(tloss.item(), rel=rel)


def numpy_reference(optimizer: str, x, y, w, b, steps, lr, beta=0.9, betas=(0.9, 0.999), eps=1e-8):  # type: ignore[no-untyped-def]
    """PyTorch's update rules, transcribed (float64 scalars, as PyTorch's Python floats)."""
    params = [w.copy(), b.copy()]
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    losses = []
    for t in range(1, steps + 1):
        h = np.tanh(x @ params[0] + params[1])
        losses.append(np.mean((h - y) ** 2))
        dh = 2 * (h - y) / h.size * (1 - h * h)
        grads = [x.T @ dh, dh.sum(0)]
        for p, g, s in zip(params, grads, state):
            if optimizer == "sgd":
                p -= lr * g
            elif optimizer == "momentum":
                s[0] = s[0] * beta + g
                p -= lr * s[0]
            else:
                s[0] = s[0] + (1 - betas[0]) * (g - s[0])
                s[1] = s[1] * betas[1] + (1 - betas[1]) * g * g
                step_size = lr / (1 - betas[0] ** t)
                denom = np.sqrt(s[1]) / np.sqrt(1 - betas[1] ** t) + eps
                p += -step_size * s[0] / denom
    return np.array(losses), params


@pytest.mark.parametrize("optimizer,kwargs", [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1, "beta": 0.8}),
                                              ("adam", {"lr": 0.05})])
def test_matches_pytorch_update_rules(optimizer: str, kwargs: dict) -> None:
    x, y, w0, b0 = regression()
    f, w, b = build(optimizer, w0, b0, **kwargs)
    losses = f.run_many(np.stack([x] * 20), np.stack([y] * 20))
    ref_losses, (w_ref, b_ref) = numpy_reference(optimizer, x, y, w0, b0, 20, **kwargs)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    np.testing.assert_allclose(w.value, w_ref, rtol=1e-12)
    np.testing.assert_allclose(b.value, b_ref, rtol=1e-12, atol=1e-15)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_matches_torch_optim(optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    x, y, w0, b0 = regression()
    kwargs = {"lr": 0.05} if optimizer != "momentum" else {"lr": 0.05, "beta": 0.9}
    f, w, b = build(optimizer, w0, b0, **kwargs)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    if optimizer == "adam":
        opt = torch.optim.Adam([tw, tb], lr=0.05)
    else:
        opt = torch.optim.SGD([tw, tb], lr=0.05, momentum=0.9 if optimizer == "momentum" else 0.0)
    _step_beside_torch(torch, f, x, y, tw, tb, opt, None, 25, rel=1e-13)
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_optimizer_state_lives_in_variables() -> None:
    x, y, w0, b0 = regression()
    w = gc.variable(w0, name="w")
    loss = gc.sum(w * w)
    updates = gc.optim.adam(loss, [w])
    names = sorted(v.name for v in updates)
    assert names == ["adam.step", "w", "w.adam_m", "w.adam_v"]
    with pytest.raises(gc.GraphError, match="variables"):
        gc.optim.sgd(loss, [gc.placeholder((2,))], 0.1)


def test_float32_parameters_stay_float32() -> None:
    x, y, w0, b0 = regression("float32")
    f, w, b = build("adam", w0, b0, lr=0.01)
    f(x, y)
    assert w.value.dtype == np.float32 and b.value.dtype == np.float32


TORCH_TWINS = {  # our optimizer and arguments -> torch.optim's, step for step
    "sgd-weight_decay": (("sgd", dict(lr=0.05, weight_decay=0.1)), ("SGD", dict(lr=0.05, weight_decay=0.1))),
    "momentum-weight_decay": (("momentum", dict(lr=0.05, beta=0.8, weight_decay=0.1)),
                              ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1))),
    "adam-weight_decay": (("adam", dict(lr=0.05, weight_decay=0.1)), ("Adam", dict(lr=0.05, weight_decay=0.1))),
    "adamw": (("adamw", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)),
              ("AdamW", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3))),
    "adamw-default-decay": (("adamw", dict(lr=0.05)), ("AdamW", dict(lr=0.05))),
}


@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
@pytest.mark.parametrize("schedule", [False, True], ids=["constant-lr", "scheduled-lr"])
def test_weight_decay_adamw_and_schedules_match_torch_optim(name: str, schedule: bool) -> None:
    torch = pytest.importorskip("torch")
    (ours, kwargs), (theirs, torch_kwargs) = TORCH_TWINS[name]
    x, y, w0, b0 = regression()
    if schedule:
        kwargs = dict(kwargs, lr=lambda t, lr=kwargs["lr"]: lr * 0.9**t)
    f, w, b = build(ours, w0, b0, **kwargs)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = getattr(torch.optim, theirs)([tw, tb], **torch_kwargs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.9**t) if schedule else None
    _step_beside_torch(torch, f, x, y, tw, tb, opt, sched, 15, rel=1e-12)
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("max_norm", [0.05, 100.0])
def test_clip_by_global_norm_matches_torch_and_keeps_the_structure(max_norm: float) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    pa, pb = gc.placeholder((3, 4)), gc.placeholder((5,))
    clipped, norm = gc.optim.clip_by_global_norm({"a": pa * 1.0, "b": [pb * 2.0]}, max_norm)
    assert set(clipped) == {"a", "b"} and isinstance(clipped["b"], list)
    ca, (cb,), n = gc.compile([pa, pb], [clipped["a"], clipped["b"], norm])(a, b)
    want_norm = np.sqrt(np.sum(a.astype(np.float64) ** 2) + np.sum((2.0 * b.astype(np.float64)) ** 2))
    assert n.dtype == np.float32 and n == pytest.approx(want_norm, rel=1e-6)
    scale = min(1.0, max_norm / (want_norm + 1e-6))
    np.testing.assert_allclose(ca, a * scale, rtol=1e-6)
    np.testing.assert_allclose(cb, 2 * b * scale, rtol=1e-6)
    torch = pytest.importorskip("torch")
    ta, tb = torch.zeros(3, 4, requires_grad=True), torch.zeros(5, requires_grad=True)
    ta.grad, tb.grad = torch.tensor(a), torch.tensor(2 * b)
    total = torch.nn.utils.clip_grad_norm_([ta, tb], max_norm)
    assert float(n) == pytest.approx(float(total), rel=1e-6)
    np.testing.assert_allclose(ca, ta.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(cb, tb.grad.numpy(), rtol=1e-6)


def test_clipping_before_a_step_trains() -> None:
    x, y, w0, b0 = regression()
    xp, yp = gc.placeholder((8, 3), "float64"), gc.placeholder((8, 2), "float64")
    w, b = gc.variable(w0), gc.variable(b0)
    loss = gc.mean((gc.tanh(xp @ w + b) - yp) ** 2)
    (gw, gb), norm = gc.optim.clip_by_global_norm(gc.grad(loss, [w, b]), 0.1)
    f = gc.compile([xp, yp], [loss, norm], updates={w: w - 0.5 * gw, b: b - 0.5 * gb})
    first = f(x, y)
    for _ in range(30):
        last = f(x, y)
    assert last[0] < first[0] and first[1] > 0.1


@pytest.mark.parametrize("call,message", [
    (lambda loss, w: gc.optim.sgd(loss, [w], 0.1, weight_decay=-1), "weight_decay"),
    (lambda loss, w: gc.optim.adamw(loss, [w], betas=0.9), "betas"),
    (lambda loss, w: gc.optim.clip_by_global_norm([1.0], 1.0), "expected tensors"),
    (lambda loss, w: gc.optim.clip_by_global_norm([w], -1), "max_norm"),
    (lambda loss, w: gc.optim.sgd(loss, [w], gc.placeholder((2,))), "scalar"),
])
def test_bad_optimizer_arguments_say_what_was_expected(call, message) -> None:  # type: ignore[no-untyped-def]
    w = gc.variable(np.ones(2))
    with pytest.raises(gc.GraphError, match=message):
        call(gc.sum(w * w), w)


def test_an_optimizer_steps_with_given_gradients() -> None:
    x, y, w0, b0 = regression()
    xp, yp = gc.placeholder((8, 3), "float64"), gc.placeholder((8, 2), "float64")
    w, b = gc.variable(w0), gc.variable(b0)
    loss = gc.mean((gc.tanh(xp @ w + b) - yp) ** 2)
    gw, gb = gc.grad(loss, [w, b])
    f = gc.compile([xp, yp], loss, updates=gc.optim.adamw(loss, [w, b], lr=0.1, grads=[gw * 0.0, gb * 0.0]))
    f(x, y)
    np.testing.assert_allclose(w.value, w0 * (1 - 0.1 * 1e-2))  # only the decay: the given gradients are zero
    with pytest.raises(gc.GraphError, match="one tensor of each parameter's shape"):
        gc.optim.sgd(loss, [w, b], 0.1, grads=[gw])


def test_given_gradients_in_a_dict_pair_with_the_parameters_by_key() -> None:
    # two parameters of one shape: pairing by position would swap their gradients silently
    a, z = gc.variable(np.ones((2, 2)), name="a"), gc.variable(np.zeros((2, 2)), name="z")
    loss = gc.sum(a * 3.0 + z)
    g = gc.grad(loss, {"a": a, "z": z})
    gc.compile([], loss, updates=gc.optim.sgd(None, {"a": a, "z": z}, 0.1, grads={"z": g["z"], "a": g["a"]}))()
    np.testing.assert_array_equal(a.value, np.full((2, 2), 1 - 0.1 * 3.0))
    np.testing.assert_array_equal(z.value, np.full((2, 2), -0.1))
    with pytest.raises(gc.GraphError, match="grads= must have the keys of params"):
        gc.optim.sgd(None, {"a": a, "z": z}, 0.1, grads={"q": g["z"], "a": g["a"]})


@pytest.mark.parametrize("name", sorted(TORCH_TWINS) + ["sgd", "adam"])
def test_eager_optimizers_step_as_the_compiled_ones_and_torch(name: str) -> None:
    from graphc import eager

    if name in TORCH_TWINS:
        (ours, kwargs), _ = TORCH_TWINS[name]
    else:
        ours, kwargs = name, {"lr": 0.05}
    x, y, w0, b0 = regression()
    f, w, b = build(ours, w0, b0, **kwargs)
    compiled = [float(f(x, y)) for _ in range(12)]
    tw, tb = eager.tensor(w0.copy(), requires_grad=True), eager.tensor(b0.copy(), requires_grad=True)
    opt = getattr(gc.optim, ours)(None, [tw, tb], **kwargs)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = gc.mean((gc.tanh(eager.tensor(x) @ tw + tb) - eager.tensor(y)) ** 2)
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    np.testing.assert_allclose(losses, compiled, rtol=1e-12)
    np.testing.assert_allclose(tw.data, w.value, rtol=1e-11)
    assert opt.steps == 12 and tw.grad is not None
    opt.zero_grad()
    assert tw.grad is None and tb.grad is None


def test_an_eager_optimizer_with_a_schedule_and_clipped_gradients() -> None:
    from graphc import eager

    w = eager.tensor(np.array([3.0, -4.0]), requires_grad=True)
    opt = gc.optim.sgd(None, [w], lr=lambda t: 0.5 * 0.5**t)
    for expected_rate in (0.5, 0.25):
        opt.zero_grad()
        gc.sum(w * w).backward()
        before = w.data.copy()
        opt.step()
        np.testing.assert_allclose(w.data, before - expected_rate * 2 * before)
    clipped, norm = gc.optim.clip_by_global_norm([eager.tensor(np.array([3.0, 4.0]))], 1.0)
    assert float(norm.data) == 5.0 and np.allclose(clipped[0].data, [0.6, 0.8], rtol=1e-6)
    with pytest.raises(gc.GraphError, match="require gradients"):
        gc.optim.adam(None, [eager.tensor(np.ones(2))])


def test_one_schedule_and_a_dict_of_parameters_serve_both_modes() -> None:
    # The schedule sees the steps taken as a float64 scalar tensor in both modes (a warm-up
    # written with gc.minimum used to be refused eagerly), and parameters may come as a dict,
    # as gc.grad takes them (helper review).
    from graphc import eager

    def warm_up(t: Any) -> Any:
        return 0.1 * gc.minimum(t + 1.0, 3.0) / 3.0

    start = np.array([1.0, -2.0, 0.5])
    w = gc.variable(start.copy(), name="w")
    x = gc.placeholder((3,), "float64")
    loss = gc.sum((w * x - 1.0) ** 2.0)
    step = gc.compile([x], loss, updates=gc.optim.adamw(loss, {"w": w}, lr=warm_up, weight_decay=0.1))
    we = eager.tensor(start.copy(), requires_grad=True)
    opt = gc.optim.adamw(None, {"w": we}, lr=warm_up, weight_decay=0.1)
    for k in range(5):
        feed = np.array([1.0, 2.0, 3.0]) * (k + 1)
        step(feed)
        opt.zero_grad()
        gc.sum((we * eager.tensor(feed) - 1.0) ** 2.0).backward()
        opt.step()
        np.testing.assert_array_equal(w.value, we.data)


def test_eager_adam_counts_each_parameters_steps() -> None:
    # as torch.optim.Adam's per-parameter state["step"]: b, without a gradient at the first step,
    # takes its first step at the second, where Adam moves by lr * sign(g) (helper's port)
    from graphc import eager

    for make in (gc.optim.adam, gc.optim.adamw):
        a, b = (eager.tensor(np.array([1.0]), requires_grad=True) for _ in range(2))
        opt = make(None, [a, b], lr=0.1)
        gc.sum(a * 2.0).backward()
        opt.step()
        opt.zero_grad()
        gc.sum(a * 2.0 + b * 3.0).backward()
        opt.step()
        shrink = 1 - 0.1 * 1e-2 if make is gc.optim.adamw else 1.0
        np.testing.assert_allclose(b.data, [shrink - 0.1], rtol=1e-8)  # eps aside; was 0.9256
        assert opt.steps == 2


def test_eager_clipping_keeps_each_gradients_dtype() -> None:
    from graphc import eager

    clipped, _ = gc.optim.clip_by_global_norm([eager.tensor(np.array([3.0, 4.0])),
                                               eager.tensor(np.array([1.0, 2.0], np.float32))], 1.0)
    assert [c.dtype for c in clipped] == [np.float64, np.float32]


def test_a_first_moment_of_beta1_zero_is_the_gradient_itself() -> None:
    # torch's lerp takes the formula exact at weight 1 - beta1 >= 0.5: m becomes g, bit for bit
    w = gc.variable(np.array([0.3, -1.7, 2.9]), name="w")
    x = gc.placeholder((3,), "float64")
    loss = gc.sum(gc.sin(w * x))
    updates = gc.optim.adam(loss, [w], lr=0.01, betas=(0.0, 0.999))
    (m,) = [v for v in updates if v.name == "w.adam_m"]
    step = gc.compile([x], gc.grad(loss, w), updates=updates)
    for feed in (np.array([700.0, 1300.0, -100.0]), np.array([1.1e-3, 2e-4, 9e-4])):  # g - m rounds
        g = step(feed)
        np.testing.assert_array_equal(m.value, g)
