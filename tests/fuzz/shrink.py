"""Shrinking a failing program to a minimal one, and printing it as a runnable script.

`shrink` deletes what it can while the failure stays: loss terms, steps (with the steps that
read them), steps bypassed (their readers read the step's operand instead), the variable made a
placeholder again. Every candidate is rebuilt first; one graphc refuses is skipped. The feeds
stay those of the original program (its inputs never change).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

import graphc as gc

from .oracles import CONFIGS, Mismatch, program_failure
from .programs import Program, Ref, Step, program_text, random_feeds, run, sinks


def _renumber(program: Program, drop: set[int], redirect: dict[int, int]) -> Program | None:
    """`program` without the values in `drop` (steps only), readers of value k reading
    redirect[k] instead; None if a kept step or loss term still needs a dropped value."""
    n = len(program.inputs)
    new_index: dict[int, int] = {k: k for k in range(n)}
    steps: list[Step] = []

    def move(a: Any) -> Any:
        if isinstance(a, Ref):
            k = redirect.get(a.k, a.k)
            if k not in new_index:
                raise KeyError(k)
            return Ref(new_index[k])
        if isinstance(a, list):
            return [move(x) for x in a]
        if isinstance(a, tuple) and any(isinstance(x, Ref) for x in a):
            return tuple(move(x) for x in a)
        return a

    try:
        for j, step in enumerate(program.steps):
            if n + j in drop:
                continue
            steps.append(Step(step.fn, tuple(move(a) for a in step.args), dict(step.kwargs)))
            new_index[n + j] = n + len(steps) - 1
        terms = [new_index[redirect.get(k, k)] for k in program.loss_terms if redirect.get(k, k) in new_index]
    except KeyError:
        return None
    return replace(program, steps=steps, loss_terms=sorted(set(terms)) or sinks(program.inputs, steps))


def _dependents(program: Program, k: int) -> set[int]:
    """Value k and every step value that reads it, directly or not."""
    n = len(program.inputs)
    out = {k}
    for j, step in enumerate(program.steps):
        if any(r in out for r in step.refs()):
            out.add(n + j)
    return out


def valid(program: Program) -> bool:
    """Whether graphc builds every step of `program` (on placeholders)."""
    try:
        run(program, [gc.placeholder(s, dt) for s, dt in program.inputs])
    except gc.GraphcError:
        return False
    return True


def candidates(program: Program) -> list[Program]:
    """Smaller programs, the most promising first."""
    n = len(program.inputs)
    out: list[Program] = []
    if program.train:
        out.append(replace(program, train=False))
    if len(program.loss_terms) > 1:
        out += [replace(program, loss_terms=[t for t in program.loss_terms if t != k]) for k in program.loss_terms]
    for j in reversed(range(len(program.steps))):
        smaller = _renumber(program, _dependents(program, n + j), {})
        if smaller is not None:
            out.append(smaller)
        for r in program.steps[j].refs():  # bypass: readers of step j read its operand r
            bypassed = _renumber(program, {n + j}, {n + j: r})
            if bypassed is not None:
                out.append(bypassed)
    return out


def shrink(program: Program, fails: Callable[[Program], bool], budget: int = 400) -> Program:
    """A smallest program found (by deletions) for which `fails` still holds."""
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for smaller in candidates(program):
            tries += 1
            if tries > budget:
                break
            if valid(smaller) and fails(smaller):
                program, improved = smaller, True
                break
    return program


def _array(a: np.ndarray) -> str:
    return f"np.array({a.tolist()!r}, dtype=np.{a.dtype.name})"


def script(program: Program, feeds: list[np.ndarray], options: dict[str, object], note: str) -> str:
    """A standalone script that builds `program` as the harness does and compares the compiled
    function (with `options`) against the NumPy reference on the graph as built."""
    n = len(program.inputs)
    trained = next((i for i, (_, dt) in enumerate(program.inputs) if dt[0] == "f"), None) if program.train else None
    lines = [
        f'"""graphc fuzz finding, program {program.seed}: {note.splitlines()[0][:300]}"""',
        "import numpy as np",
        "",
        "import graphc as gc",
        "from tests.fuzz import programs  # the bodies of scans and branches of conds",
        "",
        "",
        "def weight(shape, salt):",
        "    return (np.cos(np.arange(int(np.prod(shape))) * 1.7 + salt) + 0.25).reshape(shape)",
        "",
        "",
        "def term(v, j):",
        '    v = v if v.dtype.kind == "f" else gc.cast(v, "float64")',
        "    return gc.sum(v * weight(v.shape, j).astype(v.dtype))",
        "",
        "",
        f"feeds = [{', '.join(_array(f) for f in feeds)}]",
        "gc.set_seed(0)",
    ]
    for i, (shape, dt) in enumerate(program.inputs):
        if i == trained:
            lines.append(f'v{i} = gc.variable(feeds[{i}], name="w{i}")')
        else:
            lines.append(f'v{i} = gc.placeholder({shape!r}, "{dt}", name="x{i}")')
    if options.get("backend") == "eager":
        tensors = ", ".join(f"gc.eager.tensor(feeds[{i}], requires_grad={dt[0] == 'f'})" for i, (_, dt) in enumerate(program.inputs))
        lines += [
            "# the same program on placeholders, through the reference:",
            *program_text(program),
            f"inputs = [{', '.join(f'v{i}' for i in range(n))}]",
            "want_loss = gc.compile([v for v in inputs if v.op.name == 'placeholder'], loss, backend='numpy',"
            " optimize=False)(*[f for v, f in zip(inputs, feeds) if v.op.name == 'placeholder'])",
            "# and eagerly (random nodes are numbered as they are made: the same numbers again):",
            "gc.set_seed(0)",
            f"{', '.join(f'v{i}' for i in range(n))}, = [{tensors}]",
            *program_text(program),
            "np.testing.assert_allclose(gc.eager.to_eager(loss).data, want_loss, rtol=1e-7)",
            'print("agrees")',
            "",
        ]
        return "\n".join(lines)
    lines += program_text(program)
    floats = [f"v{i}" for i, (_, dt) in enumerate(program.inputs) if dt[0] == "f"]
    placeholders = [f"v{i}" for i in range(n) if i != trained]
    fed = [f"feeds[{i}]" for i in range(n) if i != trained]
    lines += [
        f"xs = [{', '.join(floats)}]",
        f"outputs = [loss, {', '.join(f'v{k}' for k in program.loss_terms)}]",
        "grads = gc.grad(loss, xs)",
        "z = sum(gc.sum(g * weight(g.shape, 50 + j).astype(g.dtype)) for j, g in enumerate(grads))",
        "outputs += grads + gc.grad(z, xs)",
        "outputs.append(gc.jvp(loss, xs, [weight(x.shape, 80 + j).astype(x.dtype) for j, x in enumerate(xs)]))",
        f"placeholders = [{', '.join(placeholders)}]",
    ]
    if trained is not None:
        lines += [
            f"updates = {{v{trained}: v{trained} - 0.125 * grads[{floats.index(f'v{trained}')}]}}",
            f"want = gc.compile(placeholders, outputs + [updates[v{trained}]], backend='numpy', optimize=False)"
            f"({', '.join(fed)})",
            f"got = gc.compile(placeholders, outputs, updates, **{options!r})({', '.join(fed)})",
            f"got = list(got) + [v{trained}.value]",
        ]
    else:
        lines += [
            f"want = gc.compile(placeholders, outputs, backend='numpy', optimize=False)({', '.join(fed)})",
            f"got = gc.compile(placeholders, outputs, **{options!r})({', '.join(fed)})",
        ]
    rtol = 1e-7 if program.float_dtype == "float64" and "float32" not in "\n".join(program_text(program)) else 1e-3
    lines += [
        "for k, (g, w) in enumerate(zip(got, want)):",
        f"    np.testing.assert_allclose(g, w, rtol={rtol}, atol={rtol * 1e-2}, err_msg=f'output {{k}}')",
        'print("agrees")',
        "",
    ]
    return "\n".join(lines)


def options_of(oracle: str) -> dict[str, object]:
    """gc.compile options that reproduce `oracle` ("python, all but cse", "reference executor,
    all passes", ...)."""
    where, _, config = oracle.partition(", ")
    options: dict[str, object] = dict(dict(CONFIGS).get(config, {}))
    options["backend"] = {"python": "python", "numba": "numba", "reference executor": "numpy",
                          "eager mode": "eager"}.get(where, "numba")
    return options


def explain(m: Mismatch, budget: int = 400) -> str:
    """`m`, and its program shrunk (the same oracle still failing) as a runnable script."""
    small = shrink(m.program, lambda p: program_failure(p, m.oracle) is not None, budget)
    feeds = random_feeds(small, np.random.default_rng([m.program.seed, 17]))
    found = program_failure(small, m.oracle) or m
    return f"{m}\n\nshrunk to:\n{script(small, feeds, options_of(m.oracle), str(found))}"
