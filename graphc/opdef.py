"""The op record: everything graphc knows about one op, declared once.

An `OpDef` holds the op's shape/dtype rule, its NumPy reference, and its derivative rules.
Derivative rules are written with graphc's public functions, so the same rule builds graph
nodes (symbolic differentiation, to any order) or computes eagerly (the define-by-run tape).

Rule signatures (`out` is the op's result, `xs` its inputs, `attrs` its attributes):
- ``infer(*xs, **attrs) -> (shape, dtype)``; raises ShapeError(detail) for impossible inputs.
- ``numpy(*arrays, **attrs) -> array`` (random ops also get ``step=k``).
- ``vjp[i](g, out, *xs, **attrs)``: the cotangent of input i, in the shape of `out` or of input
  i (the differentiation pass sums broadcast dimensions back); None where input i has none.
- ``jvp[i](t, out, *xs, **attrs)``: the tangent of `out` contributed by tangent `t` of input i.
  A single callable instead of a tuple receives every input's tangent (zeros where absent).
Variadic ops (`arity` None) declare one VJP rule for all inputs; it also gets ``index=i``.

What passes may rely on, declared as capabilities: `pointwise` (each output element is a
function of the input elements at its index, inputs broadcast: such ops fuse into loop nests),
`view` (the result re-describes its input's data: no copy), `tuple_value` (the value is several
tensors, each read by a node of an op declared `item`, which picks element `index`) and, for
leaves, where the value comes from (`leaf`). A `tuple_value` op has one VJP rule for all its
inputs, ``vjp[0](cotangents, out, *xs, active, **attrs)``, given the cotangents of its elements
(a dict by index) and which inputs want one, and one JVP rule ``jvp(tangents, out, *xs, **attrs)``
given a tangent per input (None where absent); both return a list (None where zero). Code recognises an op by its declaration object or a capability, never
by its name. How an op runs is each back
end's own business: the Numba back end registers its lowerings per op
(`graphc.backends.numba.lowerings`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Rule = Callable[..., Any]

KINDS = ("leaf", "elementwise", "reduction", "shape", "linalg", "nn", "random", "control")


@dataclass(frozen=True, eq=False)
class OpDef:
    """One op of the library. `arity` is None for ops taking any number of inputs."""

    name: str
    kind: str
    arity: int | None
    infer: Rule
    numpy: Rule | None  # None for leaves whose values come from outside (feeds, variables)
    vjp: tuple[Rule | None, ...] | None = None
    jvp: tuple[Rule | None, ...] | Rule | None = None
    needs_step: bool = False
    doc: str = ""
    pointwise: bool = False
    view: bool = False
    leaf: str | None = None  # a leaf's value: "fed" (placeholders), "state" (variables), "literal"
    tuple_value: bool = False
    item: bool = False

    def __post_init__(self) -> None:
        # A pointwise op's Jacobian is diagonal: the linear map its VJP rules apply to a
        # cotangent is the one a JVP applies to a tangent, so they serve as JVP rules.
        if self.pointwise and self.jvp is None:
            object.__setattr__(self, "jvp", self.vjp)

    @property
    def differentiable(self) -> bool:
        """Whether any input can receive a gradient through this op."""
        return self.vjp is not None and any(r is not None for r in self.vjp)

    def vjp_rule(self, i: int) -> Rule | None:
        """The rule giving input i's cotangent, or None if input i gets no gradient."""
        if self.vjp is None:
            return None
        if self.arity is None:
            rule = self.vjp[0]
            return None if rule is None else functools.partial(rule, index=i)
        return self.vjp[i]

    def __repr__(self) -> str:
        return f"OpDef({self.name})"


REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    """Add `op` to the registry; names are unique."""
    assert op.kind in KINDS, op.kind
    assert op.name not in REGISTRY, f"op {op.name} declared twice"
    if op.vjp is not None:
        expected = 1 if op.arity is None else op.arity
        assert len(op.vjp) == expected, f"{op.name}: one vjp rule per input"
    assert (op.vjp is None) == (op.jvp is None), f"{op.name}: derivative rules for both modes, or for neither"
    REGISTRY[op.name] = op
    return op
