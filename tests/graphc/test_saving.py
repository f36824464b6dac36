"""gc.save / gc.load: variables and compiled functions round-trip (every op's test graph), training
resumes on the same trajectory, and hostile files fail with a GraphcError without running code."""

from __future__ import annotations

import io
import json
import pathlib
import zipfile

import numpy as np
import pytest

import graphc as gc

from .ops.cases import CASES, FLOAT_KINDS, make_value, placeholder_for
from .ops.test_composites import COMPOSITES


def _model(seed: int = 0, dropout: bool = True):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x, y = gc.placeholder((8, 3), name="x"), gc.placeholder((8,), "int64", name="y")
    w = gc.variable(rng.standard_normal((3, 4)).astype(np.float32), name="w")
    b = gc.variable(np.zeros(4, np.float32), name="b")
    h = gc.tanh(x @ w + b)
    loss = gc.mean(gc.softmax_cross_entropy(gc.dropout(h, 0.1, seed=5) if dropout else h, y))
    updates = gc.optim.adamw(loss, [w, b], lr=0.05)
    return x, y, [w, b], loss, updates


def _data(seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 4, 8)


def test_variables_round_trip_as_a_list_and_as_a_dict(tmp_path: pathlib.Path) -> None:
    _, _, (w, b), _, _ = _model()
    gc.save(tmp_path / "list.npz", [w, b])
    gc.save(tmp_path / "dict.npz", {"weights": w, "bias": b})
    values = gc.load(tmp_path / "list.npz")
    assert isinstance(values, list) and len(values) == 2
    np.testing.assert_array_equal(values[0], w.value)
    named = gc.load(tmp_path / "dict.npz")
    assert list(named) == ["weights", "bias"] and named["bias"].dtype == np.float32


def test_training_resumes_on_the_same_trajectory(tmp_path: pathlib.Path) -> None:
    xs, ys = _data()
    for dropout in (False, True):
        gc.set_seed(0)  # every build below numbers its random streams alike
        x, y, params, loss, updates = _model(dropout=dropout)
        first = gc.compile([x, y], loss, updates=updates)
        halves = [float(first(xs, ys)) for _ in range(4)]
        gc.save(tmp_path / "state.npz", list(updates))  # parameters and the optimizer's state
        gc.save(tmp_path / "step.npz", first)
        calls = first.calls
        going_on = [float(first(xs, ys)) for _ in range(6)]
        # The saved function resumes by itself: its variables, optimizer state and call count
        # (dropout's draws go on from the same call).
        loaded = gc.load(tmp_path / "step.npz")
        np.testing.assert_array_equal([float(loaded(xs, ys)) for _ in range(6)], going_on)
        # A model rebuilt from code, its state restored from the saved values and, for its
        # draws, its call count.
        gc.set_seed(0)
        x, y, params, loss, updates = _model(seed=9, dropout=dropout)
        for v, value in zip(updates, gc.load(tmp_path / "state.npz")):
            v.assign(value)
        resumed = gc.compile([x, y], loss, updates=updates)
        resumed.calls = calls
        np.testing.assert_array_equal([float(resumed(xs, ys)) for _ in range(6)], going_on)
        gc.set_seed(0)
        x, y, params, loss, updates = _model(dropout=dropout)
        straight = gc.compile([x, y], loss, updates=updates)
        np.testing.assert_array_equal([float(straight(xs, ys)) for _ in range(10)], halves + going_on)
        assert straight.calls == 10


def test_the_call_count_is_checked() -> None:
    f = gc.compile([], gc.random_uniform((2,)))
    for bad in (-1, 2.5, "3", True, 2**63):  # the native step counter is an int64
        with pytest.raises(gc.GraphError, match="calls"):
            f.calls = bad  # type: ignore[assignment]
    f.calls = 7
    g = gc.compile([], gc.random_uniform((2,)) * 1.0)
    assert f.calls == 7 and g.calls == 0


def test_a_step_with_its_gradient_flow_round_trips(tmp_path: pathlib.Path) -> None:
    # Found by a stranger's review: the loaded step lost the gradients gc.optim had recorded.
    xs, ys = _data()
    x, y, params, loss, updates = _model(dropout=False)
    first = gc.compile([x, y], loss, updates=updates, gradient_flow=True)
    gc.save(tmp_path / "step.npz", first)
    loaded = gc.load(tmp_path / "step.npz")
    first(xs, ys)
    loaded(xs, ys)
    assert first.gradient_flow() is not None and str(loaded.gradient_flow()) == str(first.gradient_flow())


@pytest.mark.parametrize("case", [c for c in CASES if c.inputs] + COMPOSITES, ids=lambda c: c.id)
def test_every_test_graph_round_trips(case, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    phs = [placeholder_for(s, k, i) for i, (s, k) in enumerate(case.inputs)]
    vals = [make_value(s, k, rng) for s, k in case.inputs]
    out = case.build(*phs)
    outs = [out]
    wrt = [p for p, (_, k) in zip(phs, case.inputs) if k in FLOAT_KINDS]
    if wrt and out.dtype.kind == "f":
        outs += gc.grad(gc.sum(out * gc.constant(rng.standard_normal(out.shape))), wrt)
    f = gc.compile(phs, outs, backend="numpy")
    if getattr(case, "op", None) == "checkpoint":  # its node holds Python code, which a file never does
        with pytest.raises(gc.GraphcError, match="gc.checkpoint holds Python code"):
            gc.save(tmp_path / "f.npz", f)
        return
    gc.save(tmp_path / "f.npz", f)
    g = gc.load(tmp_path / "f.npz")
    assert g.options == f.options
    for a, b in zip(f(*vals), g(*vals)):
        np.testing.assert_array_equal(a, b)


def _archive(manifest: dict | None, **arrays: np.ndarray) -> bytes:  # type: ignore[type-arg]
    buffer = io.BytesIO()
    extra = {} if manifest is None else {"graphc.json": np.frombuffer(json.dumps(manifest).encode(), np.uint8)}
    np.savez(buffer, **arrays, **extra)
    return buffer.getvalue()


def _saved_function(tmp_path: pathlib.Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    x = gc.placeholder((2,), "float64", name="x")
    gc.save(tmp_path / "ok.npz", gc.compile([x], gc.exp(x) * 2.0))
    with np.load(tmp_path / "ok.npz") as archive:
        arrays = {k: archive[k] for k in archive.files if k != "graphc.json"}
        return json.loads(bytes(archive["graphc.json"]).decode()), arrays


@pytest.mark.parametrize("damage,message", [
    (lambda m: m["nodes"][1].update(op="__import__"), "unknown op"),
    (lambda m: m["nodes"][1].update(inputs=[5]), "does not come before"),
    (lambda m: m["nodes"][1].update(shape=[3]), "shape rule"),
    (lambda m: m["nodes"][0]["attrs"].update(shape={"eval": "1"}), "unknown form"),
    (lambda m: m.update(options={"optimize": True, "debug": "rm -rf /"}), "unknown compile options"),
    (lambda m: m.update(graphc=99), "manifest of format"),
    (lambda m: m.update(kind="pickle"), "unknown kind"),
    # from a break-it review: each of these raised a raw TypeError, IndexError, AttributeError...
    (lambda m: m["nodes"][1].update(shape=[4.5]), "a shape must hold ints"),
    (lambda m: m["nodes"][1].update(grad_of=5), "a derivative mark of unknown form"),
    (lambda m: m.update(tree={"kind": "list", "keys": None, "children": [[None, -1]]}), "damaged counts"),
    (lambda m: m.update(tree={"kind": "list", "keys": None, "children": [[None, 1], [None, 1]]}), "2 values for 1"),
    (lambda m: m.update(steps=10**30), "a step count must be an int"),
    (lambda m: m.update(steps=1.5), "a step count must be an int"),
    (lambda m: m["nodes"][1].update(grad_of={"rank": float("inf")}), "damaged"),
])
def test_a_crafted_manifest_is_refused(damage, message, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    manifest, arrays = _saved_function(tmp_path)
    damage(manifest)
    (tmp_path / "bad.npz").write_bytes(_archive(manifest, **arrays))
    with pytest.raises(gc.GraphcError, match=message):
        gc.load(tmp_path / "bad.npz")


def test_files_that_are_not_graphc_archives_are_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "text.npz").write_text("not a zip")
    (tmp_path / "plain.npz").write_bytes(_archive(None, a=np.zeros(2)))
    buffer = io.BytesIO()
    np.savez(buffer, v0=np.array([{"code": "x"}], dtype=object))  # an object array needs pickle
    (tmp_path / "pickled.npz").write_bytes(buffer.getvalue())
    with zipfile.ZipFile(tmp_path / "escape.npz", "w") as z:
        z.writestr("../../outside.npy", b"\x93NUMPY")
    np.save(tmp_path / "one.npy", np.zeros(2))
    (tmp_path / "nested.npz").write_bytes(_archive(None, **{"graphc.json": np.frombuffer(b"[" * 10**5, np.uint8)}))
    (tmp_path / "records.npz").write_bytes(_archive(None, **{"graphc.json": np.zeros(3, "i4,f4")}))
    (tmp_path / "keys.npz").write_bytes(_archive({"graphc": 1, "kind": "variables", "keys": [[1]], "names": ["w"]},
                                                 v0=np.ones(2)))
    for name in ("text.npz", "plain.npz", "pickled.npz", "escape.npz", "missing.npz", "one.npy", "nested.npz",
                 "records.npz", "keys.npz", "."):
        with pytest.raises(gc.GraphcError):
            gc.load(tmp_path / name)
    assert not (tmp_path.parent.parent / "outside.npy").exists()


def test_save_refuses_what_it_cannot_store(tmp_path: pathlib.Path) -> None:
    with pytest.raises(gc.GraphcError, match="not a variable"):
        gc.save(tmp_path / "x.npz", [np.zeros(2)])
    with pytest.raises(gc.GraphcError, match="list or dict of variables"):
        gc.save(tmp_path / "x.npz", 3)
    x = gc.placeholder((2,), name="x")
    with pytest.raises(gc.GraphcError, match="keys of a dict of outputs must be strings or ints"):
        gc.save(tmp_path / "x.npz", gc.compile([x], {(1, 2): x * 2.0}, backend="numpy"))  # JSON has no tuples
    with pytest.raises(gc.GraphcError, match="save: cannot write"):
        gc.save(tmp_path, [gc.variable(np.zeros(2))])  # a folder


def test_a_loop_whose_carries_change_type_is_refused(tmp_path: pathlib.Path) -> None:
    # from a break-it review: a file whose loop body returns its carries in the other order
    # loaded, and natively read and wrote past a 2-element buffer
    x = gc.placeholder((3, 4), "float64", name="xs")
    (c1, c2), _ = gc.scan(lambda c, t: ((c[0] * t, c[1] * 2.0), None), (gc.constant(np.ones(4)), gc.constant(np.ones(2))), x)
    gc.save(tmp_path / "scan.npz", gc.compile([x], [c1, c2], backend="numpy"))
    with np.load(tmp_path / "scan.npz") as archive:
        arrays = {k: archive[k] for k in archive.files if k != "graphc.json"}
        manifest = json.loads(bytes(archive["graphc.json"]).decode())
    body = next(n for n in manifest["nodes"] if n["op"] == "loop")["attrs"]["body"]["body"]
    body["outputs"] = body["outputs"][::-1]
    items = [n for n in manifest["nodes"] if n["op"] == "loop_output"]
    items[0]["shape"], items[1]["shape"] = [2], [4]
    (tmp_path / "bad.npz").write_bytes(_archive(manifest, **arrays))
    with pytest.raises(gc.GraphcError, match="carry 0 of a loop enters as f64\\[4\\] and leaves its body as f64\\[2\\]"):
        gc.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("value,message", [({"int": 10**400}, "does not fit"), ("abc", "cannot make")])
def test_a_fill_of_a_value_its_dtype_cannot_hold_is_refused(value: object, message: str, tmp_path: pathlib.Path) -> None:
    # from a break-it review: such a file loaded, then failed with a raw error while compiling
    x = gc.placeholder((2,), "float64", name="x")
    gc.save(tmp_path / "f.npz", gc.compile([x], gc.grad(gc.sum(x * x), x), optimize=False, backend="numpy"))
    with np.load(tmp_path / "f.npz") as archive:
        arrays = {k: archive[k] for k in archive.files if k != "graphc.json"}
        manifest = json.loads(bytes(archive["graphc.json"]).decode())
    next(n for n in manifest["nodes"] if n["op"] == "full")["attrs"]["value"] = value
    (tmp_path / "bad.npz").write_bytes(_archive(manifest, **arrays))
    with pytest.raises(gc.GraphcError, match=message):
        gc.load(tmp_path / "bad.npz")
