"""Each op's Numba lowering, registered here by the Numba back end (as JAX registers a lowering
per platform): the op declarations (`graphc.ops`) hold semantics only, so adding a back end
touches no op file, and the NumPy back end needs none of this.

Three kinds (see `graphc.backends.numba.emit`; leaves are lowered by the program itself):
- scalar(c, *xs, **attrs) -> str: pointwise ops, a scalar expression of the scalar expressions
  `xs`; `c` gives typed constants and casts. Such ops fuse into loop nests.
- kernel(em, out, *xs, **attrs): emits statements filling array `out` from arrays `xs`.
- view(x, **attrs) -> Buf: the result as a view of array `x` (no copy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import GraphError
from ...opdef import OpDef

Rule = Callable[..., Any]
STATUS_NUMERICS, STATUS_INDEX = 1, 2  # why a kernel stopped: a non-finite value, an index out of range

SCALAR: dict[OpDef, Rule] = {}
KERNEL: dict[OpDef, Rule] = {}
VIEW: dict[OpDef, Rule] = {}
OUT_OF_RANGE: dict[OpDef, Callable[[Any, int], str]] = {}  # op -> message(node, bad index)


def register_scalar(op: OpDef, rule: Rule) -> None:
    assert op.pointwise, f"{op.name}: a scalar lowering is for pointwise ops"
    SCALAR[op] = rule


def register_kernel(op: OpDef, rule: Rule, out_of_range: Callable[[Any, int], str] | None = None) -> None:
    """`out_of_range(node, value)`, for a kernel that stops on a bad index (`Emitter.fail` with
    STATUS_INDEX), says what was wrong, as the op's NumPy reference would."""
    KERNEL[op] = rule
    if out_of_range is not None:
        OUT_OF_RANGE[op] = out_of_range


def register_view(op: OpDef, rule: Rule) -> None:
    assert op.view, f"{op.name}: a view lowering is for ops declared views"
    VIEW[op] = rule


class NoLowering(GraphError):
    """The program holds an op this back end cannot lower."""


def kernel_of(op: OpDef) -> Rule:
    """The kernel lowering of `op`, or NoLowering."""
    return _found(KERNEL.get(op), op)


def view_of(op: OpDef) -> Rule:
    """The view lowering of view op `op`, or NoLowering."""
    return _found(VIEW.get(op), op)


def scalar_of(op: OpDef) -> Rule:
    """The scalar lowering of pointwise `op`, or NoLowering."""
    return _found(SCALAR.get(op), op)


def _found(rule: Rule | None, op: OpDef) -> Rule:
    if rule is None:
        raise NoLowering(f"the numba back end has no lowering for op {op.name!r}; compile with backend='numpy'")
    return rule
