"""The graph IR: immutable nodes, graphs of inputs and outputs, ordering and verification.

Invariants (checked by `verify`):
- a node never changes after creation; its shape and dtype are what its op's rule infers from
  its inputs and attributes;
- a graph's nodes are exactly those reachable from its outputs, every placeholder among them is
  one of its inputs, and no node id repeats;
- `topological_order` never recurses, so graphs of any depth can be ordered.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import numpy as np

from .dtypes import type_string
from .errors import GraphError
from .feeds import check_feed
from .opdef import REGISTRY
from .operators import Operators
from .source import Location

_ids = itertools.count(1)


def nodes_created() -> int:
    """A counter that grows by at least one per node created (for passes' "nodes_added")."""
    return next(_ids)


class Node(Operators):
    """One value of a graph: `op` applied to `inputs` with `attrs`. Immutable.

    `location` is where the user's code created it; `grad_of` is the id of the forward node a
    derivative node helps differentiate (None for nodes the user wrote).
    """

    __slots__ = ("op", "inputs", "attrs", "shape", "dtype", "label", "location", "id", "grad_of")

    op: Any  # an OpDef; typed loosely to keep the IR free of the op library
    inputs: tuple[Node, ...]
    attrs: Mapping[str, Any]
    shape: tuple[int, ...]
    dtype: np.dtype
    label: str | None
    location: Location
    id: int
    grad_of: int | None

    def __init__(
        self,
        op: Any,
        inputs: Sequence[Node],
        attrs: Mapping[str, Any],
        shape: tuple[int, ...],
        dtype: np.dtype,
        location: Location,
        label: str | None = None,
        grad_of: int | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "op", op)
        init(self, "inputs", tuple(inputs))
        init(self, "attrs", MappingProxyType(dict(attrs)))
        init(self, "shape", tuple(int(d) for d in shape))
        init(self, "dtype", np.dtype(dtype))
        init(self, "label", label)
        init(self, "location", location)
        init(self, "id", next(_ids))
        init(self, "grad_of", grad_of)

    def __setattr__(self, name: str, value: Any) -> None:
        raise GraphError(f"nodes are immutable: cannot set {name!r} of {self!r}")

    __hash__ = object.__hash__

    @property
    def name(self) -> str:
        """The user's name for this tensor, or `<op>_<id>`."""
        return self.label if self.label is not None else f"{self.op.name}_{self.id}"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def type(self) -> str:
        return type_string(self.shape, self.dtype)

    def __repr__(self) -> str:
        return f"<graphc.Tensor {self.name}: {self.type} at {self.location}>"

    def __bool__(self) -> bool:
        raise GraphError(
            f"a symbolic tensor has no truth value ({self!r}); "
            "use gc.where for a choice made at run time"
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise GraphError(
            f"a symbolic tensor has no value to make an array of ({self!r}): compile a function that"
            " outputs it (gc.compile) and call it, or build the model on eager tensors"
        )

    def __len__(self) -> int:
        if not self.shape:
            raise GraphError(f"len() of a 0-d tensor ({self!r})")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]


# Held for every compiled step and every read or write of a variable's value: a variable
# shared by several functions is only ever seen between whole steps.
STEP_LOCK = threading.RLock()
# A child forked while another thread held it would wait for that thread forever: it starts free.
os.register_at_fork(after_in_child=STEP_LOCK._at_fork_reinit)  # type: ignore[attr-defined]


class VariableStore:
    """The mutable value behind a variable node, shared by every function that uses it."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


class Variable(Node):
    """A stateful parameter. The node is immutable; its value lives in `store`."""

    __slots__ = ("store",)
    store: VariableStore

    def __init__(self, op: Any, array: np.ndarray, location: Location, label: str | None) -> None:
        attrs = {"shape": array.shape, "dtype": array.dtype}
        super().__init__(op, (), attrs, array.shape, array.dtype, location, label)
        object.__setattr__(self, "store", VariableStore(array))

    @property
    def value(self) -> np.ndarray:
        """A copy of the current value."""
        with STEP_LOCK:
            return self.store.array.copy()

    def assign(self, value: Any) -> None:
        """Overwrite the value; `value` must have this variable's shape and a dtype that fits."""
        array = check_feed(value, self.shape, self.dtype, f"variable {self.name!r}", floats_convert=False)
        with STEP_LOCK:
            self.store.array = array.copy()

    def __repr__(self) -> str:
        return f"<graphc.variable {self.name}: {self.type} at {self.location}>"


class HasInputs(Protocol):
    @property
    def inputs(self) -> Sequence[Any]: ...


T = TypeVar("T", bound=HasInputs)


def topological_order(outputs: Iterable[T]) -> list[T]:
    """Every node reachable from `outputs`, each after its inputs; deterministic; no recursion.

    Works for any objects with an `inputs` sequence (graph nodes and eager tensors alike).
    """
    order: list[T] = []
    done: set[int] = set()
    for root in outputs:
        if id(root) in done:
            continue
        stack: list[tuple[T, int]] = [(root, 0)]
        on_stack = {id(root)}
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                child = node.inputs[i]
                if id(child) in done:
                    continue
                if id(child) in on_stack:
                    raise GraphError(f"the graph has a cycle through {child!r}")
                stack.append((child, 0))
                on_stack.add(id(child))
            else:
                stack.pop()
                on_stack.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


@dataclass(frozen=True, eq=False)
class Group:
    """Nodes the fusion pass puts in one loop nest over `domain` (members in topological order).

    `kind` is "loop" (elementwise members of shape `domain`), or "rows" (also per-row values,
    row reductions along the last axis, and column or total reductions that complete when the
    loop does). A group may open with a matmul whose result the loop reads: its epilogue.
    """

    kind: str
    domain: tuple[int, ...]
    members: tuple[Node, ...]

    def __contains__(self, n: object) -> bool:
        return any(m is n for m in self.members)


_formatter: Any = None  # Graph -> text, lent by graphc.printer (one layer up; see use_formatter)


def use_formatter(format_graph: Any) -> None:
    """Make `str(graph)` the printer's text of the graph."""
    global _formatter
    _formatter = format_graph


class Graph:
    """Placeholders in, nodes out. Its nodes are those reachable from `outputs`; `groups` are
    the fusion pass's loop nests (nodes in no group are computed on their own)."""

    __slots__ = ("inputs", "outputs", "groups", "_nodes")

    def __init__(self, inputs: Iterable[Node], outputs: Iterable[Node], groups: Iterable[Group] = ()) -> None:
        self.inputs: tuple[Node, ...] = tuple(inputs)
        self.outputs: tuple[Node, ...] = tuple(outputs)
        self.groups: tuple[Group, ...] = tuple(groups)
        self._nodes: list[Node] | None = None

    @classmethod
    def of(cls, outputs: Iterable[Node]) -> Graph:
        """The graph computing `outputs`, with every placeholder they need as an input."""
        order = topological_order(outputs)
        graph = cls([n for n in order if n.op.leaf == "fed"], outputs)
        graph._nodes = order
        return graph

    @property
    def nodes(self) -> list[Node]:
        """All nodes in topological order (computed once; the graph never changes)."""
        if self._nodes is None:
            self._nodes = topological_order(self.outputs)
        return self._nodes

    @property
    def variables(self) -> list[Variable]:
        return [n for n in self.nodes if isinstance(n, Variable)]

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        if _formatter is None:
            raise GraphError("printing a graph needs graphc.printer; import graphc (not only graphc.ir)")
        return _formatter(self)


def placeholders_among(roots: Sequence[Node], known: Sequence[Node] = ()) -> tuple[Node, ...]:
    """Placeholders that `roots` depend on, in order of first use, leaving out `known` ones."""
    seen = {id(p) for p in known}
    return tuple(n for n in topological_order(roots) if n.op.leaf == "fed" and id(n) not in seen)


def consumers(graph: Graph) -> dict[Node, list[Node]]:
    """For each node, the nodes that use it as an input (in topological order, with repeats)."""
    users: dict[Node, list[Node]] = {n: [] for n in graph.nodes}
    for n in graph.nodes:
        for i in n.inputs:
            users[i].append(n)
    return users


def verify(graph: Graph) -> None:
    """Check every invariant of `graph`; raise GraphError listing all that fail."""
    problems: list[str] = []
    input_ids = {id(p) for p in graph.inputs}
    if len(input_ids) != len(graph.inputs):
        problems.append("an input placeholder is listed twice")
    for p in graph.inputs:
        if not isinstance(p, Node) or p.op.leaf != "fed":
            problems.append(f"input {p!r} is not a placeholder")
    for o in graph.outputs:
        if not isinstance(o, Node):
            problems.append(f"output {o!r} is not a node")
    if problems:
        raise GraphError("invalid graph: " + "; ".join(problems))
    seen_ids: set[int] = set()
    for n in graph.nodes:
        if n.id in seen_ids:
            problems.append(f"node id {n.id} repeats")
        seen_ids.add(n.id)
        if n.op.name not in REGISTRY or REGISTRY[n.op.name] != n.op:
            problems.append(f"{n!r}: op {n.op.name!r} is not the registered op of that name")
            continue
        if n.op.arity is not None and len(n.inputs) != n.op.arity:
            problems.append(f"{n!r}: {n.op.name} takes {n.op.arity} inputs, has {len(n.inputs)}")
            continue
        if n.op.leaf == "fed" and id(n) not in input_ids:
            problems.append(f"{n!r} is used but is not an input of the graph")
        if n.op.leaf == "state" and not isinstance(n, Variable):
            problems.append(f"{n!r} is a variable node without a value")
        try:
            shape, dtype = n.op.infer(*n.inputs, **n.attrs)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            problems.append(f"{n!r}: its shape rule now fails: {exc}")
            continue
        if tuple(shape) != n.shape or np.dtype(dtype) != n.dtype:
            problems.append(
                f"{n!r}: recorded {n.type} but its rule gives {type_string(tuple(shape), dtype)}"
            )
    problems += _group_problems(graph)
    if problems:
        raise GraphError("invalid graph:\n  " + "\n  ".join(problems))


def schedule(graph: Graph) -> list[Node | Group]:
    """Nodes and groups in an order where everything comes after what it reads (a group as a
    whole); raises GraphError if the groups make that impossible (a cycle between groups)."""
    group_of = {id(m): g for g in graph.groups for m in g.members}
    units: list[Node | Group] = []
    seen: set[int] = set()
    for n in graph.nodes:
        g = group_of.get(id(n))
        unit: Node | Group = n if g is None else g
        if id(unit) not in seen:
            seen.add(id(unit))
            units.append(unit)
    index = {id(u): i for i, u in enumerate(units)}

    def unit_of(n: Node) -> int:
        return index[id(group_of.get(id(n), n))]

    users: list[set[int]] = [set() for _ in units]
    waiting = [0] * len(units)
    for n in graph.nodes:
        b = unit_of(n)
        for x in n.inputs:
            a = unit_of(x)
            if a != b and b not in users[a]:
                users[a].add(b)
                waiting[b] += 1
    # Kahn's algorithm. Among the ready units (the earliest 64 in node order), the one that
    # leaves the fewest bytes alive runs first: what it writes for others, less what it reads
    # for the last time. A backward pass then takes each gradient as soon as it can and lets
    # the values it read die, instead of following the outputs' order.
    reads: list[list[Node]] = [[] for _ in units]
    pending: dict[int, set[int]] = {}  # id of a value read -> the units reading it not run yet
    for u, unit in enumerate(units):
        members = unit.members if isinstance(unit, Group) else (unit,)
        inside = {id(m) for m in members}
        outside = {id(x): x for m in members for x in m.inputs if id(x) not in inside}
        reads[u] = list(outside.values())
        for x in reads[u]:
            pending.setdefault(id(x), set()).add(u)
    kept = {id(o) for o in graph.outputs}
    written = [_bytes(unit) for unit in units]
    # Ties go to the later layer's gradient: the forward node a derivative node was made for
    # (`grad_of`, an id in the order the forward pass was built) is the backward pass's clock.
    late = [-max((m.grad_of or 0) for m in (unit.members if isinstance(unit, Group) else (unit,))) for unit in units]
    stored = {id(x): x.size * x.dtype.itemsize for xs in reads for x in xs if x.op.leaf is None and id(x) not in kept}
    # freed[u]: the bytes of the values u is the last unit left to read (kept as units run).
    freed = [sum(stored.get(id(x), 0) for x in reads[u] if len(pending[id(x)]) == 1) for u in range(len(units))]

    ready = [u for u in range(len(units)) if not waiting[u]]
    heapq.heapify(ready)
    order: list[Node | Group] = []
    while ready:
        window = heapq.nsmallest(64, ready)
        u = min(window, key=lambda c: (written[c] - freed[c], late[c], c))
        ready.remove(u)
        heapq.heapify(ready)
        order.append(units[u])
        for x in reads[u]:
            left = pending[id(x)]
            left.discard(u)
            if len(left) == 1 and id(x) in stored:
                freed[next(iter(left))] += stored[id(x)]
        for v in users[u]:
            waiting[v] -= 1
            if not waiting[v]:
                heapq.heappush(ready, v)
    if len(order) != len(units):
        raise GraphError("invalid graph: its fusion groups depend on each other in a cycle")
    return order


def _bytes(unit: Node | Group) -> int:
    members = unit.members if isinstance(unit, Group) else (unit,)
    return sum(m.size * m.dtype.itemsize for m in members if m.op.leaf is None and not m.op.view)


def _group_problems(graph: Graph) -> list[str]:
    problems = []
    nodes = {id(n) for n in graph.nodes}
    owner: dict[int, int] = {}
    for k, g in enumerate(graph.groups):
        for m in g.members:
            if id(m) not in nodes:
                problems.append(f"group {k}: member {m!r} is not in the graph")
            if id(m) in owner:
                problems.append(f"{m!r} is in groups {owner[id(m)]} and {k}")
            owner[id(m)] = k
    if not problems and graph.groups:
        try:
            schedule(graph)
        except GraphError as exc:
            problems.append(str(exc))
    return problems
