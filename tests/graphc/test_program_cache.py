"""Programs kept on disk (`graphc.program_cache`): a program compiled again, here or in another
process, is loaded instead of optimized and lowered again, and nothing a user can see tells the
two apart but the build time."""

from __future__ import annotations

import hashlib
import operator
import os
import pathlib
import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as gc
from graphc import program_cache
from graphc.ir import Graph, nodes_created, topological_order, verify
from graphc.printer import format_graph

RNG = np.random.default_rng(7)
W1, W2 = RNG.standard_normal((4, 8)), RNG.standard_normal((8, 3))
X, LABELS = RNG.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])


def _step(w1=W1, w2=W2, lr=0.1, name="w1", **options):  # type: ignore[no-untyped-def]
    """A training step: the same code, so the same program, however often it is built."""
    x, y = gc.placeholder((5, 4), "float64", name="x"), gc.placeholder((5,), "int64", name="y")
    v1, v2 = gc.variable(w1.copy(), name=name), gc.variable(w2.copy(), name="w2")
    seen = gc.variable(np.zeros(3), name="seen")  # written, never read
    h = gc.tanh(x @ v1) * gc.constant(np.linspace(0.5, 1.5, 8))
    loss = gc.mean(gc.softmax_cross_entropy(h @ v2, y))
    g1, g2 = gc.grad(loss, [v1, v2])
    f = gc.compile([x, y], [loss, gc.exp(x)], updates={v1: v1 - lr * g1, v2: v2 - lr * g2, seen: gc.sum(h @ v2, 0)},
                   **options)
    return f, (v1, v2, seen)


def _report_without_times(f: gc.Function) -> str:
    """The report but for times and what the kernel cache found (the second build finds more)."""
    skipped = ("build time", "executor:", "  compile cache:")
    text = "\n".join(line for line in f.report().splitlines() if not line.startswith(skipped))
    return re.sub(r"\(\d+\.\d+ ms\)", "", text)


@pytest.fixture
def own_cache(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_program_built_again_is_loaded_and_behaves_the_same(own_cache: pathlib.Path) -> None:
    first, vars1 = _step()
    again, vars2 = _step()
    assert not first.from_program_cache and again.from_program_cache
    assert "loaded from the program cache" in again.report()
    for _ in range(3):
        for a, b in zip(first(X, LABELS), again(X, LABELS)):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(vars1, vars2):  # each program updates its caller's own variables
        np.testing.assert_array_equal(a.value, b.value)
    assert not np.array_equal(vars2[0].value, W1) and vars2[2].value.any()
    # What inspection shows is the same: the program, its kernels, the passes, the memory plan.
    assert format_graph(again.graph) == format_graph(first.graph) and str(again) == str(first)
    assert again.kernels() == first.kernels()
    assert [(r.name, r.nodes_before, r.nodes_after, r.stats) for r in again.passes] == \
        [(r.name, r.nodes_before, r.nodes_after, r.stats) for r in first.passes]
    assert _report_without_times(again) == _report_without_times(first)
    assert again.memory.arena_bytes == first.memory.arena_bytes
    verify(again.graph)
    ids = [n.id for n in again.graph.nodes]
    assert len(set(ids)) == len(ids) and max(ids) < nodes_created()  # fresh, as if made here


def test_a_program_kept_by_another_process_is_loaded(own_cache: pathlib.Path) -> None:
    here = pathlib.Path(__file__)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(here.parent.parent.parent)!r})
        from tests.graphc.test_program_cache import _step, X, LABELS
        f, _ = _step()
        print(f.from_program_cache, float(f(X, LABELS)[0]))
    """)
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert [r[0] for r in runs] == ["False", "True"]
    f, _ = _step()
    assert f.from_program_cache and runs[0][1] == runs[1][1] == repr(float(f(X, LABELS)[0]))


def test_a_failing_call_names_the_same_node_either_way(own_cache: pathlib.Path) -> None:
    messages = []
    for _ in range(2):
        x = gc.placeholder((3,), "float64", name="x")
        logs = gc.log(x)
        f = gc.compile([x], gc.sqrt(logs) * 2.0, check_numerics=True)
        with pytest.raises(gc.GraphcError) as caught:
            f(np.array([1.0, -1.0, 2.0]))
        assert logs.name in str(caught.value)  # this build's node, by its name in this process
        messages.append(str(caught.value).replace(logs.name, "LOGS"))
    assert f.from_program_cache and messages[0] == messages[1]


def _key(build) -> str | None:  # type: ignore[no-untyped-def]
    outputs, updates = build()
    graph = Graph([n for n in topological_order(outputs) if n.op.leaf == "fed"], outputs + [v for _, v in updates])
    return program_cache.key_of(graph, [v for v, _ in updates], (True, False, ()))


def _program(value=1.0, name="x", dtype="float32", swap=False, start=0.0):  # type: ignore[no-untyped-def]
    x = gc.placeholder((2,), dtype, name=name)
    a, b = gc.variable(np.full(2, start, dtype)), gc.variable(np.full(2, start, dtype))
    y = x * gc.constant(np.array([value, 2.0], dtype)) + a * b
    return [y], [(a, y), (b, y * 2.0)] if not swap else [(a, y * 2.0), (b, y)]


def test_keys_tell_apart_what_makes_programs_differ() -> None:
    same = _key(_program)
    assert same is not None and _key(_program) == same
    assert _key(lambda: _program(start=5.0)) == same  # variables' values are data, not program
    for variant in (lambda: _program(value=1.5), lambda: _program(name="z"), lambda: _program(dtype="float64"),
                    lambda: _program(swap=True)):
        assert _key(variant) != same
    x = gc.placeholder((2,), "float32", name="x")
    elsewhere = x * gc.constant(np.array([1.0, 2.0], np.float32))  # another line of the user's code
    assert _key(lambda: ([elsewhere], [])) != _key(lambda: ([x * gc.constant(np.array([1.0, 2.0], np.float32))], []))
    outputs, updates = _program()
    graph = Graph([n for n in topological_order(outputs) if n.op.leaf == "fed"], outputs + [v for _, v in updates])
    updated = [v for v, _ in updates]
    assert program_cache.key_of(graph, updated, (True, True, ())) != program_cache.key_of(graph, updated, (True, False, ()))


def test_programs_with_a_loop_are_not_kept(own_cache: pathlib.Path) -> None:
    kept = []
    for _ in range(2):
        x = gc.placeholder((4, 3), "float64", name="x")
        total, _ = gc.scan(lambda c, row: (c + gc.tanh(row), c), gc.constant(np.zeros(3)), x)
        f = gc.compile([x], total)
        kept.append(f.from_program_cache)
    assert kept == [False, False]
    assert not list(own_cache.glob("graphc_program_*"))


def test_a_damaged_file_is_ignored_and_written_again(own_cache: pathlib.Path) -> None:
    first, _ = _step()
    (path,) = own_cache.glob("graphc_program_*.pkl")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    again, _ = _step()
    assert not again.from_program_cache
    np.testing.assert_array_equal(again(X, LABELS)[0], first(X, LABELS)[0])
    third, _ = _step()
    assert third.from_program_cache
    path.write_bytes(path.read_bytes()[:100])  # cut short
    assert not _step()[0].from_program_cache


def test_options_and_a_memory_budget_are_honoured(own_cache: pathlib.Path) -> None:
    _step()
    assert not _step(disable=["fuse"])[0].from_program_cache  # another program
    assert _step(disable=["fuse"])[0].from_program_cache
    assert not _step(memory_budget=10**9)[0].from_program_cache  # fitted afresh every time
    assert not _step(cache=False)[0].from_program_cache


def test_an_unused_input_and_an_unread_variable_are_the_callers(own_cache: pathlib.Path) -> None:
    for _ in range(2):
        x, unused = gc.placeholder((2,), "float64", name="x"), gc.placeholder((3,), "float64", name="unused")
        written = gc.variable(np.zeros(2), name="written")
        f = gc.compile([x, unused], gc.exp(x), updates={written: x + 1.0})
        out = f(np.ones(2), np.ones(3))
    assert f.from_program_cache
    np.testing.assert_array_equal(out, np.exp(np.ones(2)))
    np.testing.assert_array_equal(written.value, [2.0, 2.0])
    with pytest.raises(gc.FeedError, match="unused"):
        f(np.ones(2), np.ones(4))


def _residual(seed: int, cache: bool) -> gc.Function:
    """A small residual network trained by Adam, its shape drawn from `seed`: derivative nodes
    whose forward node lies outside the step's graph (their marks must point where a fresh
    compile's do, or the printed program and the schedule's ties change)."""
    r = np.random.default_rng(seed)
    width, depth = int(r.choice([8, 16])), int(r.integers(2, 5))
    x, y = gc.placeholder((4, width), name="x"), gc.placeholder((4,), "int64", name="y")
    ws = [gc.variable((r.standard_normal((width, width)) * 0.2).astype("float32"), name=f"w{i}") for i in range(depth)]
    hs = [x]
    for w in ws:
        z = hs[-1] @ w
        hs.append([gc.tanh(z), gc.relu(z) * hs[int(r.integers(0, len(hs)))], gc.sigmoid(z) + hs[-1]][int(r.integers(0, 3))])
    loss = gc.mean(gc.softmax_cross_entropy(hs[-1][:, :3], y)) + 0.01 * gc.sum(hs[1] ** 2)
    return gc.compile([x, y], [loss], updates=gc.optim.adam(loss, ws, lr=0.01), cache=cache)


@pytest.mark.parametrize("seed", [18, 21, 24])
def test_a_loaded_program_prints_and_runs_as_a_fresh_one(own_cache: pathlib.Path, seed: int) -> None:
    fresh = _residual(seed, cache=False)
    _residual(seed, cache=True)
    loaded = _residual(seed, cache=True)
    assert loaded.from_program_cache
    assert str(loaded) == str(fresh) and loaded.kernels() == fresh.kernels()
    assert [k.notes for k in loaded._native.program.kernels] == [k.notes for k in fresh._native.program.kernels]
    feeds = (np.linspace(-1, 1, 4 * fresh.inputs[0].shape[1], dtype=np.float32).reshape(4, -1), np.array([0, 1, 2, 1]))
    for _ in range(3):
        np.testing.assert_array_equal(loaded(*feeds)[0], fresh(*feeds)[0])


def test_the_order_nodes_were_made_in_is_part_of_the_key() -> None:
    def build(first_a: bool):  # type: ignore[no-untyped-def]
        x = gc.placeholder((3,), "float64", name="x")
        made = {}
        for name in ("a", "b") if first_a else ("b", "a"):
            made[name] = gc.tanh(x) if name == "a" else gc.exp(x)
        out = made["a"] + made["b"]
        return [out], []
    assert _key(lambda: build(True)) == _key(lambda: build(True)) != _key(lambda: build(False))


def test_the_code_digest_reads_contents(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("y = max(a, b)\n")
    before, stat = program_cache.source_digest([tmp_path], ""), source.stat()
    source.write_text("y = min(a, b)\n")  # the same size, and the same time of change below
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert program_cache.source_digest([tmp_path], "") != before


def test_a_well_formed_file_that_is_not_a_program_is_ignored(own_cache: pathlib.Path) -> None:
    _step()
    (path,) = own_cache.glob("graphc_program_*.pkl")
    class Failing:  # a pickle whose loading raises what no program's would (ZeroDivisionError)
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (operator.truediv, (1, 0))

    for payload in (pickle.dumps(("not", "a", "program")), pickle.dumps(1 / 3), pickle.dumps(Failing())):
        path.write_bytes(program_cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        f, _ = _step()
        assert not f.from_program_cache
        np.testing.assert_array_equal(f(X, LABELS)[0], _step(cache=False)[0](X, LABELS)[0])


def test_a_failed_cache_write_leaves_no_piece_behind(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # from a robustness review: on a full disk, kernels' and machine code's writes left their
    # temporary files behind, one more each compile
    from graphc.backends.numba import machine_code

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(machine_code.os, "replace", full_disk)
    with pytest.raises(OSError):
        machine_code.write_atomically(tmp_path / "kernel.py", b"text")
    assert list(tmp_path.iterdir()) == []
