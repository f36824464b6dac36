"""The native runtime: kernels compiled once and cached on disk, native run_many, and numerics
checks that cost nothing when off."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as gc

PROGRAM = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import graphc as gc
    x = gc.placeholder((8, 4), name="x")
    w = gc.variable(np.full((4, 3), 0.5, np.float32), name="w")
    y = gc.placeholder((8,), "int64", name="y")
    loss = gc.mean(gc.softmax_cross_entropy(gc.tanh(x @ w), y))
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, [w], 0.1))
    value = float(f(np.ones((8, 4), np.float32), np.arange(8) % 3))
    many = f.run_many(np.ones((2, 8, 4), np.float32), np.zeros((2, 8), np.int64))
    registries = "numba.np.arraymath" in sys.modules  # Numba's compiler started (0.3 s)
    asm = f._native.assembly()
    print(json.dumps({"hit": f._native.cache_hit, "asm": "ret" in asm and "ymm" in asm, "registries": registries,
                      "path": str(f._native.path), "loss": value, "report": f.report()}))
""")


def run_in_new_process(cache: pathlib.Path) -> dict:
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_machine_code_from_the_cache(tmp_path: pathlib.Path) -> None:
    first = run_in_new_process(tmp_path)
    second = run_in_new_process(tmp_path)
    assert not first["hit"] and second["hit"]
    assert second["path"] == first["path"] and second["loss"] == first["loss"]
    # Every kernel and the driver translated by graphc (`kernel_ir`), then loaded: Numba's
    # compiler never starts, in either process.
    assert not first["registries"] and not second["registries"]
    assert "compile cache: hit" in second["report"]
    assert first["asm"] and second["asm"]  # machine code loaded from the cache keeps none: compiled again


def test_kernels_compiled_by_numba_give_the_same_result(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    translated = run_in_new_process(tmp_path)
    monkeypatch.setenv("GRAPHC_KERNEL_COMPILER", "numba")
    by_numba = run_in_new_process(tmp_path)  # the same cache folder: each road keeps its own machine code
    assert by_numba["registries"] and "0 from graphc's own LLVM IR" in by_numba["report"]
    assert translated["loss"] == by_numba["loss"]


def test_the_cache_key_covers_the_helpers_compiled_into_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Numba's cache does not follow what a function calls: a kernel cached with an older
    # tanh_f32 (graphc/backends/numba/helpers.py) must not be loaded by a graphc whose tanh_f32 changed.
    from graphc.backends.numba import program as native

    text = "def kernel(g, p):\n    return"
    before = native.module_name(text)
    monkeypatch.setattr(native, "_HELPERS", native._HELPERS + "changed")
    assert native.module_name(text) != before


def test_corrupt_cache_entries_are_rebuilt(tmp_path: pathlib.Path) -> None:
    first = run_in_new_process(tmp_path)
    source = pathlib.Path(first["path"])
    kept = list(source.parent.glob(f"{source.stem}.*.bin"))
    assert kept  # the kernel's machine code, kept beside its source
    kept[0].write_bytes(kept[0].read_bytes()[:200])  # cut short
    for entry in source.parent.glob("graphc_driver_*.bin"):
        entry.write_bytes(b"garbage")  # not machine code at all
    source.write_text(source.read_text()[:100])  # a truncated generated file
    others = sorted(p for p in tmp_path.glob("graphc_kernel_*.bin") if p not in kept)
    damaged, misnamed = others[0], others[1]
    data = bytearray(damaged.read_bytes())
    start = data.index(b"\n", data.index(b"\n") + 1) + 64
    data[start:start + 512] = bytes(512)  # a zeroed block in the object code, the length unchanged
    damaged.write_bytes(bytes(data))
    misnamed.write_bytes(kept[-1].read_bytes() if len(kept) > 1 else others[2].read_bytes())  # another kernel's
    again = run_in_new_process(tmp_path)  # LLVM never sees damaged code: it would crash, not raise
    assert again["loss"] == first["loss"] and not again["hit"]


def test_generated_code_is_nopython_and_names_the_users_lines() -> None:
    x = gc.placeholder((3,), name="x")
    f = gc.compile([x], gc.exp(x) * 2.0)
    text = f._native.text
    assert "def kernel(g, p):" in text and "forceobj" not in text and "objmode" not in text  # cfuncs: nopython
    assert "test_native.py" in text  # each op's comment points at the user's line


def test_native_run_many_matches_step_by_step() -> None:
    x = gc.placeholder((4,), "float64", name="x")
    w = gc.variable(np.zeros(4), name="w")
    loss = gc.sum((w - x) ** 2)
    f = gc.compile([x], [loss, w * 1.0], updates=gc.optim.momentum(loss, [w], 0.1))
    batches = np.random.default_rng(0).standard_normal((6, 4))
    many = f.run_many(batches)
    after_many = w.value
    w.assign(np.zeros(4))
    for v in [v for v in f.graph.variables if v.name.endswith("momentum")]:
        v.assign(np.zeros(4))
    single = [f(b) for b in batches]
    np.testing.assert_array_equal(many[0], [s[0] for s in single])
    np.testing.assert_array_equal(many[1], [s[1] for s in single])
    np.testing.assert_array_equal(w.value, after_many)


def test_numerics_checks_are_absent_when_off() -> None:
    x = gc.placeholder((3,), name="x")
    off = gc.compile([x], gc.log(x))
    on = gc.compile([x], gc.log(x), check_numerics=True)
    assert all("all_finite(" not in t.split("def kernel")[1] for t in off._native.texts)
    assert "all_finite" in on._native.text
    assert np.isnan(off(np.array([-1.0, 1.0, 2.0], np.float32))[0])
    with pytest.raises(gc.NumericsError, match="log"):
        on(np.array([-1.0, 1.0, 2.0], np.float32))


def test_reference_backend_is_available_for_comparison() -> None:
    x = gc.placeholder((3,), name="x")
    f = gc.compile([x], gc.tanh(x), backend="numpy")
    assert "NumPy reference" in f.report()
    with pytest.raises(gc.GraphError, match="backend"):
        gc.compile([x], x, backend="gpu")


def test_elementwise_loops_vectorize() -> None:
    # The numpy error model keeps division checks out of the loop, so LLVM emits packed
    # (SIMD) instructions: xmm/ymm/zmm registers with the "ps" (packed single) suffix.
    x = gc.placeholder((1024,), name="x")
    y = gc.placeholder((1024,), name="y")
    f = gc.compile([x, y], (x * y + 1.0) / (y * y + 2.0), cache=False)  # cached code has no asm
    asm = f._native.assembly()
    packed = [line for line in asm.splitlines() if ("vmulps" in line or "vdivps" in line)
              and ("ymm" in line or "zmm" in line)]
    assert packed, "the elementwise loop did not vectorize"


def test_updates_computed_in_place_still_see_values_from_before_the_call() -> None:
    a = gc.variable(np.array([1.0, 2.0]), name="a")
    b = gc.variable(np.array([0.0, 0.0]), name="b")
    f = gc.compile([], a * 1.0, updates={a: a + 1.0, b: a * 2.0})
    assert "into a in place" in f._native.text  # a's new value goes straight into a ...
    np.testing.assert_array_equal(f(), [1.0, 2.0])
    np.testing.assert_array_equal(b.value, [2.0, 4.0])  # ... yet b still read a's old value
    np.testing.assert_array_equal(a.value, [2.0, 3.0])
    checked = gc.compile([], a * 1.0, updates={a: a + 1.0}, check_numerics=True)
    assert "in place" not in checked._native.text  # a check could fail after the write


def test_a_long_elementwise_chain_becomes_one_loop() -> None:
    x = gc.placeholder((8,), "float64", name="x")
    h = x
    for _ in range(2000):
        h = h * 1.0 - 0.0
    f = gc.compile([x], h, cache=False)
    (text,) = f._native.texts
    assert text.split("def kernel")[1].count("for ") == 1  # 4000 ops simplified, one loop nest, no recursion
    np.testing.assert_array_equal(f(np.arange(8.0)), np.arange(8.0))


def test_the_memory_plan_of_a_training_step_is_near_its_lower_bound() -> None:
    rng = np.random.default_rng(0)
    x = gc.placeholder((32, 64), name="x")
    y = gc.placeholder((32,), "int64", name="y")
    params = [gc.variable((rng.standard_normal(s) * 0.1).astype(np.float32)) for s in [(64, 128), (128,), (128, 10), (10,)]]
    loss = gc.mean(gc.softmax_cross_entropy(gc.relu(x @ params[0] + params[1]) @ params[2] + params[3], y))
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, params, 0.1))
    m = f.memory
    assert m.lower_bound_bytes <= m.arena_bytes <= 1.1 * m.lower_bound_bytes
    assert m.arena_bytes < m.naive_bytes
    assert f"arena {m.arena_bytes} bytes" in f.report()
    feeds = rng.standard_normal((32, 64)).astype(np.float32), np.arange(32) % 10
    reference = gc.compile([x, y], loss, backend="numpy")(*feeds)
    assert float(f(*feeds)) == pytest.approx(float(reference), rel=1e-5)  # shared space, right values


def test_an_update_written_early_is_never_read_again_as_its_old_value() -> None:
    # Written in place as soon as nothing else reads the variable (its values then die at once):
    # never before a reader, a view's reader, an update that runs at the end, or a kernel that
    # can still stop the call (a bad label), which would leave the variable half-changed.
    rng = np.random.default_rng(3)
    x = gc.placeholder((6, 4), "float64", name="x")
    y = gc.placeholder((6,), "int64", name="y")
    w1 = gc.variable(rng.normal(size=(4, 5)), name="w1")
    w2 = gc.variable(rng.normal(size=(5, 3)), name="w2")
    loss = gc.mean(gc.softmax_cross_entropy(gc.tanh(x @ w1) @ w2, y))
    g1, g2 = gc.grad(loss, [w1, w2])
    f = gc.compile([x, y], [loss, w2.T * 1.0], updates={w1: w1 - 0.1 * g1, w2: w2 - 0.1 * g2})
    reference = gc.compile([x, y], [loss, w2.T * 1.0], updates={w1: w1 - 0.1 * g1, w2: w2 - 0.1 * g2},
                           backend="numpy")
    a, labels = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    start = (w1.value, w2.value)
    got = f(a, labels)
    after = (w1.value, w2.value)
    w1.assign(start[0])
    w2.assign(start[1])
    want = reference(a, labels)
    for u, v in zip(got, want):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    np.testing.assert_allclose(after[0], w1.value, rtol=1e-12)
    before = (w1.value, w2.value)
    with pytest.raises(gc.GraphcError, match="label"):
        f(a, np.full(6, 7))
    np.testing.assert_array_equal(w1.value, before[0])  # the bad label stopped the call before any write
    np.testing.assert_array_equal(w2.value, before[1])


def test_updates_copied_from_their_value_are_written_early_too_and_still_right() -> None:
    # Momentum's buffer is read by the parameter's update: not computed in place, but copied into
    # its variable as soon as nothing reads the old buffer. The step equals the reference's.
    rng = np.random.default_rng(5)
    x = gc.placeholder((16, 8), "float64", name="x")
    ws = [gc.variable(rng.normal(size=(8, 8)) / 3, name=f"w{k}") for k in range(3)]
    h = x
    for w in ws:
        h = gc.tanh(h @ w)
    loss = gc.mean(h * h)
    updates = gc.optim.momentum(loss, ws, 0.1, beta=0.9)
    native, reference = gc.compile([x], loss, updates=updates), gc.compile([x], loss, updates=updates, backend="numpy")
    assert "as soon as nothing reads its old value" in native._native.text
    start = [v.value for v in updates]
    a = rng.normal(size=(16, 8))
    got = [native(a) for _ in range(3)] + [v.value for v in updates]
    for v, s in zip(updates, start):
        v.assign(s)
    want = [reference(a) for _ in range(3)] + [v.value for v in updates]
    for u, v in zip(got, want):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-15)
