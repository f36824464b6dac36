"""The fuzzer finds a planted bug on its own, and the shrinker reduces the program to its core."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, Node
from graphc.passes import pipeline
from graphc.passes.base import PassResult
from graphc.passes.rewrite import rewrite

from .oracles import build, check_program, near_ties, program_failure
from .programs import Program, Ref, Step, random_program
from .shrink import explain, shrink, valid


def _tanh_to_sin(graph: Graph) -> PassResult:
    """A broken pass: it 'simplifies' tanh to sin."""
    def rule(n: Node) -> Node:
        return gc.sin(n.inputs[0]) if n.op.name == "tanh" else n

    return PassResult(rewrite(graph, rule), {})


def test_a_planted_bug_is_found_and_shrunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PIPELINE", [*pipeline.PIPELINE, ("tanh_to_sin", _tanh_to_sin)])
    configs = [("all passes", {})]
    found = next(m for seed in range(200) for m in check_program(seed, configs=configs)[:1])
    assert found.oracle in ("reference executor, all passes", "python, all passes", "remat, reference executor")
    small = shrink(found.program, lambda p: program_failure(p, found.oracle) is not None)
    assert valid(small) and program_failure(small, found.oracle) is not None
    assert len(small.steps) < len(found.program.steps) or len(found.program.steps) <= 2
    assert any(_uses_tanh(step) for step in small.steps)
    assert len(small.steps) <= 3, [s.fn for s in small.steps]
    text = explain(found)
    compile(text[text.index("shrunk to:\n") + len("shrunk to:\n"):], "finding.py", "exec")  # a valid script
    assert "gc.tanh(" in text or "programs." in text


def _uses_tanh(step) -> bool:  # type: ignore[no-untyped-def]
    # A tanh step, or a scan body or checkpointed block (defined in programs.py) holding one.
    bodies = [a for a in step.args if callable(a)]
    return step.fn == "gc.tanh" or any("gc.tanh(" in inspect.getsource(b) for b in bodies)


def test_programs_are_deterministic_and_valid() -> None:
    for seed in range(30):
        a, b = random_program(seed), random_program(seed)
        assert [s.fn for s in a.steps] == [s.fn for s in b.steps] and a.inputs == b.inputs
        assert valid(a)


def test_operands_meeting_at_rounding_distance_are_told_from_exact_ties() -> None:
    # (x * 3) / 3 is x give or take a rounding: maximum's side there is rounding's choice.
    x = np.array([0.1, 0.2, 0.7])
    near = Program([((3,), "float64")], [Step("op*", (Ref(0), 3.0)), Step("op/", (Ref(1), 3.0)),
                                         Step("gc.maximum", (Ref(0), Ref(2)))], [3])
    exact = Program([((3,), "float64")], [Step("op*", (Ref(0), 1.0)), Step("gc.maximum", (Ref(0), Ref(1)))], [2])
    apart = Program([((3,), "float64")], [Step("op*", (Ref(0), 2.0)), Step("gc.maximum", (Ref(0), Ref(1)))], [2])
    assert np.any((x * 3) / 3 != x)
    assert near_ties(build(near, [x])) > 0
    assert near_ties(build(exact, [x])) == 0 and near_ties(build(apart, [x])) == 0
