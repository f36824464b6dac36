"""The NumPy back end: the reference executor running a program node by node."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Sequence

import numpy as np

from ...errors import GraphcError
from ...ir import Graph, Node, Variable
from .executor import evaluate


class ReferenceProgram:
    """A program run by the NumPy reference executor: the oracle every other back end is
    compared with. `graph.outputs` are the outputs followed by the updates' new values."""

    def __init__(self, graph: Graph, updates: Sequence[tuple[Variable, Node]], check_numerics: bool) -> None:
        self.graph, self.updates, self.check_numerics = graph, list(updates), check_numerics
        self.n_outputs = len(graph.outputs) - len(self.updates)

    def __call__(self, feeds: list[np.ndarray], step: int) -> list[np.ndarray]:
        """One step on `feeds` (in placeholder order); variables take their new values (copies)."""
        values = evaluate(self.graph, dict(zip(self.graph.inputs, feeds)), step, self.check_numerics)
        new = [np.array(v, dtype=var.dtype, order="C") for (var, _), v in zip(self.updates, values[self.n_outputs:])]
        # Every variable takes its copy in one loop run by C, which Ctrl-C cannot split (Python
        # looks for signals between bytecodes): all of them change, or none.
        collections.deque(map(setattr, [var.store for var, _ in self.updates], itertools.repeat("array"), new), maxlen=0)
        return [np.array(v) for v in values[:self.n_outputs]]

    def run_many(self, stacked: list[np.ndarray], n_steps: int, step0: int) -> list[np.ndarray]:
        """`n_steps` steps, feeds and outputs stacked along a new first axis."""
        results = []
        for t in range(n_steps):
            try:
                results.append(self([f[t] for f in stacked], step0 + t))
            except GraphcError as exc:
                raise type(exc)(f"{exc.detail} (step {t} of run_many)") from None
        return [np.stack([r[i] for r in results]) for i in range(len(results[0]))]
