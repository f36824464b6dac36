"""graphc's own translation of generated kernels to LLVM IR (`kernel_ir`) against Numba's
compilation of the same source: the same bits out, for every operator, function and cast the
translation accepts, on edge values (signed zeros, infinities, NaNs, subnormals, huge and
negative numbers), and for every kernel of a few real programs."""

from __future__ import annotations

import ctypes
import re
import types

import numba
import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import kernel_ir
from graphc.backends.numba import program as native
from graphc.backends.numba.blas import chosen
from graphc.backends.numba.driver import G_DGEMM, G_SGEMM, G_SIZE, G_STATUS, G_STEP, KERNEL_SIGNATURE

_ARG = re.compile(r"^    arg(\d+) = carray\(address_as\((p\[\d+\].*), (\w+)\), (\d+)\)$", re.M)
_TYPES = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
          "u8": np.uint8, "b1": np.bool_}
_CALL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-310, 89.0, -104.0, 1.0, -1.0, 0.5, -0.5, 2.5, 3.0,
            1e30, -1e30, 7.9, 1e-4, 40.0, -40.0, 700.0]
_counter = iter(range(1 << 30))


def _module(body: list[str], constants: list[str] = ()) -> str:  # type: ignore[assignment]
    return "\n".join([native._HEADER.format(version=native.VERSION), *constants, "", "", "def kernel(g, p):", *body, ""])


def _inputs(text: str, rng: np.random.Generator, wide: bool = False) -> list[tuple[int, np.ndarray]]:
    """Arrays for each `argN` of kernel module `text`: floats with every special value among
    normal draws, small integers (some negative; with `wide`, half of them drawn over the
    type's range), random booleans; padded past their end so that an index a kernel does not
    check reads the same bytes in both runs."""
    arrays = []
    for m in _ARG.finditer(text):
        i, dtype, size = int(m.group(1)), np.dtype(_TYPES[m.group(3)]), int(m.group(4))
        offset = eval(m.group(2), {"p": [0] * (i + 1), "g": [0] * G_SIZE, **{f"it{d}": 0 for d in range(8)}})  # noqa: S307
        n = size + offset // dtype.itemsize + 8
        if dtype.kind == "f":
            a = (rng.standard_normal(n) * rng.choice([1.0, 10.0, 1e-3], n)).astype(dtype)
            pick = rng.random(n) < 0.3
            with np.errstate(over="ignore"):
                a[pick] = np.array(_SPECIAL, dtype)[rng.integers(0, len(_SPECIAL), pick.sum())]
            a[: min(n, len(_SPECIAL))] = np.array(_SPECIAL[:n], np.float64).astype(dtype)
        elif dtype == np.bool_:
            a = rng.random(n) < 0.5
        else:
            a = rng.integers(-2, 4, n).astype(dtype)
            if wide:
                info = np.iinfo(dtype)
                lo, hi = max(int(info.min), -(1 << 40)), min(int(info.max), 1 << 40)
                a[1::2] = rng.integers(lo, hi, (n + 0) // 2, endpoint=True).astype(dtype)
        arrays.append((i, a))
    return arrays


def _run(address: int, arrays: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, list[np.ndarray]]:
    status = np.zeros(4, np.int64)
    g = np.zeros(G_SIZE, np.int64)
    g[G_STATUS], g[G_STEP] = status.ctypes.data, 3
    g[G_SGEMM], g[G_DGEMM] = chosen().sgemm, chosen().dgemm
    copies = [(i, a.copy()) for i, a in arrays]
    p = np.zeros(max([i for i, _ in arrays], default=0) + 1, np.int64)
    for i, a in copies:
        p[i] = a.ctypes.data
    _CALL(address)(g.ctypes.data, p.ctypes.data)
    return status, [a for _, a in copies]


def _bits(a: np.ndarray) -> np.ndarray:
    """Floats as their bit patterns, every NaN as one (neither NumPy nor PyTorch defines which
    NaN an operation returns, and the order of a reassociated sum decides it)."""
    if a.dtype.kind != "f":
        return a
    return np.where(np.isnan(a), np.array(np.nan, a.dtype), a).view(f"u{a.itemsize}")


def assert_same_as_numba(text: str, seeds: int = 2, wide: bool = False) -> None:
    """Kernel module `text` compiled by Numba and by `kernel_ir` writes the same bits (inputs as
    `_inputs` makes them)."""
    module = types.ModuleType("kernel_under_test")
    exec(compile(text, "<kernel>", "exec"), vars(module))  # noqa: S102 - our own generated source
    _, ours = kernel_ir.compile_kernel(text, vars(module), f"kernel_ir_test_{next(_counter)}")
    theirs = numba.cfunc(KERNEL_SIGNATURE, **native._OPTIONS)(module.kernel).address
    for seed in range(seeds):
        arrays = _inputs(text, np.random.default_rng(seed), wide)
        want_status, want = _run(theirs, arrays)
        got_status, got = _run(ours, arrays)
        assert list(got_status) == list(want_status), text
        for k, (w, o) in enumerate(zip(want, got)):
            differ = np.nonzero(_bits(w) != _bits(o))[0]
            assert differ.size == 0, (f"arg{arrays[k][0]} differs at {differ[:5]}: Numba {w[differ[:5]]},"
                                      f" kernel_ir {o[differ[:5]]}\n{text}")


def _elementwise(n: int, arrays: list[str], lines: list[str], constants: list[str] = ()) -> str:  # type: ignore[assignment]
    body = [f"    arg{i} = carray(address_as(p[{i}], {t}), {n})" for i, t in enumerate(arrays)]
    body += [f"    for i in range({n}):"] + [f"        {line}" for line in lines]
    return _module(body, constants)


N = 64
FLOATS = ["f32", "f64"]
ALL = ["f32", "f64", "i64", "i32", "i8", "u8", "b1"]


@pytest.mark.parametrize("t", FLOATS)
def test_math_functions_match_numba_bit_for_bit(t: str) -> None:
    calls = ["np.exp", "np.log", "np.sqrt", "np.sin", "np.cos", "np.tanh", "np.floor", "np.ceil", "np.rint",
             "np.log1p", "np.expm1", "np.tan", "np.arctan", "np.sinh", "np.cosh", "math.erf", "abs", "np.sign",
             "np.isfinite", "-"]
    if t == "f32":
        calls += ["exp_f32", "tanh_f32"]
    lines = [f"arg{k + 1}[i] = {fn}(arg0[i])" for k, fn in enumerate(calls)]
    assert_same_as_numba(_elementwise(N, [t] + [t] * len(calls), lines))


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=", "np.maximum",
                                "np.minimum", "np.copysign", "np.arctan2", "np.hypot", "np.logaddexp", "%"])
def test_binary_operators_on_floats_match_numba(op: str) -> None:
    pairs = [(a, b) for a in FLOATS for b in ALL] + [(a, b) for a in ALL for b in FLOATS if a not in FLOATS]
    if op in ("np.copysign", "**", "np.arctan2", "np.hypot", "np.maximum", "np.minimum", "np.logaddexp", "%"):
        # NumPy's functions of an integer and a float, and a power with an integer operand, are
        # not translated (Numba picks loops and algorithms of its own for them)
        pairs = [(a, b) for a, b in pairs if a in FLOATS and b in FLOATS and (a == b or not op.startswith("np."))]
    types_ = [t for pair in pairs for t in pair]
    expr = (lambda x, y: f"{op}({x}, {y})") if op.startswith("np.") else (lambda x, y: f"{x} {op} {y}")
    lines = [f"arg{len(types_) + k}[i] = {expr(f'arg{2 * k}[i]', f'arg{2 * k + 1}[i]')}" for k in range(len(pairs))]
    assert_same_as_numba(_elementwise(N, types_ + ["f64"] * len(pairs), lines), seeds=3, wide=True)


@pytest.mark.parametrize("op", ["+", "-", "*", "//", "%", "&", "|", "^", "<", "==", "!=", ">="])
def test_integer_operators_match_numba(op: str) -> None:
    ints = ["i64", "i32", "i8", "u8"]
    pairs = [(a, b) for a in ints for b in ints if op not in ("//", "%") or (a, b) != ("u8", "u8")]  # unsigned: not translated
    pairs += [(a, "b1") for a in ("i64", "i8")] + [("b1", "i32")]
    if op in ("&", "|", "^", "<", "==", "!=", ">=", "+", "*"):
        pairs.append(("b1", "b1"))
    types_ = [t for pair in pairs for t in pair]
    lines = [f"arg{len(types_) + k}[i] = arg{2 * k}[i] {op} arg{2 * k + 1}[i]" for k in range(len(pairs))]
    assert_same_as_numba(_elementwise(N, types_ + ["i64"] * len(pairs), lines), seeds=3, wide=True)


def test_integer_powers_match_numba() -> None:
    # Squaring and multiplying, wrapping past the type (3 ** 40 included), and Numba's answers
    # for negative exponents (0 ** -2 is -2**63 under NumPy's error model). Exponents past 65536
    # take Numba's float fallback, whose conversion back is undefined where it overflows: not here.
    pairs = [("i64", "i64"), ("i32", "i32"), ("i8", "i64"), ("i32", "i8"), ("u8", "i32"), ("i64", "u8")]
    types_ = [t for pair in pairs for t in pair]
    lines = [f"arg{len(types_) + k}[i] = arg{2 * k}[i] ** arg{2 * k + 1}[i]" for k in range(len(pairs))]
    lines += [f"arg{len(types_) + len(pairs)}[i] = arg0[i] ** i64(40)", f"arg{len(types_) + len(pairs) + 1}[i] = i64(3) ** arg1[i]"]
    assert_same_as_numba(_elementwise(N, types_ + ["i64"] * (len(pairs) + 2), lines), seeds=3)


@pytest.mark.parametrize("t", ["i64", "i32", "i8", "u8"])
def test_integer_functions_match_numba(t: str) -> None:
    lines = ["arg2[i] = abs(arg0[i])", "arg3[i] = np.maximum(arg0[i], arg1[i])", "arg4[i] = np.minimum(arg0[i], arg1[i])",
             "arg5[i] = np.maximum(arg0[i], arg1[i]) * f32(0.5)", "arg6[i] = abs(arg0[i]) + f32(0.25)",
             "arg7[i] = -arg0[i]", "arg8[i] = -arg0[i] * f32(0.1)", "arg9[i] = -(-arg0[i]) + f32(0.1)",
             "arg10[i] = max(arg0[i], arg1[i]) * f32(0.1)" if t != "u8" else "arg10[i] = arg0[i]"]
    types_ = [t, t, "i64", "i64", "i64", "f64", "f64", "f64", "f64", "f64", "f64"]
    assert_same_as_numba(_elementwise(N, types_, lines), seeds=3, wide=True)


def test_ranges_with_long_steps_count_their_trips_as_numba() -> None:
    text = _elementwise(2, ["f64", "f64", "f64"], [
        "for j in range(u8(5), u8(0), -2):", "    arg0[i] += f64(j)",
        "for k in range(9223372036854775800, 9223372036854775807, 5):", "    arg1[i] += 1.0",
        "for m in range(-7, 8, 3):", "    arg2[i] += f64(m)",
        "for n in range(10, -10, -4):", "    arg2[i] -= f64(n)"])
    assert_same_as_numba(text)


def test_casts_between_every_pair_of_types_match_numba() -> None:
    pairs = [(a, b) for a in ALL for b in ALL if a != b]
    types_ = [t for pair in pairs for t in pair]
    lines = [f"arg{2 * k + 1}[i] = {b}(arg{2 * k}[i])" for k, (a, b) in enumerate(pairs)]
    assert_same_as_numba(_elementwise(N, types_, lines), wide=True)


def test_negative_indices_count_from_the_end_and_guarded_reads_never_run() -> None:
    text = _elementwise(N, ["i64", "f32", "f32", "f64"], [
        "arg2[i] = arg1[arg0[i]]",  # indices -2 .. 3: the last two elements for negatives
        "arg3[i] = f64(arg1[arg0[i] * 100000]) if arg0[i] == 0 else f64(arg2[i])",  # a read past the end never runs
    ])
    assert_same_as_numba(text)


def test_control_flow_reductions_and_status_match_numba() -> None:
    body = [
        "    status = carray(address_as(g[1], i64), 4)",
        "    arg0 = carray(address_as(p[0], f32), 40)",
        "    arg1 = carray(address_as(p[1], i64), 8)",
        "    arg2 = carray(address_as(p[2], f64), 8)",
        "    arg3 = carray(address_as(p[3], f32), 8)",
        "    step = g[0]",
        "    for r in range(8):",
        "        s = K0",
        "        for j in range(4, -1, -1):",
        "            s += f64(arg0[r * 5 + j]) * j",
        "        arg2[r] = s + sum_run(arg0, r * 5, 5) + step",
        "        m = arg0[r * 5]",
        "        for j in range(1, 5):",
        "            m = arg0[r * 5 + j] if ((arg0[r * 5 + j] > m) | (arg0[r * 5 + j] != arg0[r * 5 + j])) else m",
        "        arg3[r] = m if 0 <= arg1[r] < 2 and not arg1[r] == 1 or arg1[r] == -2 else -m",
        "        if arg1[r] >= 3:",
        "            status[0] = 2; status[1] = r; status[2] = arg1[r]",
        "            return",
        "        elif arg1[r] < -1:",
        "            arg3[r] += K1",
        "        else:",
        "            arg3[r] = np.maximum(arg3[r], K1)",
        "    if not all_finite(arg0[0:40]):",
        "        status[0] = 3",
    ]
    assert_same_as_numba(_module(body, ["K0 = f64(0.0)", "K1 = f32(-0.5)"]), seeds=6)


def test_gemm_calls_match_numba() -> None:
    body = [
        "    arg0 = carray(address_as(p[0], f64), 24)",
        "    arg1 = carray(address_as(p[1], f64), 12)",
        "    arg2 = carray(address_as(p[2], f64), 8)",
        "    arg3 = carray(address_as(p[3], f32), 24)",
        "    arg4 = carray(address_as(p[4], f32), 8)",
        "    gemm(g, arg0, 0, arg1, 0, arg2, 0, 0, 1, 2, 4, 3, 1.0, 0.0)",
        "    gemm(g, arg3, 6, arg3, 0, arg4, 0, 1, 0, 2, 4, 3, -0.5, 1.0)",
    ]
    assert_same_as_numba(_module(body))


@pytest.mark.parametrize("t", FLOATS)
def test_runs_added_or_copied_as_one_vector_match_numbas_loop(t: str) -> None:
    # literal lengths (one vector add, odd ones included), and a length known only when run
    body = [f"    arg0 = carray(address_as(p[0], {t}), 200)", f"    arg1 = carray(address_as(p[1], {t}), 100)",
            "    add_run(arg0, 3, arg1, 0, 8)", "    add_run(arg0, 20, arg1, 17, 5)", "    add_run(arg0, 40, arg1, 30, 64)",
            "    copy_run(arg0, 104, arg1, 40, 15)",
            "    for r in range(3):", "        add_run(arg0, 120 + r * 7, arg1, r * 11, 13)",
            "    n = i64(arg1[99] > 0) + 6", "    add_run(arg0, 150, arg1, 90, n)"]
    text = _module(body)
    module = types.ModuleType("runs")
    exec(compile(text, "<kernel>", "exec"), vars(module))  # noqa: S102 - our own source
    assert "<64 x " in kernel_ir.translate(text, vars(module), "t")  # not inlined as the helper's loop
    assert_same_as_numba(text)


@pytest.mark.parametrize("t", FLOATS)
def test_counter_based_random_draws_match_numba(t: str) -> None:
    body = [f"    arg0 = carray(address_as(p[0], {t}), 64)", f"    arg1 = carray(address_as(p[1], {t}), 64)",
            "    step = g[0]", "    philox_uniform(arg0[0:64], 52, 1, step)", "    philox_normal(arg1[3:64], 7, 0, step + 1)"]
    assert_same_as_numba(_module(body))


def test_slices_are_clamped_and_count_from_the_end_as_in_python() -> None:
    body = ["    arg0 = carray(address_as(p[0], f64), 8)", "    arg1 = carray(address_as(p[1], i64), 8)",
            "    arg1[0] = arg0[2:20].size", "    arg1[1] = arg0[5:3].size", "    arg1[2] = arg0[-3:8].size",
            "    arg1[3] = arg0[-30:2].size", "    philox_uniform(arg0[-8:64], 5, 1, 2)", "    arg1[4] = all_finite(arg0[6:100])"]
    assert_same_as_numba(_module(body))


def test_unsigned_loops_and_literals_folded_as_python_folds_them() -> None:
    text = _elementwise(4, ["f64", "u8", "f64"], [
        "for j in range(u8(3)):", "    arg0[i] += f64(j) * 0.5", "arg1[i] = arg1[i] - u8(7)",
        "arg2[i] = arg2[i] * 2.0 ** -24 + 3 // -2 + 10 % -3"])
    assert_same_as_numba(text, wide=True)


@pytest.mark.parametrize("line", [
    "arg1[i] = K0 ** 3",  # a float to an integer power: repeated multiplication in Numba
    "arg1[i] = np.exp(i8(arg0[i]))",  # NumPy's float32 loop for a narrow integer
    "arg1[i] = np.floor(i64(arg0[i]))",  # an integer stays one
    "arg1[i] = np.maximum(i32(arg0[i]), f32(arg0[i]))",  # NumPy's loop choice for mixed types
    "arg1[i] = f64(18446744073709551615)",  # a uint64 literal
    "arg1[i] = f64(0.0) ** -1",  # a literal Python refuses to fold
])
def test_what_it_cannot_translate_goes_to_numba(line: str) -> None:
    module = _elementwise(4, ["f64", "f64"], [line], ["K0 = f64(1.5)"])
    scope: dict[str, object] = {}
    exec(compile(module, "<kernel>", "exec"), scope)  # noqa: S102
    with pytest.raises(kernel_ir.Untranslatable):
        kernel_ir.translate(module, scope, "refused")


def test_the_driver_is_translated() -> None:
    from graphc.backends.numba import driver

    for name in ("run_step", "run_steps"):
        _, address = kernel_ir.compile_function(getattr(driver, name), f"driver_test_{name}_{next(_counter)}")
        assert address


def _programs() -> list[gc.Function]:
    rng = np.random.default_rng(0)
    x = gc.placeholder((8, 5), "float32", name="x")
    y = gc.placeholder((8,), "int64", name="y")
    w = gc.variable(rng.standard_normal((5, 3)).astype(np.float32))
    b = gc.variable(np.zeros(3, np.float32))
    h = gc.tanh(x @ w + b)
    loss = gc.mean(gc.softmax_cross_entropy(h, y)) + gc.sum(gc.relu(h) ** 2) * 0.1 + gc.mean(gc.sigmoid(h))
    mlp = gc.compile([x, y], loss, updates=gc.optim.adam(loss, [w, b], 0.01))
    s = gc.placeholder((6, 4), "float64", name="s")
    v = gc.variable(rng.standard_normal(4))
    def step(c, row):  # noqa: E306
        c2 = gc.cond(gc.sum(row) > 0, lambda c, row: gc.sin(c * row + v), lambda c, row: gc.log1p(gc.abs(c)) - row, c, row)
        return c2, gc.maximum(c2, 0.0)
    last, seq = gc.scan(step, gc.constant(np.zeros(4)), s)
    total = gc.sum(last) + gc.sum(seq[:, 1]) + gc.sum(gc.exp(-gc.abs(s)) / (1 + s * s))
    scan = gc.compile([s], [total, gc.grad(total, v)])
    # padded convolutions of rows wider than one vector run: copy_run and add_run in chunks
    image = gc.placeholder((2, 2, 3, 70), "float32", name="image")
    k = gc.variable(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    c = gc.sum(gc.relu(gc.conv2d(image, k, padding=(1, 2))) ** 2)
    conv = gc.compile([image], [c, *gc.grad(c, [image, k])])
    return [mlp, scan, conv]


def test_every_kernel_of_real_programs_matches_numba() -> None:
    texts = {t for f in _programs() for t in f._native.texts if t}
    assert len(texts) > 10
    translated = 0
    for text in sorted(texts):
        try:
            assert_same_as_numba(text)
            translated += 1
        except kernel_ir.Untranslatable:
            pass
    assert translated == len(texts)  # every kernel of these programs: no Numba needed


def test_a_fault_of_the_translator_falls_back_to_numba_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a translator bug")

    monkeypatch.setattr(kernel_ir, "compile_kernel", broken)
    x = gc.placeholder((3,), "float64", name="x")
    y = gc.sin(x) * 1.2345678 + 0.4242  # constants no other test compiles: a kernel not yet in this process
    with pytest.warns(gc.GraphcWarning, match="could not compile kernel .* from its own LLVM IR .*a translator bug"):
        f = gc.compile([x], y, cache=False)
    assert f._native.translated == 0
    np.testing.assert_array_equal(f(np.array([0.0, 1.0, -2.0])), np.sin([0.0, 1.0, -2.0]) * 1.2345678 + 0.4242)


def test_loop_nests_of_many_trips_are_not_unrolled_and_a_kernels_taps_are() -> None:
    def ir_of(outer: int) -> str:
        text = _module([
            "    arg0 = carray(address_as(p[0], f32), 4096)",
            "    arg1 = carray(address_as(p[1], f32), 4096)",
            f"    for i in range({outer}):",
            "        for j in range(128):",
            "            arg0[i * 128 + j] = arg1[i * 128 + j]",
        ])
        scope: dict[str, object] = {}
        exec(compile(text, "<kernel>", "exec"), scope)  # noqa: S102
        return kernel_ir.translate(text, scope, "nest")

    assert ir_of(32).count('"llvm.loop.unroll.disable"') == 1  # the outer loop only
    assert "llvm.loop" not in ir_of(5)
