"""The gradient-flow view of a training step: how large each parameter's gradient is, and how
many units of each ReLU were zero for the whole batch (dead: no gradient reaches their inputs).

`flow_outputs` builds the scalars as extra outputs of the step's own graph, so the compiled
program computes them with everything else (two small reductions each, fused); `GradientFlow`
holds their values after a step. The vanishing-gradient and dead-ReLU stories, made visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..errors import GraphError
from ..ir import Graph, Node
from ..ops.elementwise import RELU
from ..printer import node_names
from .pictures import stable_names


def flow_outputs(outputs: Sequence[Node], updates: Mapping[Any, Any] | None) -> list[tuple[str, str, Node]]:
    """(kind, label, scalar node): "norm" per parameter, "dead" per ReLU with a batch axis."""
    gradients = getattr(updates, "gradients", None)
    if not gradients:
        raise GraphError(
            "gradient_flow=True needs a training step whose updates come from gc.optim (sgd, momentum, adam), "
            "which record each parameter's gradient"
        )
    labels = stable_names(Graph.of(list(gradients)))  # parameters of one name get #2, #3...
    flow = [("norm", labels[id(p)], ops.sqrt(ops.sum(ops.cast(g, "float64") ** 2.0))) for p, g in gradients.items()]
    graph = Graph.of(list(outputs) + list(gradients.values()))
    names = node_names(graph)
    for n in graph.nodes:
        if n.op is RELU and n.grad_of is None and n.ndim >= 2:
            x = n.inputs[0]
            dead = ops.cast(ops.max(x, axis=0) <= 0.0, "float64")  # zero for every example of the batch
            where = f" at {n.location}" if n.location.line else ""
            flow.append(("dead", f"{names[id(n)]} = relu{where}", ops.mean(dead)))
    return flow


@dataclass(frozen=True)
class GradientFlow:
    """After step `step`: the norm of each parameter's gradient, by parameter name, and the
    fraction of dead units of each ReLU, by its name and line."""

    step: int
    gradient_norms: dict[str, float]
    dead_relu: dict[str, float]

    @classmethod
    def of(cls, step: int, flow: Sequence[tuple[str, str, Node]], values: Sequence[np.ndarray]) -> GradientFlow:
        norms = {label: float(v) for (kind, label, _), v in zip(flow, values) if kind == "norm"}
        dead = {label: float(v) for (kind, label, _), v in zip(flow, values) if kind == "dead"}
        return cls(step, norms, dead)

    def __str__(self) -> str:
        lines = [f"gradient flow after step {self.step}:"]
        lines += [f"  |grad {name}| = {value:.4g}" for name, value in self.gradient_norms.items()]
        lines += [f"  dead units of {name}: {value:.1%}" for name, value in self.dead_relu.items()]
        return "\n".join(lines)
