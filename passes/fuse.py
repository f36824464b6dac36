"""Fusion: nodes that can share one loop nest are put in one `Group`.

A group iterates over a domain (a shape D; its last axis is the "row"). Each member has a role
in it (`role`):
- full: an elementwise node of shape D (broadcast inputs are read with zero strides);
- row: a value per row — an elementwise node of shape D[:-1]+(1,) or D[:-1], a sum along the
  last axis of a full value, or a reshape between those two forms;
- col / total: a sum of a full value over every leading axis, or over all axes; it is complete
  only when the whole loop is, so no member may read it;
- matmul: a matmul of shape D, or a convolution of shape D (`HEADS`), opening the group: BLAS
  (or the convolution's kernel) computes it, the loop is its epilogue (a bias, an activation).

Groups grow by contracting producer -> consumer edges, in node order, when every member of the
merged group has a role in one domain, no path leaves the group and comes back (through a node
or another group) and the group stays within `MAX_MEMBERS`: the groups then still form a DAG,
so they can run one after another.
Nodes left on their own are listed with the reason.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from graphc.ir import Graph, Group, Node, consumers
from graphc.ops.conv import CONV2D
from graphc.ops.linalg import MATMUL
from graphc.ops.reduction import SUM
from graphc.ops.shape import BROADCAST_TO, RESHAPE, TRANSPOSE
from graphc.printer import node_names

from .base import PassResult

_LISTED = 40  # members named in a group's note
# A group's members at most: a kernel stays quick to compile, and a long chain of layers
# becomes a run of equal kernels, compiled once.
MAX_MEMBERS = 128
HEADS = (MATMUL, CONV2D)  # ops that may open a group, computed before its loop


def role(n: Node, domain: tuple[int, ...]) -> str | None:
    """What `n` is in a loop over `domain` (see the module docstring), or None if it cannot join."""
    op = n.op
    if not domain:
        return "full" if n.op.pointwise and n.shape == () and op is not BROADCAST_TO else None
    lead, width = domain[:-1], domain[-1]
    per_row = width > 1 and n.shape in (lead + (1,), lead)
    if op is MATMUL:
        return "matmul" if n.shape == domain and n.dtype.kind == "f" and n.ndim == 2 else None
    if op is CONV2D:
        return "matmul" if n.shape == domain else None
    if op is SUM:
        (x,) = n.inputs
        if x.shape != domain or n.dtype != x.dtype or n.dtype.kind != "f":
            return None
        axes, d = set(n.attrs["axis"]), len(domain)
        if axes == {d - 1} and width > 1:
            return "row"
        if axes == set(range(d)):
            return "total"
        if d >= 2 and axes == set(range(d - 1)):
            return "col"
        return None
    if op is RESHAPE:
        return "row" if per_row and n.inputs[0].shape in (lead + (1,), lead) else None
    if not n.op.pointwise:
        return None
    if n.shape == domain:
        return "full"
    return "row" if per_row and op is not BROADCAST_TO else None


@dataclass
class _Group:
    """A growing group: its members (in no particular order), their roles in `domain`, and what
    merging needs without looking at every member: the orders of the nodes outside it that read
    a member (`external`, sorted), its last member's order and how many matmuls it holds."""

    members: list[Node]
    domain: tuple[int, ...]
    roles: dict[int, str]
    ids: set[int]
    external: list[int]
    last: int
    heads: int


def _natural_domain(n: Node) -> tuple[int, ...] | None:
    """The domain of a group holding `n` alone (None: `n` never joins a group)."""
    if n.op.kind == "leaf" or n.op is RESHAPE:
        return None
    if n.op is SUM or n.op in HEADS:
        d = n.inputs[0].shape if n.op is SUM else n.shape
        return d if role(n, d) is not None else None
    return n.shape if role(n, n.shape) == "full" else None


class _Fusion:
    """Greedy contraction of producer -> consumer edges. Each merge costs what the smaller group
    holds (its members take the larger one's place; the larger keeps its roles unless the domain
    changes), and the search for a path around the merge follows only readers ordered before
    the merge's last node: near-linear in the program however large one group grows."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.order = {id(n): i for i, n in enumerate(graph.nodes)}
        self.users = consumers(graph)
        self.name = node_names(graph)
        self.group: dict[int, _Group] = {}
        self.group_at: list[_Group | None] = [None] * len(self.nodes)  # the same, by order
        self.readers_at = [[self.order[id(u)] for u in self.users[n]] for n in self.nodes]  # by order
        self.why: dict[int, str] = {}
        for n in graph.nodes:
            d = _natural_domain(n)
            if d is not None:
                self.join(n, self.alone(n, d, role(n, d) or ""))

    def join(self, n: Node, g: _Group) -> _Group:
        self.group[id(n)] = self.group_at[self.order[id(n)]] = g
        return g

    def alone(self, n: Node, domain: tuple[int, ...], r: str) -> _Group:
        external = sorted({self.order[id(u)] for u in self.users[n]})
        return _Group([n], domain, {id(n): r}, {id(n)}, external, self.order[id(n)], int(n.op in HEADS))

    def roles_in(self, large: _Group, small: _Group, domain: tuple[int, ...]) -> dict[int, str] | str:
        """The roles in `domain` of the members of the groups whose domain it is not, or why the
        two groups cannot share a loop over it. Only edges not yet checked in `domain` are."""
        new: dict[int, str] = {}
        moved = [g for g in (large, small) if g.domain != domain]
        for g in moved:
            for m in g.members:
                r = role(m, domain)
                if r is None:
                    return f"{self.name[id(m)]} ({m.type}) has no place in a loop over {list(domain)}"
                new[id(m)] = r
        if large.heads + small.heads > 1:
            return "a group runs at most one matmul or convolution"

        def role_of(m: Node) -> str:
            return new.get(id(m)) or (large.roles.get(id(m)) or small.roles[id(m)])

        edges = [(x, m) for g in moved for m in g.members for x in m.inputs if id(x) in g.ids]
        for m in small.members:
            edges += [(x, m) for x in m.inputs if id(x) in large.ids]
            edges += [(m, u) for u in self.users[m] if id(u) in large.ids]
        for x, m in edges:
            rx, rm = role_of(x), role_of(m)
            if rx in ("col", "total"):
                return f"{self.name[id(m)]} reads {self.name[id(x)]}, a sum complete only after the whole loop"
            if rm == "matmul":
                return "a matmul can only open a group, not read from one"
            if rm == "full" and rx == "row" and x.shape != domain[:-1] + (1,):
                return f"{self.name[id(x)]} ({x.type}) would broadcast along the wrong axis"
        return new

    def other_path(self, a: _Group, b: _Group) -> Node | None:
        """A node on a path from group `a` to group `b` outside both (through any group). Such
        a path only passes nodes ordered before b's last member."""
        limit, group_at, readers_at = b.last, self.group_at, self.readers_at
        stack = [(o, o) for o in a.external[:bisect.bisect_right(a.external, limit)] if group_at[o] is not b]
        seen: set[int] = set()
        while stack:
            o, start = stack.pop()
            g = group_at[o]
            if g is not None:
                if id(g) in seen:
                    continue
                seen.add(id(g))
                following = g.external[:bisect.bisect_right(g.external, limit)]
            else:
                if ~o in seen:  # a node alone, by its order (complemented: never a group's id)
                    continue
                seen.add(~o)
                following = [r for r in readers_at[o] if r <= limit]
            for r in following:
                if group_at[r] is b:
                    return self.nodes[start]
                stack.append((r, start))
        return None

    def joining(self, n: Node, other: _Group | None) -> _Group | None:
        """The group of `n`; a reshape between two per-row forms gets one in `other`'s domain."""
        g = self.group.get(id(n))
        if g is None and other is not None and n.op is RESHAPE and role(n, other.domain) == "row":
            g = self.join(n, self.alone(n, other.domain, "row"))
        return g

    def try_merge(self, p: Node, u: Node) -> None:
        a = self.joining(p, self.group.get(id(u)))
        b = self.joining(u, a)
        if a is None or b is None or a is b:
            return
        small, large = sorted((a, b), key=lambda g: len(g.members))
        if len(small.members) + len(large.members) > MAX_MEMBERS:
            self.why.setdefault(id(p), f"its group is full ({MAX_MEMBERS} nodes at most)")
            self.why.setdefault(id(u), f"its group is full ({MAX_MEMBERS} nodes at most)")
            return
        reason = ""
        for domain in sorted({a.domain, b.domain}, key=lambda d: -math.prod(d)):
            roles = self.roles_in(large, small, domain)
            if isinstance(roles, str):
                reason = reason or roles
                continue
            through = self.other_path(a, b)
            if through is not None:
                reason = f"fusing it with {self.name[id(u)]} would loop back through {self.name[id(through)]}"
                break
            self.absorb(large, small, domain, roles)
            return
        self.why.setdefault(id(p), reason)
        self.why.setdefault(id(u), reason)

    def absorb(self, large: _Group, small: _Group, domain: tuple[int, ...], roles: dict[int, str]) -> None:
        """Merge `small` into `large`, now over `domain` with the members' new `roles`."""
        large.roles.update(small.roles)
        large.roles.update(roles)
        large.domain = domain
        large.members += small.members
        large.ids |= small.ids
        for m in small.members:
            self.join(m, large)
            at = bisect.bisect_left(large.external, self.order[id(m)])
            if at < len(large.external) and large.external[at] == self.order[id(m)]:
                del large.external[at]
        for o in small.external:
            at = bisect.bisect_left(large.external, o)
            if id(self.nodes[o]) not in large.ids and (at == len(large.external) or large.external[at] != o):
                large.external.insert(at, o)
        large.last = max(large.last, small.last)
        large.heads += small.heads

    def run(self) -> tuple[list[Group], list[str]]:
        for u in self.graph.nodes:
            for p in u.inputs:
                self.try_merge(p, u)
        unique: dict[int, _Group] = {id(g): g for g in self.group.values()}
        groups = []
        for g in unique.values():
            g.members.sort(key=lambda m: self.order[id(m)])
        for g in sorted(unique.values(), key=lambda g: self.order[id(g.members[0])]):
            if len(g.members) < 2:
                continue
            rows = any(r in ("row", "col", "total") for r in g.roles.values())
            # A matmul reads no member, so it can open the group: BLAS runs before the loop.
            members = sorted(g.members, key=lambda m: g.roles[id(m)] != "matmul")
            groups.append(Group("rows" if rows else "loop", g.domain, tuple(members)))
        return groups, self.notes(groups)

    def notes(self, groups: list[Group]) -> list[str]:
        """What was fused, and why each other computing node was not (named as the printer does)."""
        name = self.name
        lines = []
        for k, g in enumerate(groups):
            names = ", ".join(f"{m.op.name} {name[id(m)]}" for m in g.members[:_LISTED])
            if len(g.members) > _LISTED:
                names += f", ... ({len(g.members) - _LISTED} more)"
            lines.append(f"group {k} ({g.kind} over {list(g.domain)}, {len(g.members)} nodes): {names}")
        grouped = {id(m) for g in groups for m in g.members}
        for n in self.graph.nodes:
            if id(n) in grouped or n.op.kind == "leaf" or n.op.view:
                continue
            if id(n) not in self.group:
                why = "no loop fits it" if n.op.pointwise else (
                    "a view for the matmuls reading it, or a copy" if n.op is TRANSPOSE
                    else f"{n.op.name} has its own kernel")
            else:
                why = self.why.get(id(n), "no neighbour to fuse with")
            lines.append(f"unfused {n.op.name} {name[id(n)]} ({n.type}): {why}")
        return lines


def fuse(graph: Graph) -> PassResult:
    """`graph` with its fusion groups; counts groups, nodes fused, and loop nests before/after."""
    groups, notes = _Fusion(graph).run()
    computing = [n for n in graph.nodes if n.op.kind != "leaf" and not n.op.view]
    grouped = {id(m) for g in groups for m in g.members}
    stats = {"groups": len(groups), "nodes_fused": len(grouped), "loops_before": len(computing),
             "loops_after": len(groups) + sum(id(n) not in grouped for n in computing)}
    return PassResult(Graph(graph.inputs, graph.outputs, groups), stats, tuple(notes))
