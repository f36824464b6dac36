"""Lowering a graph to kernels: Python source for Numba (nopython mode only), run in order.

A kernel is one unit of the schedule (a fused group, a node with its own loop or kernel, a BLAS
call, an update, a copy into the arena), written so that it holds nothing of its program: the
arrays it reads and writes outside the arena are parameters `arg<n>`, its arena buffers'
offsets parameters `off<n>`, its constants its own. Two programs (or two layers of one) with
the same computation on the same shapes have the same kernel text, compiled once.

Every shape is static and written into the source. Each node becomes one of:
- an argument: placeholders (fed), variables (their arrays, updated in place), array constants,
  each passed as a flat 1-D view;
- a literal: 0-d constants and fills, used inline as typed scalars;
- a view: an op declared a `view` (reshape) re-describes its input's data, at no cost;
- a buffer: a stretch of one byte arena, filled by a loop nest (pointwise ops, with their
  registered scalar lowerings) or by the op's registered kernel lowering;
- a cond: a kernel writing its predicate for the driver, then its two branches' kernels
  between three markers; the driver runs one branch (see `graphc.backends.numba.driver`);
- a loop: its body's kernels, emitted once between two markers that the driver runs once per
  step (see `graphc.backends.numba.driver`). The body reads its carries from buffers set before
  the first step and rewritten at the end of each, its step's xs through slices named `L<n>`
  (the array, shifted by the step's index when the kernel starts), and writes its step's ys
  into slices of their stacks. Its kernels do not depend on the step count.
Outputs and new variable values always live in the arena, so updates are written after
everything else is computed, and a failing call (status set, early return) changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ...builder import CONSTANT
from ...ir import Graph, Group, Node, Variable, consumers, schedule
from ...ops.conditional import COND, Branches
from ...ops.elementwise import ADD, MULTIPLY, SUBTRACT
from ...ops.leaves import FULL
from ...ops.linalg import MATMUL
from ...ops.loop import Body
from ...ops.shape import BROADCAST_TO, TRANSPOSE
from ...passes.fuse import HEADS
from ...passes.memory_plan import Lifetime, MemoryPlan, aligned, check_plan, plan_memory
from ...passes.simplify import constant_value
from ...printer import node_names
from .driver import COND_BEGIN, COND_ELSE, COND_END, G_PRED, LOOP_BEGIN, LOOP_END, MAX_DEPTH
from .emit import Buf, Emitter, Scalar, broadcast_loops, dtype_name, linear
from .lowerings import OUT_OF_RANGE, STATUS_NUMERICS, NoLowering, kernel_of, view_of
from .lowerings import scalar_of as scalar_rule
from .ops import REGISTERED  # noqa: F401 - the ops' lowerings, registered on import
from .rowloop import RowLoop

ALIGN = 64
# Prove every memory plan sound as it is made (the test suite sets GRAPHC_CHECK_PLANS=1).
CHECK_PLANS = os.environ.get("GRAPHC_CHECK_PLANS") == "1"


@dataclass(frozen=True)
class Slot:
    """A buffer's place in the arena: byte offset, shape, dtype."""

    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


# Names in emitted code that belong to the program: its arrays and its arena buffers.
_PROGRAM_NAME = re.compile(r"\b(?:(?:in|var|const)[0-9]+|[BL][0-9]+)\b")
_ARENA_NAME = re.compile(r"B([0-9]+)")


@dataclass(frozen=True)
class Kernel:
    """One unit of the program as code that holds nothing of the program.

    `body` are the kernel's lines, one level in, reading `step`, `status` and its arrays
    `arg<n>`: `arrays[n]` is which (a program array's name, `in0`, `var2`, `const1`, or the key
    of an arena buffer), its dtype and size. Where an array lives is no concern of the kernel's:
    a layer reading a feed and one reading a buffer run the same kernel."""

    body: tuple[str, ...]
    constants: tuple[str, ...]  # module-level typed constants the body uses
    arrays: tuple[tuple[str | int, np.dtype, int], ...]
    notes: tuple[str, ...]  # what it computes and where the user wrote it (comments)
    sites: tuple[int, ...]  # per failure site: the index of the node it reports
    # Arrays read at a loop's step: (array index, element offset, ((loop depth, elements per step), ...)).
    shifts: tuple[tuple[int, int, tuple[tuple[int, int], ...]], ...] = ()
    control: tuple[int, ...] = ()  # a loop's marker (no code): its words for the driver
    depth: int = 0  # the loops around it


@dataclass
class LoweredProgram:
    """The kernels in the order they run, and what the runtime needs to run them."""

    kernels: list[Kernel]
    placeholders: list[Node]
    variables: list[Variable]
    constants: list[np.ndarray]
    nodes: list[Node]  # by the index that status reports carry
    outputs: list[Slot]  # the user's outputs, in order
    slots: dict[int, Slot]  # node id -> its arena buffer
    arena_bytes: int
    memory: MemoryPlan  # where each buffer lives, and the figures to judge the plan by
    buffers: list[tuple[str, int, int, int, int]]  # (what, offset, bytes, first step, last step)
    free: dict[int, str]  # node id -> how a node that runs no code of its own is had (views...)
    at_end: set[int]  # ids of update values computed last, straight into their variables
    steps: int  # the number of steps buffers' lifetimes count in


def arena_key(buf: Buf) -> int | None:
    """The key of the arena buffer holding `buf`'s data (None: data outside the arena)."""
    match = _ARENA_NAME.fullmatch(buf.base)
    return int(match.group(1)) if match else None


class _Lowering:
    def __init__(self, graph: Graph, n_outputs: int, updates: Sequence[tuple[Variable, Node]], check: bool):
        self.graph, self.check = graph, check
        self.outputs = list(graph.outputs[:n_outputs])
        self.updates = list(updates)
        self.arrays: dict[int, Buf] = {}  # node id -> its data
        self.literals: dict[int, tuple[object, np.dtype]] = {}  # node id -> its value and dtype
        # Arena buffers, by key: shape and dtype, and the first and last step that use them.
        self.buffers: list[tuple[tuple[int, ...], np.dtype]] = []
        self.born: list[int] = []
        self.last: list[int] = []
        self.step = 0
        self.slots: dict[int, int] = {}  # node id -> key of its buffer
        self.reuses: dict[int, int] = {}  # buffer key -> key of a buffer whose place it may take
        self.free: dict[int, str] = {}  # node id -> how it is had without code of its own
        self.own: dict[int, int] = {}  # outputs and update values -> key of their arena buffer
        self.em = self._emitter()
        # Each kernel as emitted: its lines, constants, comments, failure sites, marker words, loop depth.
        self.emitted: list[tuple[list[str], tuple[str, ...], tuple[str, ...], tuple[int, ...], tuple[int, ...], int]] = []
        self.placeholders = list(graph.inputs)
        self.variables: list[Variable] = []
        self.constants: list[np.ndarray] = []
        self.nodes = list(graph.nodes)  # and loops' body nodes after them: what status reports index
        self.index = {id(n): i for i, n in enumerate(graph.nodes)}
        # Slices `L<n>` of arrays at a loop's step: base name, element offset, (depth, stride) terms, shape, dtype.
        self.slices: list[tuple[str, int, tuple[tuple[int, int], ...], tuple[int, ...], np.dtype]] = []
        self.depth = 0  # loops around the code being emitted
        self.loop_results: dict[int, list[tuple[Buf, int] | None]] = {}  # loop id -> each element's data and key
        self.inner_slots: dict[int, int] = {}  # body node id -> key of its buffer (for reports)
        self.accumulating: dict[int, Node] = {}  # group id -> the carry its gemm adds into
        self.into: dict[int, Buf] = {}  # node id -> where its value is written, chosen before (a loop's y)
        self.users = consumers(graph)
        self.results = {id(o) for o in graph.outputs}
        self.group_of = {id(m): g for g in graph.groups for m in g.members}

    def _emitter(self) -> Emitter:
        return Emitter(scratch=lambda shape, dtype: self._allocate(shape, dtype)[0])

    @contextlib.contextmanager
    def kernel(self) -> Iterator[Emitter]:
        """Emit one kernel: what is written in the block, bound to parameters of its own."""
        self.em = self._emitter()
        yield self.em
        code = [line for line in self.em.lines if not line.lstrip().startswith("#")]
        if code:
            notes = tuple(line.strip()[2:] for line in self.em.lines if line.lstrip().startswith("#"))
            self.emitted.append((code, tuple(self.em.constant_definitions()), notes, tuple(self.em.sites), (), self.depth))

    def marker(self, words: tuple[int, ...], note: str) -> int:
        """Emit a loop's marker (a kernel of no code); its index among the kernels."""
        self.step += 1
        self.emitted.append(([], (), (note,), (), words, self.depth))
        return len(self.emitted) - 1

    def bind(self, code: list[str], constants: tuple[str, ...], notes: tuple[str, ...], sites: tuple[int, ...],
             control: tuple[int, ...], depth: int, same: dict[int, int]) -> Kernel:
        """An emitted kernel with the program's names made its parameters. Buffers that share
        their place (`same`: written in place of one another) are one parameter, so that LLVM
        sees one array read and written at one index, not two that might overlap."""
        arrays: list[tuple[str | int, np.dtype, int]] = []
        params: dict[str, str] = {}
        shifts: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []

        def what(name: str) -> str | int:
            return same.get(int(name[1:]), int(name[1:])) if name.startswith("B") else name

        def param(match: re.Match[str]) -> str:
            name = match.group(0)
            if name.startswith("B"):
                name = f"B{what(name)}"
            if name not in params:
                params[name] = f"arg{len(arrays)}"
                if name.startswith("B"):
                    shape, dt = self.buffers[int(name[1:])]
                    arrays.append((int(name[1:]), dt, int(np.prod(shape, dtype=np.int64))))
                elif name.startswith("L"):
                    base, offset, terms, shape, dt = self.slices[int(name[1:])]
                    shifts.append((len(arrays), offset, terms))
                    arrays.append((what(base), dt, int(np.prod(shape, dtype=np.int64))))
                else:
                    arrays.append((name, *self.array_type(name)))
            return params[name]

        body = tuple(_PROGRAM_NAME.sub(param, line) for line in code)
        return Kernel(body, constants, tuple(arrays), notes, sites, tuple(shifts), control, depth)

    def array_type(self, name: str) -> tuple[np.dtype, int]:
        """The dtype and size of program array `name` (in3, var0, const2)."""
        kind, at = re.fullmatch(r"([a-z]+)([0-9]+)", name).groups()  # type: ignore[union-attr]
        arrays: dict[str, Sequence[Node | np.ndarray]] = {"in": self.placeholders, "var": self.variables,
                                                          "const": self.constants}
        data = arrays[kind][int(at)]
        return np.dtype(data.dtype), int(data.size)

    def _allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[Buf, int]:
        """A new arena buffer, born at the current step; its offset is planned at the end."""
        key, dt = len(self.buffers), np.dtype(dtype)
        self.buffers.append((tuple(shape), dt))
        self.born.append(self.step)
        self.last.append(self.step)
        return Buf(f"B{key}", 0, tuple(shape), dt), key

    def touch(self, buf: Buf) -> Buf:
        """Record that the current step reads `buf` (its buffer lives at least until now)."""
        key = arena_key(buf)
        if key is not None:
            self.last[key] = max(self.last[key], self.step)
        return buf

    def arena_buf(self, key: int) -> Buf:
        shape, dt = self.buffers[key]
        return Buf(f"B{key}", 0, shape, dt)

    def buffer(self, n: Node) -> Buf:
        """Where `n`'s value is written: a new arena buffer, or the place chosen for it (`into`)."""
        if id(n) in self.into:
            self.arrays[id(n)] = self.into.pop(id(n))
            return self.arrays[id(n)]
        buf, self.slots[id(n)] = self._allocate(n.shape, n.dtype)
        self.arrays[id(n)] = buf
        return buf

    def literal(self, n: Node) -> str:
        """Literal `n` as a typed constant of the kernel being emitted."""
        return self.em.const(*self.literals[id(n)])

    def array_of(self, n: Node) -> Buf:
        """`n` as array data, filling a buffer once if it is a literal."""
        if id(n) not in self.arrays:
            self.em.fill(self.buffer(n), self.literal(n))
        return self.touch(self.arrays[id(n)])

    def lower(self) -> LoweredProgram:
        candidates = self.in_place_candidates()
        for var, _ in self.updates:  # a variable may be written without being read
            if id(var) not in self.index:
                self.node(var)
        deferred = {id(self.group_of[v]) if v in self.group_of else v for v in candidates}
        units = schedule(self.graph)
        early = self.early_updates(units, candidates)
        copied_early: set[int] = set()  # the variables (by id) already written from their value's buffer
        for unit in units:
            if id(unit) not in deferred:
                self.run(unit)
            for var, value, into in early.get(id(unit), ()):
                if into:
                    self.update_in_place(var, value)
                elif id(value) in self.arrays and id(value) not in self.own:  # a value with a buffer of its own
                    self.step += 1
                    with self.kernel() as em:
                        em.comment(f"update of {var.name}, as soon as nothing reads its old value")
                        em.copy(self.arrays[id(var)], self.touch(self.arrays[id(value)]))
                    copied_early.add(id(var))
        written_early = {id(value) for pairs in early.values() for _, value, into in pairs if into}
        candidates = candidates - written_early
        in_place = self.without_conflicts(candidates)
        for _, value in self.updates:
            if id(value) in candidates and id(value) not in in_place:
                self.step += 1
                with self.kernel():
                    self.unit(self.group_of.get(id(value), value))
        # (a value given to several variables is no candidate: each is copied, early or here)
        copied = [(var, value) for var, value in self.updates
                  if id(value) not in in_place | written_early and id(var) not in copied_early]
        self.step += 1  # outputs, and every update, from here to the end
        for n in self.outputs + [v for _, v in copied]:
            with self.kernel():
                self.in_arena(n)
        for var, value in self.updates:  # written only after every value is computed
            if id(value) in in_place:
                self.update_in_place(var, value)
        for var, value in copied:
            with self.kernel() as em:
                em.comment(f"update of {var.name}")
                em.copy(self.arrays[id(var)], self.touch(self.arena_buf(self.own[id(value)])))
        for key in self.own.values():  # outputs are read after the call
            self.last[key] = self.step
        lifetimes = [Lifetime(k, int(np.prod(shape, dtype=np.int64)) * dt.itemsize, self.born[k], self.last[k],
                              self.reuses.get(k)) for k, (shape, dt) in enumerate(self.buffers)]
        self.memory = plan_memory(lifetimes, self.naive_bytes())
        if CHECK_PLANS:
            check_plan(lifetimes, self.memory)
        same: dict[int, int] = {}
        for old, new in self.memory.in_place:  # in order of birth: chains end at their first buffer
            same[int(new)] = same.get(int(old), int(old))  # type: ignore[call-overload]
        return LoweredProgram(
            kernels=[self.bind(*emitted, same) for emitted in self.emitted],
            placeholders=self.placeholders,
            variables=self.variables, constants=self.constants, nodes=self.nodes,
            outputs=[self.slot(self.own[id(o)]) for o in self.outputs],
            slots={node: self.slot(k) for node, k in {**self.inner_slots, **self.slots}.items()},
            arena_bytes=max(self.memory.arena_bytes, ALIGN), memory=self.memory,
            buffers=self.buffer_table(lifetimes), steps=self.step, free=self.free, at_end=in_place | written_early,
        )

    def buffer_table(self, lifetimes: list[Lifetime]) -> list[tuple[str, int, int, int, int]]:
        """Each buffer with the node whose value it holds (or "scratch"), for pictures."""
        names = node_names(self.graph)
        owner = {key: names.get(node_id, "") for node_id, key in self.slots.items()}
        by_id = {id(n): n for n in self.graph.nodes}
        owner.update({key: names.get(node_id, "") + " (result)" for node_id, key in self.own.items()
                      if key not in owner and node_id in by_id})
        return [(owner.get(b.key) or "scratch", self.memory.offsets[b.key], b.nbytes, b.start, b.end)
                for b in lifetimes]

    def gemm_update(self, members: list[Node], var: Node, value: Node) -> bool:
        """Emit `var <- var +- c * (a @ b)` as one BLAS gemm into the variable (or a loop's
        carry; alpha = +-c, beta = 1): the product is never stored and the variable is read and
        written once.
        False (nothing emitted) unless the update has exactly that form."""
        mm = members[0]
        if len(mm.shape) != 2 or mm.ndim != mm.inputs[0].ndim or mm.ndim != mm.inputs[1].ndim:
            return False
        if not (mm.dtype == var.dtype == mm.inputs[0].dtype == mm.inputs[1].dtype and mm.dtype.kind == "f"):
            return False
        scale, rest = 1.0, members[1:]
        if len(rest) == 2 and rest[0].op is MULTIPLY:
            x, y = rest[0].inputs
            other = y if x is mm else x if y is mm else None
            c = constant_value(other) if other is not None and other.size == 1 else None
            if c is None:
                return False
            scale, product = c, rest[0]
        elif len(rest) == 1:
            product = mm
        else:
            return False
        last = rest[-1]
        if last is not value or last.op not in (ADD, SUBTRACT):
            return False
        p, q = last.inputs
        if last.op is SUBTRACT and p is var and q is product:
            alpha = -scale
        elif last.op is ADD and (p is var and q is product or q is var and p is product):
            alpha = scale
        else:
            return False
        if not np.isfinite(np.array(alpha, mm.dtype)):  # inf * 0 is NaN: leave it to the elementwise product
            return False
        a, b = (self.array_of(x) for x in mm.inputs)  # a literal operand (a fill) gets a buffer
        target = self.arrays[id(var)]
        if target.base in (a.base, b.base):  # the product reads the variable: not in place
            return False
        m, k, n = mm.inputs[0].shape[0], mm.inputs[0].shape[1], mm.shape[1]
        alpha_text = repr(float(np.array(alpha, mm.dtype)))
        self.em.line(f"gemm(g, {a.base}, {a.start()}, {b.base}, {b.start()}, {target.base}, {target.start()}, {int(a.swapped)},"
                     f" {int(b.swapped)}, {m}, {n}, {k}, {alpha_text}, 1.0)  # one BLAS call: product and update")
        into = var.name if isinstance(var, Variable) else "its loop's carry"
        self.free[id(value)] = f"one BLAS gemm into {into} (alpha {alpha:g}, beta 1): the product is never stored"
        return True

    def naive_bytes(self) -> int:
        """Every value the program computes in a buffer of its own (no fusion, no planning)."""
        computed = [n for n in self.graph.nodes
                    if n.inputs and not n.op.view and id(n) not in self.literals]
        return sum(aligned(n.size * n.dtype.itemsize) for n in computed)

    def offer_in_place(self, stored: list[tuple[Node, Buf]], operands: list[Buf]) -> None:
        """Offer each new buffer the place of an operand read at the same index (same shape), so
        that the plan may write in place if the operand dies here."""
        free = [b for b in operands if arena_key(b) is not None and not b.swapped]
        for _, buf in stored:
            key = arena_key(buf)
            if key is None or key in self.reuses:
                continue
            for b in free:
                same_key = [o for o in operands if o.base == b.base and o.offset == b.offset]
                if b.shape == buf.shape and b.dtype == buf.dtype and all(o.shape == b.shape for o in same_key):
                    self.reuses[key] = arena_key(b)  # type: ignore[assignment]
                    free.remove(b)
                    break

    def slot(self, key: int) -> Slot:
        shape, dt = self.buffers[key]
        return Slot(self.memory.offsets[key], shape, dt)

    def members(self, n: Node) -> list[Node]:
        """The nodes computed in one loop with `n` (its fusion group, or itself)."""
        g = self.group_of.get(id(n))
        return list(g.members) if g is not None else [n]

    def run(self, unit: Node | Group) -> None:
        """Emit one unit of the schedule: a kernel, or a loop's kernels."""
        if isinstance(unit, Node) and unit.op.tuple_value:
            (self.cond if unit.op is COND else self.loop)(unit)
            return
        self.step += 1
        with self.kernel():
            carry = self.accumulating.get(id(unit))
            members = list(unit.members) if isinstance(unit, Group) else [unit]
            if carry is not None and self.gemm_update(members, carry, members[-1]):
                self.em.node_index = self.index[id(members[-1])]
                self.arrays[id(members[-1])] = self.arrays[id(carry)]
            else:
                self.unit(unit)

    def slice_of(self, buf: Buf, shape: tuple[int, ...]) -> Buf:
        """Slice t of `buf` (stacked along its first axis) at step t of the loop being emitted."""
        assert isinstance(buf.offset, int) and not buf.swapped, buf
        base, offset = buf.base, buf.offset
        terms: tuple[tuple[int, int], ...] = ()
        if base.startswith("L"):  # a slice of a slice: of the same array, at both loops' steps
            base, outer, terms, _, _ = self.slices[int(base[1:])]
            offset += outer
        size = int(np.prod(shape, dtype=np.int64))
        self.slices.append((base, offset, (*terms, (self.depth, size)), tuple(shape), buf.dtype))
        return Buf(f"L{len(self.slices) - 1}", 0, tuple(shape), buf.dtype)

    def loop(self, n: Node) -> None:
        """Emit loop `n`: its carries set, then its body between two markers (run once per step),
        each step ending by writing its ys and new carries."""
        body: Body = n.attrs["body"]
        g, nc, nx = body.graph, body.carries, body.xs
        if self.depth >= MAX_DEPTH:
            raise NoLowering(f"the numba back end runs loops nested {MAX_DEPTH} deep at most; compile with backend='numpy'")
        c_in, init, xs = g.inputs[:nc], n.inputs[:nc], n.inputs[nc:nc + nx]
        self.step += 1
        carries: list[tuple[Buf, int]] = []
        with self.kernel() as em:
            em.comment(f"loop of {body.length} steps at {n.location}: its first carries")
            for c in init:
                buf, key = self._allocate(c.shape, c.dtype)
                if id(c) in self.literals:
                    em.fill(buf, self.literal(c))
                else:
                    em.copy(buf, self.touch(self.arrays[id(c)]))
                carries.append((buf, key))
        read = {u.attrs["index"] for u in self.users[n]}
        ys = [self._allocate(*body.output_type(k)) if k in read else None for k in range(nc, body.outputs)]
        stacks = [self.touch(self.arrays[id(x)]) for x in xs if id(x) in self.arrays]
        begin = self.marker((), f"loop of {body.length} steps at {n.location}{' (reversed)' if body.reverse else ''}")
        first = self.step
        arrays: dict[int, Buf] = {id(p): buf for p, (buf, _) in zip(c_in, carries)}
        literals: dict[int, tuple[object, np.dtype]] = {}
        for k, (p, x) in enumerate(zip(g.inputs[nc:], n.inputs[nc:])):
            if id(x) in self.literals:
                literals[id(p)] = self.literals[id(x)]
            else:
                arrays[id(p)] = self.slice_of(self.arrays[id(x)], p.shape) if k < nx else self.touch(self.arrays[id(x)])
        saved = self.enter(g, arrays, literals)
        # A carry whose new value is carry + a @ b, the old value read by nothing else: one gemm
        # adds the product into the carry's buffer (a weight's gradient summed over the steps).
        self.accumulating = {}
        returned = {id(o) for o in g.outputs}
        for p, value in zip(c_in, g.outputs):
            grp = self.group_of.get(id(value))
            if grp is None or grp.members[-1] is not value or grp.members[0].op is not MATMUL:
                continue
            alone = all(m is value or (id(m) not in returned and all(u in grp for u in self.users[m])) for m in grp.members)
            if alone and len(self.users.get(p, ())) == 1 and self.users[p][0] is value and id(p) not in returned:
                self.accumulating[id(grp)] = p
        # Each y is computed straight into its stack's slice.
        y_slices = [self.slice_of(y[0], y[0].shape[1:]) if y is not None else None for y in ys]
        for slice_, value in zip(y_slices, g.outputs[nc:]):
            if slice_ is not None and id(value) not in arrays and value.op.leaf is None and id(value) not in self.into:
                self.into[id(value)] = slice_
        self.depth += 1
        for unit in schedule(g):
            if not (isinstance(unit, Node) and (id(unit) in self.arrays or id(unit) in self.literals)):
                self.run(unit)
        self.depth -= 1
        self.step += 1
        with self.kernel() as em:
            em.comment("the step's ys and new carries")
            self.write_step(g.outputs, carries, y_slices)
        self.inner_slots.update(self.slots)
        (self.graph, self.users, self.group_of, self.results, self.arrays, self.literals, self.slots, self.accumulating,
         self.into) = saved
        end = self.marker((LOOP_END, begin), "end of the loop")
        code, constants, notes, sites, _, depth = self.emitted[begin]
        self.emitted[begin] = (code, constants, notes, sites, (LOOP_BEGIN, body.length, int(body.reverse), self.depth, end, 0),
                               depth)
        for key in range(len(self.buffers)):  # what the loop reads or writes from outside lives through it
            if self.born[key] < first <= self.last[key]:
                self.last[key] = self.step
        for buf in [*stacks, *(b for b, _ in carries), *(y[0] for y in ys if y is not None)]:
            self.touch(buf)
        self.loop_results[id(n)] = [*carries, *ys]
        self.free[id(n)] = f"a loop of {body.length} steps"

    def cond(self, n: Node) -> None:
        """Emit cond `n`: a kernel writing its predicate for the driver, then each branch's kernels
        between markers (the driver runs one branch), each ending by writing its results where
        the cond's readers find them."""
        body: Branches = n.attrs["body"]
        pred, values = n.inputs[0], n.inputs[1:]
        read = {u.attrs["index"] for u in self.users[n]}
        results = [self._allocate(*body.output_type(k)) if k in read else None for k in range(body.outputs)]
        self.step += 1
        with self.kernel() as em:
            em.comment(f"cond at {n.location}: its predicate")
            held = self.literal(pred) if id(pred) in self.literals else self.touch(self.arrays[id(pred)]).item("0")
            em.line(f"g[{G_PRED}] = 1 if {held} else 0")
        markers = [self.marker((), f"cond at {n.location}: if its predicate holds")]
        for graph in body.graphs:
            arrays = {id(p): self.touch(self.arrays[id(x)]) for p, x in zip(graph.inputs, values) if id(x) in self.arrays}
            literals = {id(p): self.literals[id(x)] for p, x in zip(graph.inputs, values) if id(x) in self.literals}
            saved = self.enter(graph, arrays, literals)
            for r, value in zip(results, graph.outputs):  # each result computed straight into its place
                if r is not None and id(value) not in arrays and value.op.leaf is None and id(value) not in self.into:
                    self.into[id(value)] = r[0]
            for unit in schedule(graph):
                if not (isinstance(unit, Node) and (id(unit) in self.arrays or id(unit) in self.literals)):
                    self.run(unit)
            self.step += 1
            with self.kernel() as em:
                em.comment("the branch's results")
                for r, value in zip(results, graph.outputs):
                    if r is not None:
                        self.put(r[0], value)
            self.inner_slots.update(self.slots)
            (self.graph, self.users, self.group_of, self.results, self.arrays, self.literals, self.slots,
             self.accumulating, self.into) = saved
            markers.append(self.marker((), "else" if len(markers) == 1 else "end of the cond"))
        begin, else_, end = markers
        for k, words in ((begin, (COND_BEGIN, else_)), (else_, (COND_ELSE, end)), (end, (COND_END,))):
            code, constants, notes, sites, _, depth = self.emitted[k]
            self.emitted[k] = (code, constants, notes, sites, words, depth)
        for buf in (r[0] for r in results if r is not None):
            self.touch(buf)
        self.loop_results[id(n)] = results
        self.free[id(n)] = "a cond"

    def enter(self, graph: Graph, arrays: dict[int, Buf], literals: dict[int, tuple[object, np.dtype]]) -> tuple:  # type: ignore[type-arg]
        """Make `graph` (a loop's body, its placeholders' data given) the graph being lowered;
        what it was, to restore."""
        saved = (self.graph, self.users, self.group_of, self.results, self.arrays, self.literals, self.slots, self.accumulating,
                 self.into)
        self.into = {}
        self.graph, self.users = graph, consumers(graph)
        self.group_of = {id(m): grp for grp in graph.groups for m in grp.members}
        self.results = {id(o) for o in graph.outputs}
        self.arrays, self.literals, self.slots = arrays, literals, {}
        for m in graph.nodes:
            if id(m) not in self.index:
                self.index[id(m)] = len(self.nodes)
                self.nodes.append(m)
        return saved

    def put(self, target: Buf, value: Node) -> None:
        """Write `value` (a literal, or data elsewhere) into `target`, unless it is there already."""
        if id(value) in self.literals:
            self.em.fill(target, self.literal(value))
        elif self.arrays[id(value)] != target:
            self.em.copy(target, self.touch(self.arrays[id(value)]))

    def write_step(self, outputs: Sequence[Node], carries: list[tuple[Buf, int]], ys: list[Buf | None]) -> None:
        """The end of a step: ys into their stacks' slices, then the new carries (a new carry
        that is another carry's data is first copied aside, so that no carry reads one already
        rewritten)."""
        em, nc, put = self.em, len(carries), self.put

        for y, value in zip(ys, outputs[nc:]):
            if y is not None:
                put(y, value)
        bases = {buf.base for buf, _ in carries}
        sources: list[Node | Buf] = list(outputs[:nc])
        for i, ((buf, _), value) in enumerate(zip(carries, outputs[:nc])):
            data = self.arrays.get(id(value))
            if data is not None and data.base in bases and data != buf:
                aside, _ = self._allocate(data.shape, data.dtype)
                em.copy(aside, self.touch(data))
                sources[i] = aside
        for (buf, _), source in zip(carries, sources):
            if isinstance(source, Buf):
                em.copy(buf, source)
            else:
                put(buf, source)

    def unit(self, unit: Node | Group) -> None:
        """Emit one node, or one fusion group as one loop nest."""
        if isinstance(unit, Node):
            self.em.node_index = self.index[id(unit)]
            self.node(unit)
            return
        em = self.em
        members = list(unit.members)
        em.node_index = self.index[id(members[-1])]
        em.comment(f"fused: {unit.kind} over {list(unit.domain)}, {len(members)} nodes")
        for m in members:
            em.comment(f"  {self.index[id(m)]}: {m.op.name} at {m.location}")
        if members[0].op in HEADS:  # BLAS (or a convolution) first; the loop is its epilogue
            self.node(members.pop(0))
        inside = {id(m) for m in members}
        stores = {id(m): self.buffer(m) for m in members
                  if id(m) in self.results or any(id(u) not in inside for u in self.users[m])}
        if unit.kind == "loop":
            self.elementwise(members, stores)
        else:
            RowLoop(self, unit, members, stores).emit()

    def in_place_candidates(self) -> set[int]:
        """New variable values that could be computed last, straight into the variable: an
        elementwise node that nothing else reads, alone or in an elementwise group whose other
        members only it reads. Only without numerics checks, so that no check can fail once a
        variable has been written."""
        if self.check:
            return set()
        counts: dict[int, int] = {}
        for _, value in self.updates:
            counts[id(value)] = counts.get(id(value), 0) + 1
        outputs = {id(o) for o in self.outputs}

        def alone(v: Node) -> bool:
            g = self.group_of.get(id(v))
            if g is None:
                return True
            return g.kind == "loop" and all(
                m is v or (id(m) not in self.results and all(u in g for u in self.users[m])) for m in g.members)

        return {id(v) for _, v in self.updates
                if v.op.pointwise and counts[id(v)] == 1 and id(v) not in outputs
                and not self.users[v] and alone(v)}

    def update_in_place(self, var: Variable, value: Node) -> None:
        """Emit the computation of `value` straight into `var` (one step: its scratch, a
        matmul's product, dies there)."""
        self.step += 1
        with self.kernel() as em:
            em.node_index = self.index[id(value)]
            em.comment(f"{value.op.name} at {value.location}, into {var.name} in place:")
            members = self.members(value)
            if members[0].op is MATMUL and self.gemm_update(members, var, value):
                return
            if members[0].op in HEADS:
                self.node(members.pop(0))
            self.elementwise(members, {id(value): self.arrays[id(var)]})

    def early_updates(self, units: list[Node | Group],
                      candidates: set[int]) -> dict[int, list[tuple[Variable, Node, bool]]]:
        """Updates that can write their variable before the end — computed in place (the
        candidates) or copied from the value's buffer (`False`) — by the id of the unit after
        which each runs: once the value's unit has run and every other unit reading the variable
        has run (so none reads the new value), and only after every kernel that can stop the
        program (a bad index) has run, so that a failing call still changes no variable. The
        values such an update reads then die at once instead of living to the end. None under
        numerics checks: there every kernel can stop the program."""
        if self.check:
            return {}
        unit_of = {id(m): g for g in self.graph.groups for m in g.members}
        position = {id(u): i for i, u in enumerate(units)}
        last_fallible = max((position[id(unit_of.get(id(n), n))] for n in self.graph.nodes if fallible(n)),
                            default=-1)
        outputs = {id(o) for o in self.outputs}
        update_values = {id(value) for _, value in self.updates}
        deferred = {id(unit_of.get(id(value), value)) for _, value in self.updates if id(value) in candidates}
        early: dict[int, list[tuple[Variable, Node, bool]]] = {}
        for var, value in self.updates:
            if id(value) not in candidates and (value.op.leaf is not None or id(value) in self.literals):
                continue  # a variable, a feed or a literal as the new value: copied at the end
            own = unit_of.get(id(value), value)
            aliases: list[Node] = [var]  # the variable and what may be a view of it (a transpose handed to BLAS)
            stack: list[Node] = [var]
            while stack:
                for u in self.users.get(stack.pop(), ()):
                    if (u.op.view or u.op.kind == "shape") and all(a is not u for a in aliases):  # may share it
                        aliases.append(u)
                        stack.append(u)
            if any(id(a) in outputs or id(a) in update_values for a in aliases):  # read as they are at the end
                continue
            reading = [unit_of.get(id(u), u) for a in aliases for u in self.users.get(a, ())]
            reading = [r for r in reading if r is not own]
            if any(id(r) in deferred for r in reading):  # read by an update that may run at the end
                continue
            readers = [position[id(r)] for r in reading if id(r) in position]
            at = max([position[id(own)], last_fallible, *readers])
            if at < len(units) - 1:
                early.setdefault(id(units[at]), []).append((var, value, id(value) in candidates))
        return early

    def without_conflicts(self, candidates: set[int]) -> set[int]:
        """The candidates that may write in place, in update order: each reads a variable
        already written by an earlier one never, and its own variable only element for element."""
        written: set[str] = set()
        chosen: set[int] = set()
        for var, value in self.updates:
            if id(value) not in candidates:
                continue
            target = self.arrays[id(var)]
            reads = [self.arrays[id(x)] for m in self.members(value) for x in m.inputs if id(x) in self.arrays]
            if any(b.base in written for b in reads):
                continue
            if any(b.base == target.base and (b.shape != target.shape or b.offset or b.swapped) for b in reads):
                continue
            chosen.add(id(value))
            written.add(target.base)
        return chosen

    def in_arena(self, n: Node) -> None:
        """Give `n`'s value an arena buffer (outputs and new variable values must have one)."""
        if id(n) in self.own:
            return
        if id(n) in self.slots:
            self.own[id(n)] = self.slots[id(n)]
            return
        buf, key = self._allocate(n.shape, n.dtype)
        if id(n) in self.literals:
            self.em.fill(buf, self.literal(n))
        else:
            self.em.copy(buf, self.touch(self.arrays[id(n)]))
        self.own[id(n)] = key

    def node(self, n: Node) -> None:
        em, op = self.em, n.op
        if op.item:  # an element of a loop's results: its data, where the loop left it
            found = self.loop_results[id(n.inputs[0])][n.attrs["index"]]
            assert found is not None, f"{n!r} is read but its loop did not keep it"
            self.arrays[id(n)], self.slots[id(n)] = found
            self.free[id(n)] = f"a result of its {n.inputs[0].op.name}"
            return
        if op.leaf == "fed":
            at = next(i for i, p in enumerate(self.placeholders) if p is n)
            self.arrays[id(n)] = Buf(f"in{at}", 0, n.shape, n.dtype)
        elif isinstance(n, Variable):
            self.arrays[id(n)] = Buf(f"var{len(self.variables)}", 0, n.shape, n.dtype)
            self.variables.append(n)
        elif op in (CONSTANT, FULL) and (n.shape == () or op is FULL):
            value = n.attrs["value"][()] if op is CONSTANT else n.attrs["value"]
            self.literals[id(n)] = (value, n.dtype)
            return
        elif op is CONSTANT:
            self.arrays[id(n)] = Buf(f"const{len(self.constants)}", 0, n.shape, n.dtype)
            self.constants.append(n.attrs["value"])
            return
        elif op.view or (op is BROADCAST_TO and id(n.inputs[0]) in self.literals):
            x = n.inputs[0]  # a view's data; any further inputs only order it
            if id(x) in self.literals:
                self.literals[id(n)] = self.literals[id(x)]
                self.free[id(n)] = "a literal"
            else:
                self.arrays[id(n)] = view_of(op)(self.arrays[id(x)], **n.attrs)
                self.free[id(n)] = "a view of its input"
            return
        elif self.broadcasts_in_loops(n):
            self.arrays[id(n)] = self.arrays[id(n.inputs[0])]
            self.free[id(n)] = "read with zero strides by the loops using it"
            return
        elif self.swaps_for_blas(n):
            data = self.arrays[id(n.inputs[0])]
            self.arrays[id(n)] = Buf(data.base, data.offset, n.shape, n.dtype, swapped=True)
            self.free[id(n)] = "a transposed view handed to BLAS"
            return
        elif op.pointwise:
            em.comment(f"{self.index[id(n)]}: {op.name} at {n.location}")
            self.elementwise([n], {id(n): self.buffer(n)})
        else:
            ins = [self.array_of(x) for x in n.inputs]
            out = self.buffer(n)
            em.comment(f"{self.index[id(n)]}: {op.name} at {n.location}")
            kernel_of(op)(em, out, *ins, **n.attrs)
        if self.check and n.dtype.kind == "f":
            with em.block(f"if not all_finite({self.arrays[id(n)].array()}):"):
                em.fail(STATUS_NUMERICS, "0")

    def broadcasts_in_loops(self, n: Node) -> bool:
        """A broadcast read only by elementwise loops: they broadcast the smaller array
        themselves (right-aligned, as NumPy), so the broadcast needs no copy."""
        return (n.op is BROADCAST_TO and id(n) not in self.results
                and id(n.inputs[0]) in self.arrays and bool(self.users[n])
                and all(u.op.pointwise for u in self.users[n]))

    def swaps_for_blas(self, n: Node) -> bool:
        """A transpose of the last two axes that only float matmuls read: BLAS takes it as a
        transposed view, so it needs no copy."""
        if n.op is not TRANSPOSE or n.ndim < 2 or id(n) in self.results:
            return False
        axes = n.attrs["axes"]
        if tuple(axes) != tuple(range(n.ndim - 2)) + (n.ndim - 1, n.ndim - 2):
            return False
        x = self.arrays.get(id(n.inputs[0]))
        users = self.users[n]
        return (x is not None and not x.swapped and n.dtype.kind == "f" and bool(users)
                and all(u.op is MATMUL and u.inputs[0].dtype == u.inputs[1].dtype for u in users))

    def elementwise(self, members: list[Node], stores: dict[int, Buf]) -> None:
        """One loop nest computing `members` (in topological order) and storing `stores`."""
        em = self.em
        inside = {id(m) for m in members}
        operands: list[Buf] = []
        scalar_of: dict[int, str] = {}
        loaded: dict[int, int] = {}  # node id -> index in operands
        for m in members:
            for x in m.inputs:
                if id(x) in self.literals:
                    scalar_of[id(x)] = self.literal(x)
                elif id(x) not in inside and id(x) not in loaded:
                    loaded[id(x)] = len(operands)
                    operands.append(self.touch(self.arrays[id(x)]))
        shape = max((m.shape for m in members), key=len)
        stored = [(m, stores[id(m)]) for m in members if id(m) in stores]
        self.offer_in_place(stored, operands)
        sizes, strides = broadcast_loops(shape, [b.shape for b in operands] + [b.shape for _, b in stored])
        with em.loops(sizes) as names:
            for node_id, k in loaded.items():
                s = em.fresh("s")
                buf = operands[k]
                em.line(f"{s} = {buf.base}[{linear(buf.offset, list(zip(names, strides[k])))}]")
                scalar_of[node_id] = s
            for m in members:
                c = Scalar(em, m.dtype, tuple(x.dtype for x in m.inputs))
                expr = scalar_rule(m.op)(c, *(scalar_of[id(x)] for x in m.inputs), **m.attrs)
                t = em.fresh("t")
                em.line(f"{t} = {dtype_name(m.dtype)}({expr})")
                scalar_of[id(m)] = t
            for (m, buf), st in zip(stored, strides[len(operands):]):
                em.line(f"{buf.base}[{linear(buf.offset, list(zip(names, st)))}] = {scalar_of[id(m)]}")


def fallible(n: Node) -> bool:
    """Whether computing `n` can stop the program (a bad index), in a loop's body or not."""
    if n.op.tuple_value:
        return any(fallible(m) for g in n.attrs["body"].graphs for m in g.nodes)
    return n.op in OUT_OF_RANGE


def lower(graph: Graph, n_outputs: int, updates: Sequence[tuple[Variable, Node]], check_numerics: bool) -> LoweredProgram:
    """The kernels computing `graph` (in the order they run) and the arena they share.

    `graph.outputs` are the user's `n_outputs` outputs followed by the updates' new values.
    """
    return _Lowering(graph, n_outputs, updates, check_numerics).lower()
