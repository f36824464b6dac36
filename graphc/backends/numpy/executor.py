"""The NumPy reference executor: runs any graph node by node with each op's NumPy reference.

It is the semantic oracle that compiled code is tested against. Arithmetic follows IEEE rules
(x/0 = inf, 0/0 = nan) without warnings; `check_numerics` stops at the first non-finite value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...dtypes import is_float, type_string
from ...errors import GraphError, NumericsError
from ...ir import Graph, Node, Variable


def evaluate(
    graph: Graph,
    feeds: Mapping[Node, np.ndarray],
    step: int = 0,
    check_numerics: bool = False,
) -> list[np.ndarray]:
    """The values of `graph.outputs`, given a value for each placeholder.

    Variables are read from their stores; `step` is the call number random ops draw for.
    Intermediate values are dropped as soon as their last user has run.
    """
    remaining: dict[int, int] = {}
    for n in graph.nodes:
        for x in n.inputs:
            remaining[id(x)] = remaining.get(id(x), 0) + 1
    for o in graph.outputs:
        remaining[id(o)] = remaining.get(id(o), 0) + 1
    values: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for n in graph.nodes:
            values[id(n)] = value = _value_of(n, values, feeds, step, check_numerics)
            if check_numerics and is_float(n.dtype) and not np.isfinite(value).all():
                raise NumericsError(describe_nonfinite(n, value))
            for x in n.inputs:
                remaining[id(x)] -= 1
                if not remaining[id(x)]:
                    del values[id(x)]
    return [values[id(o)] for o in graph.outputs]


def _value_of(n: Node, values: dict[int, np.ndarray], feeds: Mapping[Node, np.ndarray], step: int,
              check_numerics: bool = False) -> np.ndarray:
    if isinstance(n, Variable):
        return n.store.array
    if n.op.numpy is None:
        if n not in feeds:
            raise GraphError(f"no value was fed for {n!r}")
        return feeds[n]
    extra: dict[str, Any] = {"step": step} if n.op.needs_step else {}
    if n.op.tuple_value:  # a loop's or a cond's graphs run here too: this call's draws, numerics checked
        extra["evaluate"] = lambda g, vals: evaluate(g, dict(zip(g.inputs, vals)), step, check_numerics)
    result = n.op.numpy(*(values[id(x)] for x in n.inputs), **n.attrs, **extra)
    if n.op.tuple_value:  # several tensors (a loop's results), each read by an item node
        return result
    result = np.asarray(result)
    if result.shape != n.shape:
        raise GraphError(
            f"op {n.op.name} computed shape {result.shape} for {n!r}: its shape rule and its"
            " NumPy reference disagree"
        )
    return result if result.dtype == n.dtype else result.astype(n.dtype)


def describe_nonfinite(n: Node, value: np.ndarray | None) -> str:
    """A NumericsError message: which node, what it computed (how many NaNs and infinities,
    when its value is at hand), and where the user made it."""
    if value is None:  # a loop's step, its value written where the next step overwrites it
        kinds = "a NaN or an infinity"
    else:
        bad = np.isnan(value).sum(), np.isinf(value).sum()
        kinds = " and ".join(f"{count} {what}" for count, what in zip(bad, ("NaN", "infinity")) if count)
    origin = " (in the derivative of a node created there)" if n.grad_of is not None else ""
    inputs = ", ".join(x.name for x in n.inputs)
    return (
        f"node {n.name} = {n.op.name}({inputs}) produced {kinds} in its {type_string(n.shape, n.dtype)}"
        f" result; expected finite values. It was created at {n.location.file}:{n.location.line}"
        f"{origin}"
    )
