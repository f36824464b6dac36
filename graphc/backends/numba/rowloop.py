"""Code for one fused group of kind "rows": one pass over the rows of its domain.

For each row (the outer loops, over every axis but the last) the group runs a short program of
steps, planned once: per-row values (scalars: elementwise ops on per-row shapes, and sums along
the row), and inner loops over the row computing every full-shape member that is ready, in one
loop. Column sums accumulate in the inner loops; total sums add up row sums. A full-shape value
read by a later step is kept for the row: in its own buffer if others need it anyway, else in a
scratch row of the arena, which stays in L1 — the big arrays are read from memory once.

Row sums call `sum_run` (vectorized, float64 accumulation) on the stored row.
"""

from __future__ import annotations

from typing import Any

from ...ir import Group, Node
from ...ops.reduction import SUM
from ...ops.shape import RESHAPE
from ...passes.fuse import role
from .emit import Buf, Scalar, accumulator_dtype, c_strides, dtype_name, linear
from .lowerings import scalar_of


class RowLoop:
    """Emits `members` of `group` (a matmul head already emitted) storing `stores`."""

    def __init__(self, lo: Any, group: Group, members: list[Node], stores: dict[int, Buf]) -> None:
        self.lo, self.em = lo, lo.em
        self.domain = group.domain
        self.lead, self.width = self.domain[:-1], self.domain[-1]
        self.members, self.stores = members, stores
        self.roles = {id(m): role(m, self.domain) for m in members}
        self.inside = {id(m) for m in members}
        self.steps = self.plan()
        self.values: dict[int, str] = {}  # per-row scalars, by node id
        self.scratch: dict[int, Buf] = {}  # full-shape values kept for the row
        self.row_terms: list[tuple[str, int]] = []

    def plan(self) -> list[tuple[str, list[Node]]]:
        """Steps per row: ("row", [m]) computes one per-row value, ("loop", ms) one inner loop."""
        done: set[int] = set()
        remaining = list(self.members)
        steps: list[tuple[str, list[Node]]] = []
        while remaining:
            progress = False
            for m in remaining:
                if self.roles[id(m)] in ("row", "total") and all(
                        id(x) not in self.inside or id(x) in done for x in m.inputs):
                    steps.append(("row", [m]))
                    done.add(id(m))
                    progress = True
            loop: list[Node] = []
            opened: set[int] = set()
            for m in remaining:
                if id(m) not in done and self.roles[id(m)] in ("full", "col") and all(
                        id(x) not in self.inside or id(x) in done or id(x) in opened for x in m.inputs):
                    loop.append(m)
                    opened.add(id(m))
            if loop:
                steps.append(("loop", loop))
                done |= opened
                progress = True
            assert progress, "a fused group whose members wait on each other"
            remaining = [m for m in remaining if id(m) not in done]
        return steps

    def kept_for_row(self) -> set[int]:
        """Full-shape members read by a step after the one computing them."""
        step_of = {id(m): k for k, (_, ms) in enumerate(self.steps) for m in ms}
        kept = set()
        for k, (_, ms) in enumerate(self.steps):
            for m in ms:
                for x in m.inputs:
                    if id(x) in self.inside and self.roles[id(x)] == "full" and step_of[id(x)] != k:
                        kept.add(id(x))
                    if self.roles[id(m)] in ("row", "total") and m.op is SUM and id(x) in self.inside:
                        kept.add(id(x))
        return kept

    def emit(self) -> None:
        em = self.em
        kept = self.kept_for_row()
        for m in self.members:
            if id(m) in kept and id(m) not in self.stores:
                self.scratch[id(m)], _ = self.lo._allocate((self.width,), m.dtype)
        totals: dict[int, str] = {}
        for m in self.members:
            if self.roles[id(m)] == "col":
                em.fill(self.stores[id(m)], em.const(0, m.dtype))
            elif self.roles[id(m)] == "total":
                totals[id(m)] = em.fresh("total")
                em.line(f"{totals[id(m)]} = {em.const(0, accumulator_dtype('sum', m.dtype))}")
        with em.loops(list(self.lead), prefix="r") as names:
            self.row_terms = list(zip(names, c_strides(self.lead)))
            for kind, ms in self.steps:
                if kind == "row":
                    self.row_value(ms[0], totals)
                else:
                    self.inner_loop(ms)
        for node_id, total in totals.items():
            m = next(m for m in self.members if id(m) == node_id)
            em.line(f"{self.stores[node_id].item('0')} = {dtype_name(m.dtype)}({total})")

    # Addresses.
    def row_start(self, buf: Buf) -> str:
        """Where the current row of full-shape `buf` starts."""
        return linear(buf.offset, [(n, s * self.width) for n, s in self.row_terms])

    def load(self, buf: Buf, shape: tuple[int, ...], names: list[str]) -> str:
        """A fresh scalar: `buf` broadcast to `shape`, at loop variables `names` (one per axis)."""
        padded = (1,) * (len(shape) - len(buf.shape)) + buf.shape
        terms = [(n, s) for n, s, d in zip(names, c_strides(padded), padded) if d != 1]
        s = self.em.fresh("s")
        self.em.line(f"{s} = {buf.base}[{linear(buf.offset, terms)}]")
        return s

    def outside(self, x: Node) -> Buf:
        buf = self.lo.touch(self.lo.arrays[id(x)])
        assert not buf.swapped, f"{x!r} reaches a fused loop as a transposed view"
        return buf

    def kept_row(self, x: Node) -> tuple[Buf, str]:
        """The array holding full-shape member `x` for the current row, and where the row starts."""
        if id(x) in self.stores:
            buf = self.stores[id(x)]
            return buf, self.row_start(buf)
        buf = self.scratch[id(x)]
        return buf, str(buf.offset)

    # Steps.
    def row_value(self, m: Node, totals: dict[int, str]) -> None:
        em, lo = self.em, self.lo
        if m.op is SUM:
            (x,) = m.inputs
            if id(x) in self.inside:
                buf, start = self.kept_row(x)
            else:
                buf = lo.array_of(x)
                assert buf.shape == self.domain and not buf.swapped
                start = self.row_start(buf)
            total = f"sum_run({buf.base}, {start}, {self.width})"
            if id(m) in totals:
                em.line(f"{totals[id(m)]} += {total}")
                return
            value = f"{dtype_name(m.dtype)}({total})"
        elif m.op is RESHAPE:  # between the two per-row forms: the input is read as is
            value = self.row_input(m.inputs[0], m.inputs[0].shape)
        else:
            c = Scalar(em, m.dtype, tuple(x.dtype for x in m.inputs))
            expr = scalar_of(m.op)(c, *(self.row_input(x, m.shape) for x in m.inputs), **m.attrs)
            value = f"{dtype_name(m.dtype)}({expr})"
        t = em.fresh("v")
        em.line(f"{t} = {value}")
        self.values[id(m)] = t
        if id(m) in self.stores:
            buf = self.stores[id(m)]
            em.line(f"{buf.base}[{linear(buf.offset, self.row_terms)}] = {t}")

    def row_input(self, x: Node, shape: tuple[int, ...]) -> str:
        """The current row's scalar of `x`, broadcast (NumPy-style, right-aligned) to `shape`,
        one of the two per-row forms: lead or lead + (1,)."""
        if id(x) in self.lo.literals:
            return self.lo.literal(x)
        if id(x) in self.inside:
            return self.values[id(x)]
        names = [n for n, _ in self.row_terms] + ["0"] * (len(shape) - len(self.lead))
        return self.load(self.outside(x), shape, names)

    def inner_loop(self, ms: list[Node]) -> None:
        em = self.em
        with em.loops([self.width], prefix="c") as (c,):
            local: dict[int, str] = {}

            def scalar(x: Node) -> str:
                if id(x) in self.lo.literals:
                    return self.lo.literal(x)
                if id(x) not in local:
                    if id(x) in self.inside and self.roles[id(x)] == "row":
                        return self.values[id(x)]
                    if id(x) in self.inside:  # computed by an earlier inner loop
                        buf, start = self.kept_row(x)
                        local[id(x)] = em.fresh("s")
                        em.line(f"{local[id(x)]} = {buf.base}[{linear(start, [(c, 1)])}]")
                    else:
                        local[id(x)] = self.load(self.outside(x), self.domain, [n for n, _ in self.row_terms] + [c])
                return local[id(x)]

            for m in ms:
                if self.roles[id(m)] == "col":
                    acc = self.stores[id(m)]
                    at = f"{acc.base}[{linear(acc.offset, [(c, 1)])}]"
                    em.line(f"{at} = {dtype_name(m.dtype)}({at} + {scalar(m.inputs[0])})")
                    continue
                ctx = Scalar(em, m.dtype, tuple(x.dtype for x in m.inputs))
                expr = scalar_of(m.op)(ctx, *(scalar(x) for x in m.inputs), **m.attrs)
                t = em.fresh("t")
                em.line(f"{t} = {dtype_name(m.dtype)}({expr})")
                local[id(m)] = t
                if id(m) in self.stores:
                    buf = self.stores[id(m)]
                    em.line(f"{buf.base}[{linear(self.row_start(buf), [(c, 1)])}] = {t}")
                elif id(m) in self.scratch:
                    buf = self.scratch[id(m)]
                    em.line(f"{buf.base}[{linear(buf.offset, [(c, 1)])}] = {t}")
