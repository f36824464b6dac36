"""`gc.compile`: a graph, its updates and options turned into a callable `Function`.

A call checks every feed before anything runs, computes all outputs and all new variable values
from the values before the call, and only then writes the variables: a failing call changes
nothing. Calls are serialized per variable, so threads sharing variables see whole steps.
"""

from __future__ import annotations

import contextlib
import functools
import gc as collector
import os
import pathlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import program_cache, recipes
from .backends import BACKENDS, Executable
from .backends.numba import blas
from .backends.numba.lowering import LoweredProgram, lower
from .backends.numba.lowerings import NoLowering
from .backends.numba.program import NativeProgram
from .backends.numpy.program import ReferenceProgram
from .builder import CONSTANT, lift
from .dtypes import is_int
from .errors import FeedError, GraphcError, GraphError, ShapeError
from .feeds import check_feed
from .inspection.gradient_flow import GradientFlow, flow_outputs
from .inspection.pictures import graph_dot
from .inspection.report_page import render
from .ir import STEP_LOCK, Graph, Group, Node, Variable, schedule, verify
from .memory_budget import Fitted, fit_memory_budget
from .ops.conditional import COND
from .ops.conv import CONV2D
from .ops.leaves import FULL
from .ops.linalg import MATMUL
from .passes.fuse import fuse
from .passes.pipeline import PIPELINE, VERIFY_EACH, PassReport, run_pipeline
from .printer import format_graph, node_names
from .recipes import Recipe
from .tree import flatten, unflatten

_CAPTURES: list[list[Function]] = []  # open `captured()` blocks, innermost last


@contextlib.contextmanager
def captured() -> Iterator[list[Function]]:
    """Collect every function compiled inside the block (for `graphc inspect`)."""
    found: list[Function] = []
    _CAPTURES.append(found)
    try:
        yield found
    finally:
        _CAPTURES.remove(found)


def _collector_paused(build: Any) -> Any:
    """`build` run with Python's cyclic garbage collector paused (as it was before, after): a
    build allocates tens of thousands of objects, which set off full collections that walk every
    object of the process (50 ms at a time for a 128-layer step). Objects still go when their
    last reference does; cycles wait for the next collection."""

    @functools.wraps(build)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was = collector.isenabled()
        collector.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if was:
                collector.enable()

    return paused


class _Counted:
    """What a compiled function's calls have counted: random draws follow the count."""

    _steps: int

    @property
    def calls(self) -> int:
        """The calls made so far (each step of `run_many` is one). The k-th call's random draws
        are a function of k, the seed and each node's stream: set `calls` on a function rebuilt
        from saved variables to draw on from where the saved run was."""
        return self._steps

    @calls.setter
    def calls(self, n: int) -> None:
        if not is_int(n) or isinstance(n, bool) or not 0 <= n < 2**63:
            raise GraphError(f"calls: expected a count of calls (an int from 0 below 2**63), got {n!r}")
        with STEP_LOCK:
            self._steps = int(n)


class Function(_Counted):
    """A compiled program. Call it with arrays, by position or by placeholder name."""

    @_collector_paused
    def __init__(
        self,
        inputs: Sequence[Node],
        outputs: Any,
        updates: Mapping[Variable, Any] | None = None,
        optimize: bool = True,
        check_numerics: bool = False,
        memory_budget: int | None = None,
        cache: bool = True,
        backend: str = "numba",
        disable: Sequence[str] = (),
        debug: bool = False,
        gradient_flow: bool = False,
        threads: int | None = None,
    ) -> None:
        started = time.perf_counter()
        self.inputs = _check_inputs(inputs)
        out_list, self._out_tree = flatten(outputs)
        self._outputs = [_as_output(o) for o in out_list]
        self._updates = _check_updates(updates or {})
        self._gradients = dict(getattr(updates, "gradients", None) or {})  # from gc.optim: kept by gc.save
        # Extra outputs the program computes for the gradient-flow view, and their labels.
        self._flow = flow_outputs(self._outputs, updates) if gradient_flow else []
        self._last_flow: GradientFlow | None = None
        # A training step's first output, step by step, when it is a float scalar (its loss).
        first = self._outputs[0] if self._outputs else None
        self._records_loss = bool(self._updates) and first is not None and first.shape == () and first.dtype.kind == "f"
        self._losses = LossLog()
        named = _check_options(memory_budget, backend, disable, threads)
        self.optimize, self.check_numerics, self.cache, self.backend = optimize, check_numerics, cache, backend
        # The options this function was compiled with, as `gc.save` records them.
        self.options = dict(optimize=optimize, check_numerics=check_numerics, backend=backend, gradient_flow=gradient_flow,
                            memory_budget=memory_budget,
                            threads=threads, disable=[disable] if isinstance(disable, str) else
                            list(disable) if isinstance(disable, (list, tuple, set, frozenset)) else disable)
        watched = self._outputs + [node for _, _, node in self._flow]
        self.source_graph = Graph(self.inputs, watched + [v for _, v in self._updates])
        _check_fed(self.source_graph)
        verify(self.source_graph)
        self.graph = self.source_graph
        # Numerics checks look at every value, so none may stay inside a fused loop.
        self._disabled = named + (("fuse",) if check_numerics or memory_budget else ())
        self._passes: list[PassReport] | None = []
        n_out = len(watched)
        # A program compiled before (by any process) is loaded, passes and lowering skipped; not
        # with the NumPy executor (no native program), a memory budget (fitted to this machine's
        # search) or debug output (the passes' printout is what was asked for).
        updated = [v for v, _ in self._updates]
        key = program_cache.key_of(self.source_graph, updated, (optimize, check_numerics, self._disabled)) if (
            cache and backend != "numpy" and memory_budget is None and not debug) else None
        referenced = program_cache.named_nodes(self.source_graph, updated) if key is not None else []
        kept = program_cache.load(key, referenced) if key is not None else None
        self.from_program_cache = kept is not None
        self.budget: Fitted | None = None  # what memory_budget= chose, and the programs it tried
        if kept is not None:
            self.graph, lowered_kept = kept
            self._passes = None if optimize else []  # made again when first looked at (`passes`)
            if VERIFY_EACH:
                verify(self.graph)
        elif optimize:
            self.graph, self._passes = run_pipeline(self.source_graph, self._disabled, debug=debug)
        fused = optimize and "fuse" not in named and not check_numerics
        if memory_budget is not None:
            fitted = self.budget = fit_memory_budget(self.graph, int(memory_budget), n_out, [v for v, _ in self._updates], fused,
                                       check_numerics)
            assert self._passes is not None
            self._passes.append(PassReport("remat", len(self.graph), len(fitted.graph), fitted.stats, fitted.seconds,
                                           fitted.notes, fitted.graph))
            self.graph = fitted.graph
            if fused:
                fuse_reports: list[PassReport]
                self.graph, fuse_reports = run_pipeline(self.graph, debug=debug, pipeline=[("fuse", fuse)])
                self._passes += fuse_reports
        # The program's own outputs and update values (the pipeline may have replaced nodes).
        self._program_outputs = list(self.graph.outputs[:len(self._outputs)])
        self._program_updates = [(var, value) for (var, _), value in zip(self._updates, self.graph.outputs[n_out:])]
        self._steps = 0
        self._variables = sorted(self.graph.variables + [v for v, _ in self._updates], key=lambda v: v.id)
        self._native: NativeProgram | None = None  # the native program, if the back end runs one
        lowering_started = time.perf_counter()
        if kept is not None:
            lowered: LoweredProgram | None = lowered_kept
        else:
            try:
                lowered = lower(self.graph, n_out, self._program_updates, check_numerics)
            except NoLowering:  # the NumPy back end runs any op: only the native figures are missing
                if backend != "numpy":
                    raise
                lowered = None
            if key is not None and lowered is not None:
                program_cache.save(key, referenced, self.graph, lowered)
        self.lowering_seconds = time.perf_counter() - lowering_started
        # The arena of the native program: arena_bytes, naive_bytes, lower_bound_bytes (None
        # when the Numba back end cannot lower the program).
        self.memory = lowered.memory if lowered is not None else None
        self._buffers, self._buffer_steps = (lowered.buffers, lowered.steps) if lowered is not None else ([], 0)
        self._free, self._at_end = (lowered.free, lowered.at_end) if lowered is not None else ({}, set())
        self._program: Executable = ReferenceProgram(self.graph, self._program_updates, check_numerics)
        if lowered is not None and backend != "numpy":
            try:
                self._native = NativeProgram(lowered, cache, interpret=backend == "python",
                                             threads=_blas_threads(self.graph, threads))
            except MemoryError:
                raise GraphcError(
                    f"compile: the program needs an arena of {lowered.arena_bytes} bytes, more memory than"
                    " this machine can give"
                ) from None
            self._program = self._native
        self.passes_seconds = sum(r.seconds for r in self._passes or ())  # spent in this build
        self.compile_seconds = time.perf_counter() - started
        for found in _CAPTURES:
            found.append(self)

    # Calling.
    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        feeds = self._bind(args, kwargs)
        with self._step_lock():
            outs = self._run(feeds)
            outs = self._keep_flow(outs, [o[()] for o in outs[len(self._outputs):]])
            if self._records_loss:
                self._losses.add(np.array(outs[0], np.float64).reshape(1))
        return unflatten(self._out_tree, outs)

    def run_many(self, /, *args: Any, **kwargs: Any) -> Any:
        """Run one step per slice along axis 0 of every feed; outputs stacked along axis 0.

        Either every step happens or, if one fails, none does (variables are restored).
        """
        stacked = self._bind(args, kwargs, stacked=True)
        steps = {a.shape[0] for a in stacked.values()}
        if len(steps) > 1:
            raise FeedError(f"run_many: feeds have different numbers of steps {sorted(steps)}")
        n = steps.pop() if steps else 1
        if n == 0:  # nothing to run: empty stacks, nothing changes
            empty = [np.zeros((0, *o.shape), o.dtype) for o in self._outputs]
            return unflatten(self._out_tree, empty)
        with self._step_lock():
            # Native code updates variables in place: keep copies to restore after a failure.
            saved = [(v, v.store.array.copy()) for v in self._variables]
            first_step = self._steps
            try:
                columns = self._program.run_many([stacked[p] for p in self.graph.inputs], n, first_step)
                self._steps += n
            except BaseException:
                for v, array in saved:
                    v.store.array = array
                self._steps = first_step
                raise
            columns = self._keep_flow(columns, [c[-1] for c in columns[len(self._outputs):]])
            if self._records_loss:
                self._losses.add(np.array(columns[0], np.float64))
        return unflatten(self._out_tree, columns)

    def _keep_flow(self, outs: list[np.ndarray], flow: list[np.ndarray]) -> list[np.ndarray]:
        """The user's outputs; the gradient-flow values of the last step are kept."""
        if self._flow:
            self._last_flow = GradientFlow.of(self._steps, self._flow, flow)
        return outs[:len(self._outputs)]

    def losses(self) -> np.ndarray:
        """A training step's loss (its first output, a float scalar) at every step it ran, the
        last 1,000,000 kept; empty for other functions."""
        return self._losses.values()

    def gradient_flow(self) -> GradientFlow | None:
        """Gradient norms and dead-ReLU fractions of the last step (compile with
        gradient_flow=True), or None."""
        return self._last_flow

    def _run(self, feeds: dict[Node, np.ndarray]) -> list[np.ndarray]:
        try:
            return self._step(feeds)
        except MemoryError:
            raise GraphcError("the step needs more memory than this machine can give") from None

    def _step(self, feeds: dict[Node, np.ndarray]) -> list[np.ndarray]:
        outs = self._program([feeds[p] for p in self.graph.inputs], self._steps)
        self._steps += 1
        return outs

    def _step_lock(self) -> threading.RLock:
        """One lock for every step of every function: variables shared between functions are
        read and written by whole steps (native code updates them in place)."""
        return STEP_LOCK

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], stacked: bool = False) -> dict[Node, np.ndarray]:
        if not kwargs and not stacked and len(args) == len(self.inputs):  # every input by position
            return {p: check_feed(value, p.shape, p.dtype, f"input {p.name!r}") for p, value in zip(self.inputs, args)}
        return _checked_feeds(_given(self.inputs, args, kwargs), stacked)

    def _signature(self) -> str:
        return signature_of(self.inputs)

    # Looking inside.
    def pretty(self) -> str:
        """The program as SSA text: outputs, then the variable updates."""
        return format_graph(self.graph, self._program_outputs, self._program_updates)

    def __str__(self) -> str:
        return self.pretty()

    def __repr__(self) -> str:
        return f"<graphc.Function {self._signature()} -> {len(self._outputs)} outputs, {len(self._updates)} updates>"

    def kernels(self) -> list[str]:
        """The program's loop nests and kernels in schedule order, one line each, the updates
        computed straight into their variables listed last (the program runs each as soon as
        nothing reads the variable's old value any more)."""
        lines, last = self._unit_lines(self.graph, "")
        return lines + last

    def _unit_lines(self, graph: Graph, indent: str) -> tuple[list[str], list[str]]:
        """`kernels()` of `graph` (the program, or a loop's body, its lines indented under its
        loop): the lines in order, and the updates that run last."""
        names = node_names(graph)
        lines, last = [], []
        for unit in schedule(graph):
            members = unit.members if isinstance(unit, Group) else (unit,)
            if any(id(m) in self._at_end for m in members):  # runs after everything else
                value = next(m for m in members if id(m) in self._at_end)
                var = next(v for v, u in self._program_updates if u is value)
                how = self._free.get(id(value), f"computed into {var.name} in place")
                last.append(f"update of {var.name}: {len(members)} nodes ({' '.join(names[id(m)] for m in members)}); {how}")
                continue
            if isinstance(unit, Group):
                head = {MATMUL: " after a BLAS matmul", CONV2D: " after a convolution"}.get(unit.members[0].op, "")
                listed = " ".join(names[id(m)] for m in unit.members)
                how = f"; {self._free[id(members[-1])]}" if id(members[-1]) in self._free else ""
                lines.append(f"{indent}fused {unit.kind} over {list(unit.domain)}{head}: {len(unit.members)} nodes"
                             f" ({listed}){how}")
            elif unit.op is COND:  # a cond: one branch's kernels run
                body = unit.attrs["body"]
                lines.append(f"{indent}cond {names[id(unit)]}: if {names.get(id(unit.inputs[0]), 'its predicate')} holds:")
                lines += self._unit_lines(body.true, indent + "    ")[0]
                lines.append(f"{indent}else:")
                lines += self._unit_lines(body.false, indent + "    ")[0]
            elif unit.op.tuple_value:  # a loop: its body's kernels, run once per step
                body = unit.attrs["body"]
                lines.append(f"{indent}loop {names[id(unit)]}: {body.length} steps{' (reversed)' if body.reverse else ''},"
                             " each running:")
                lines += self._unit_lines(body.graph, indent + "    ")[0]
            elif id(unit) in self._free:
                lines.append(f"{indent}{unit.op.name} {names[id(unit)]} {unit.type}: no code, {self._free[id(unit)]}")
            elif unit.inputs and unit.op not in (CONSTANT, FULL):
                how = "BLAS" if unit.op is MATMUL else "loop" if unit.op.pointwise else "kernel"
                lines.append(f"{indent}{unit.op.name} {names[id(unit)]} {unit.type} ({how})")
        return lines, last

    def to_dot(self) -> str:
        """Graphviz DOT text of the optimized graph, fused groups as clusters."""
        return graph_dot(self.graph)

    def save_html(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write the self-contained report page (see `graphc.inspection.report_page`); returns its path."""
        target = pathlib.Path(path)
        try:
            target.write_text(render(self), encoding="utf-8")
        except OSError as exc:
            raise GraphcError(f"save_html: cannot write {str(target)!r}: {exc.strerror or exc}") from None
        return target

    @property
    def passes(self) -> list[PassReport]:
        """What each pass did, in order. A program loaded from the program cache ran no pass: its
        passes run again when first looked at, for their reports and the graphs they leave."""
        if self._passes is None:
            _, self._passes = run_pipeline(self.source_graph, self._disabled)
        return self._passes

    def report(self) -> str:
        """What the compiler did: per pass nodes before and after, counters, time and notes; then
        the kernels, the back end, and the memory figures."""
        passes = ["passes: disabled (optimize=False)"]
        if self.optimize:
            passes = ["passes:"]
            for r in self.passes:
                passes += [f"  {r}"] + [f"      {note}" for note in r.notes]
        lines = [
            f"graphc function {self._signature()}: {len(self._outputs)} outputs, {len(self._updates)} updates",
            f"source graph: {len(self.source_graph)} nodes",
            *passes,
            f"program: {len(self.graph)} nodes",
            "kernels, in order:",
            *(f"  {k}" for k in self.kernels()),
        ]
        native = self._native
        if native is None:
            lines.append("executor: NumPy reference, node by node")
        else:
            code = [t for t in native.texts if t]  # the kernels (a loop's markers have no code)
            made = (f"{len(set(code)) - native.hits} kernels compiled by LLVM ({native.translated} from graphc's own"
                    f" LLVM IR, {len(set(code)) - native.hits - native.translated} through Numba)")
            hit = "hit (every kernel already compiled, on disk or in this process)" if native.cache_hit else (
                f"miss ({made})")
            if not native.caching:
                hit = f"off (nothing kept on disk); {made}"
            how = "run by CPython, not compiled" if native.interpret else "Numba kernels run by the driver"
            cached = "none (interpreted)" if native.interpret else hit
            lines += [
                f"executor: {how}: {len(code)} kernels, {len(set(code))} distinct"
                f" ({native.hits} of {len(set(code))} distinct found compiled), {native.text.count(chr(10))} lines listed",
                f"  source: {native.path or 'in memory (no writable folder)'}",
                f"  compile cache: {cached}; kernels {native.compile_seconds:.2f} s"
                + ("" if native.interpret else f" (LLVM {native.llvm_seconds:.2f} s, translation and Numba's typing and lowering the rest)"),
                f"  check_numerics: {'on' if self.check_numerics else 'off (no checks in the code)'}",
                f"  BLAS: {blas.describe()}, {native.threads} thread{'s' if native.threads > 1 else ''} for this program",
            ]
        m = self.memory
        if m is None:
            lines.append("memory: no native program (the Numba back end cannot lower every op of it)")
        else:
            lines.append(
                f"memory: arena {m.arena_bytes} bytes ({m.heuristic}, {len(m.in_place)} buffers written in place);"
                f" every value its own buffer would take {m.naive_bytes}; the largest set of buffers alive at"
                f" once {m.lower_bound_bytes}"
            )
        if self._last_flow is not None:
            lines.append(str(self._last_flow))
        kernels_seconds = native.compile_seconds if native is not None else 0.0
        kept = "; the program loaded from the program cache (passes and lowering not run)" if self.from_program_cache else ""
        lines.append(f"build time: {self.compile_seconds:.2f} s (passes {self.passes_seconds:.2f} s, lowering"
                     f" {self.lowering_seconds:.2f} s, kernels {kernels_seconds:.2f} s, the rest checks and"
                     f" bookkeeping{kept}); calls so far: {self._steps}")
        return "\n".join(lines)


# What a function with sizes given at call time shows of its latest program.
_LATEST = frozenset({
    "graph", "source_graph", "memory", "passes", "kernels", "to_dot", "save_html", "gradient_flow", "compile_seconds",
    "lowering_seconds", "passes_seconds", "from_program_cache",
})


class SpecializingFunction(_Counted):
    """A compiled function whose placeholders have sizes given at call time (declared None).

    Each set of sizes it is called with gets its own `Function`, built on first use by replaying
    the graph's recipes at those sizes (see `graphc.recipes`) and kept for the next call, as
    `jax.jit` specializes per shape. They share the variables, the call count (which the random
    draws follow) and the loss curve; looking inside (`report()`, `graph`, `memory`...) shows
    the program of the latest call.
    """

    def __init__(self, inputs: Sequence[Node], outputs: Any, updates: Mapping[Variable, Any] | None,
                 options: dict[str, Any]) -> None:
        self.inputs = _check_inputs(inputs)
        out_list, self._out_tree = flatten(outputs)
        self._outputs = [_as_output(o) for o in out_list]
        self._updates = _check_updates(updates or {})
        self._gradients = dict(getattr(updates, "gradients", None) or {})
        _check_options(options["memory_budget"], options["backend"], options["disable"], options["threads"])
        self.options = options
        self.optimize, self.check_numerics = options["optimize"], options["check_numerics"]
        self.cache, self.backend = options["cache"], options["backend"]
        self._declared = [p for p in self.inputs if isinstance(p, Recipe)]
        listed = {id(p) for p in self._declared}
        for r in recipes.declared_among((self._outputs, self._updates, self._gradients)):
            if id(r) not in listed:
                raise GraphError(f"compile: the outputs need placeholder {r.name!r} ({r.type}, created at"
                                 f" {r.location}), which is not among the inputs")
        self._programs: dict[tuple[tuple[int, ...], ...], Function] = {}
        self._latest: Function | None = None
        self._steps = 0
        self._losses = LossLog()
        for found in _CAPTURES:  # its programs are captured as they are built
            found.append(self)  # type: ignore[arg-type]

    def program(self, *shapes: tuple[int, ...]) -> Function:
        """The program for the placeholders with unknown sizes fed arrays of `shapes` (in the
        order of the inputs), built now if this is the first time."""
        key = tuple(tuple(int(d) for d in shape) for shape in shapes)
        found = self._programs.get(key)
        if found is not None:
            return found
        if len(key) != len(self._declared):
            raise GraphError(f"program: expected {len(self._declared)} shapes (one per input of unknown size), got"
                             f" {len(key)}")
        sizes = {r: shape for r, shape in zip(self._declared, key)}
        for r, shape in sizes.items():
            _check_size(r, shape)
        try:
            inputs, outputs, updates, gradients = recipes.Replay(sizes)(
                (self.inputs, self._outputs, [v for _, v in self._updates], self._gradients))
        except GraphcError as exc:
            fed = ", ".join(f"{r.name} {shape}" for r, shape in sizes.items())
            where = f", where it fails at {exc.location}" if exc.location is not None else ""
            raise FeedError(f"the graph cannot be built for the shapes fed ({fed}){where}: {exc.detail}") from None
        new_values = dict(zip((var for var, _ in self._updates), updates))
        step_updates: Any = new_values
        if gradients:
            step_updates = _WithGradients(new_values)
            step_updates.gradients = gradients
        try:
            found = Function(inputs, unflatten(self._out_tree, outputs), step_updates, **self.options)
        except GraphcError as exc:  # a compile that fails at these sizes only (a memory budget, say)
            fed = ", ".join(f"{r.name} {shape}" for r, shape in sizes.items())
            raise type(exc)(f"{exc.detail} [building the program for the shapes fed: {fed}]") from None
        self._programs[key] = found
        if self._latest is None:
            self._latest = found
        return found

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and len(args) == len(self.inputs):  # by position, at sizes met before: the program checks
            program = self._programs.get(tuple(np.shape(a) for a, p in zip(args, self.inputs) if isinstance(p, Recipe)))
            if program is not None:
                with STEP_LOCK:
                    return self._run(program, lambda: program(*args), 1)
        feeds = _checked_feeds(_given(self.inputs, args, kwargs))
        program = self.program(*(feeds[p].shape for p in self._declared))
        with STEP_LOCK:
            return self._run(program, lambda: program(*(feeds[p] for p in self.inputs)), 1)

    def run_many(self, /, *args: Any, **kwargs: Any) -> Any:
        """One step per slice along axis 0 of every feed, as `Function.run_many`; a feed may also
        be a list of per-step arrays whose sizes differ (the last, short batch of an epoch).
        Outputs are stacked along axis 0 where every step's has the same shape, else lists of
        per-step arrays. Either every step happens or none does."""
        given = _given(self.inputs, args, kwargs)
        for p, v in given.items():
            if isinstance(v, (list, tuple)) and not v:
                raise FeedError(f"run_many: input {p.name!r} is an empty list: no step says what sizes to build the"
                                " program for (zero steps of known sizes: empty stacked arrays)")
            if not isinstance(v, (list, tuple)) and not _leading(v):
                raise FeedError(f"run_many: input {p.name!r} needs a leading steps axis, got a scalar")
        if not any(isinstance(v, (list, tuple)) and len({_shape(x) for x in v}) > 1 for v in given.values()):
            stacked = _checked_feeds(given, stacked=True)
            program = self.program(*(stacked[p].shape[1:] for p in self._declared))
            with STEP_LOCK:
                n = next(iter(stacked.values())).shape[0] if stacked else 1
                return self._run(program, lambda: program.run_many(*(stacked[p] for p in self.inputs)), n)
        counts = {len(v) if isinstance(v, (list, tuple)) else _leading(v)[0] for v in given.values()}
        if len(counts) > 1:
            raise FeedError(f"run_many: feeds have different numbers of steps {sorted(counts)}")
        steps = [_checked_feeds({p: v[i] for p, v in given.items()}, what=f" at step {i}") for i in range(counts.pop())]
        runs: list[tuple[Function, list[dict[Node, np.ndarray]]]] = []
        for feeds in steps:  # consecutive steps of equal shapes run as one
            program = self.program(*(feeds[p].shape for p in self._declared))
            if runs and runs[-1][0] is program:
                runs[-1][1].append(feeds)
            else:
                runs.append((program, [feeds]))
        with STEP_LOCK:
            variables = {id(v): v for program, _ in runs for v in program._variables}.values()
            saved = [(v, v.store.array.copy()) for v in variables]
            first_step, losses = self._steps, self._losses.added
            try:
                columns = [flatten(self._run(program, lambda program=program, run=run: program.run_many(
                    *(np.stack([feeds[p] for feeds in run]) for p in self.inputs)), len(run)))[0]
                    for program, run in runs]
            except BaseException:
                for v, array in saved:
                    v.store.array = array
                self._steps = first_step
                self._losses.drop_since(losses)
                raise
        outs: list[Any] = []
        for parts in zip(*columns):
            if len({part.shape[1:] for part in parts}) == 1:
                outs.append(np.concatenate(parts))
            else:
                outs.append([row for part in parts for row in part])
        return unflatten(self._out_tree, outs)

    def _run(self, program: Function, step: Any, n: int) -> Any:
        """step() on `program` as call number self._steps onwards (n calls); its losses kept."""
        program._steps = self._steps
        try:
            result = step()
        finally:
            self._steps = program._steps
        if program._records_loss:
            self._losses.add(program._losses.take_last())
        self._latest = program
        return result

    def losses(self) -> np.ndarray:
        """The training step's loss at every step it ran, whatever the sizes (see `Function.losses`)."""
        return self._losses.values()

    def _shown(self, what: str) -> Function:
        """The program looking inside shows: the latest call's."""
        if self._latest is None:
            raise GraphcError(
                f"{what}: this function's inputs have sizes given at call time, so there is no program to show"
                " until it is called (or f.program(shape, ...) builds one)"
            )
        return self._latest

    def __getattr__(self, name: str) -> Any:
        if name in _LATEST:
            return getattr(self._shown(name), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _signature(self) -> str:
        return signature_of(self.inputs)

    def pretty(self) -> str:
        """The latest call's program as SSA text."""
        return self._shown("pretty").pretty()

    def __str__(self) -> str:
        return self.pretty()

    def __repr__(self) -> str:
        return (f"<graphc.Function {self._signature()} -> {len(self._outputs)} outputs, {len(self._updates)} updates;"
                f" {len(self._programs)} programs built>")

    def report(self) -> str:
        """Which sizes have a program, then the latest call's program's report."""
        built = "; ".join(", ".join(f"{r.name} {shape}" for r, shape in zip(self._declared, key)) for key in self._programs)
        latest = self._shown("report").report()
        return f"programs built for the sizes fed: {built}\nthe latest call's program:\n{latest}"


class _WithGradients(dict):  # type: ignore[type-arg]
    """Updates replayed for one size, with the gradients the step used (for gradient_flow)."""

    gradients: dict[Any, Any]


def _check_options(memory_budget: Any, backend: Any, disable: Any, threads: Any) -> tuple[str, ...]:
    """GraphError for an option no program could be compiled with; the names of the passes disabled."""
    whole = is_int(memory_budget) or isinstance(memory_budget, (float, np.floating)) and float(memory_budget).is_integer()
    if memory_budget is not None and (not whole or isinstance(memory_budget, bool) or memory_budget <= 0):
        raise GraphError(f"compile: memory_budget= takes a positive whole number of bytes, got {memory_budget!r}")
    if backend not in BACKENDS:
        raise GraphError(f"compile: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if threads is not None and (not is_int(threads) or isinstance(threads, bool) or threads < 1):
        raise GraphError(f"compile: threads= takes a positive int (or None to let graphc choose), got {threads!r}")
    if isinstance(disable, str):
        named: tuple[str, ...] = (disable,)
    elif isinstance(disable, (list, tuple, set, frozenset)) and all(isinstance(d, str) for d in disable):
        named = tuple(disable)
    else:
        raise GraphError(f"compile: disable= takes pass names (a string or a list of them), got {disable!r}")
    unknown = sorted(set(named) - {name for name, _ in PIPELINE})
    if unknown:
        raise GraphError(f"unknown passes {unknown}; the passes are {[n for n, _ in PIPELINE]}")
    return named


def _check_size(p: Node, shape: tuple[int, ...]) -> None:
    """FeedError unless `shape` fits placeholder `p` (None: any size), naming the dimension."""
    if len(shape) != p.ndim:
        raise FeedError(f"input {p.name!r} expects {p.type}, got a shape of {len(shape)} dimensions {shape}")
    for i, (d, want) in enumerate(zip(shape, p.shape)):
        if d < 0 or want is not None and d != want:
            raise FeedError(f"input {p.name!r} expects {p.type}, got shape {shape}: dimension {i} is {d}, not {want}")


def signature_of(inputs: Sequence[Node]) -> str:
    """`(x:f32[None,784], y:i64[None])`: a function's inputs as its messages name them."""
    return "(" + ", ".join(f"{p.name}:{p.type}" for p in inputs) + ")"


def _given(inputs: list[Node], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[Node, Any]:
    """Each input's value, given by position or by name (unchecked), or FeedError."""
    signature = signature_of(inputs)
    if len(args) > len(inputs):
        raise FeedError(f"expected at most {len(inputs)} inputs ({signature}), got {len(args)}")
    given: dict[Node, Any] = dict(zip(inputs, args))
    by_name = {p.name: p for p in inputs}
    for name, value in kwargs.items():
        p = by_name.get(name)
        if p is None:
            raise FeedError(f"unknown input {name!r}; the inputs are {signature}")
        if p in given:
            raise FeedError(f"input {name!r} was given twice (by position and by name)")
        given[p] = value
    for p in inputs:
        if p not in given:
            raise FeedError(f"missing input {p.name!r} ({p.type}, created at {p.location}); the inputs are {signature}")
    return {p: given[p] for p in inputs}


LOSSES_KEPT = 1_000_000  # the most recent losses a training step keeps


class LossLog:
    """A training step's losses, the last LOSSES_KEPT of them: added per call in O(1), in one
    buffer that grows by doubling to twice LOSSES_KEPT and then slides, so memory stays bounded
    however long training runs."""

    def __init__(self) -> None:
        self._data = np.zeros(0)
        self._n = 0  # values held, the newest last
        self.added = 0  # values ever added (what `drop_since` counts from)
        self._last = 0  # how many the latest `add` brought

    def add(self, values: np.ndarray) -> None:
        values = values[-LOSSES_KEPT:]
        if self._n + len(values) > len(self._data):
            if len(self._data) < 2 * LOSSES_KEPT:  # grow
                grown = np.zeros(min(max(2 * len(self._data), self._n + len(values), 1024), 2 * LOSSES_KEPT))
                grown[:self._n] = self._data[:self._n]
                self._data = grown
            if self._n + len(values) > len(self._data):  # full: keep the newest, slid to the front
                keep = LOSSES_KEPT - len(values)
                self._data[:keep] = self._data[self._n - keep:self._n]
                self._n = keep
        self._data[self._n:self._n + len(values)] = values
        self._n += len(values)
        self.added += len(values)
        self._last = len(values)

    def values(self) -> np.ndarray:
        return self._data[max(self._n - LOSSES_KEPT, 0):self._n].copy()

    def take_last(self) -> np.ndarray:
        """The values the latest `add` brought, taken out."""
        taken = self._data[self._n - self._last:self._n].copy()
        self.drop_since(self.added - self._last)
        return taken

    def drop_since(self, added: int) -> None:
        """Forget the values added after the first `added` (a failed run's)."""
        gone = min(self.added - added, self._n)
        self._n -= gone
        self.added -= gone
        self._last = 0


def _shape(value: Any) -> Any:
    """The shape of an array-like value; a ragged list's (no shape) is an object of its own."""
    try:
        return np.shape(value)
    except ValueError:
        return object()


def _leading(value: Any) -> tuple[int, ...]:
    """The size of a stacked feed's leading (steps) axis, as a 1-tuple; () for a scalar."""
    shape = _shape(value)
    return shape[:1] if isinstance(shape, tuple) else (len(value),)


def _checked_feeds(given: dict[Node, Any], stacked: bool = False, what: str = "") -> dict[Node, np.ndarray]:
    """The values checked against their placeholders (with a leading steps axis when `stacked`;
    `what` said after the input's name)."""
    feeds = {}
    for p, value in given.items():
        if stacked and isinstance(value, (list, tuple)):  # per-step values, each checked as a feed
            steps = [check_feed(v, p.shape, p.dtype, f"input {p.name!r} at step {i}") for i, v in enumerate(value)]
            feeds[p] = np.stack(steps) if steps else np.zeros((0, *(d or 0 for d in p.shape)), p.dtype)
        elif stacked:
            lead = _leading(value)
            if not lead:
                raise FeedError(f"run_many: input {p.name!r} needs a leading steps axis, got a scalar")
            feeds[p] = check_feed(value, lead + p.shape, p.dtype, f"input {p.name!r} (stacked)")
        else:
            feeds[p] = check_feed(value, p.shape, p.dtype, f"input {p.name!r}{what}")
    return feeds


def _check_inputs(inputs: Any) -> list[Node]:
    if isinstance(inputs, Node):
        inputs = [inputs]
    out: list[Node] = []
    for p in inputs:
        if not isinstance(p, Node) or not (p.op.leaf == "fed" or isinstance(p, Recipe) and recipes.is_declared(p)):
            raise GraphError(f"compile: inputs must be placeholders, got {p!r}")
        if any(p is q for q in out):
            raise GraphError(f"compile: input {p.name!r} is listed twice")
        out.append(p)
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise GraphError(f"compile: input names repeat ({names}); name placeholders apart")
    return out


def _as_output(o: Any) -> Node:
    if not isinstance(o, Node):
        raise GraphError(f"compile: outputs must be graph tensors, got {o!r}")
    if o.op.tuple_value:
        raise GraphError(f"compile: {o!r} holds several tensors (a loop's or a cond's results): output the tensors"
                         " gc.scan or gc.cond returned")
    return o


def _check_updates(updates: Mapping[Any, Any]) -> list[tuple[Variable, Node]]:
    if not isinstance(updates, Mapping):
        raise GraphError(f"compile: updates must be a dict {{variable: new value}}, got {type(updates).__name__}")
    out = []
    for var, value in updates.items():
        if not isinstance(var, Variable):
            raise GraphError(f"compile: updates must be keyed by variables, got {var!r}")
        (value,) = lift(value)
        if not isinstance(value, Node):
            raise GraphError(f"compile: the update of {var.name!r} must be a graph tensor, got {value!r}")
        if value.shape != var.shape or value.dtype != var.dtype:
            raise ShapeError(
                f"compile: the update of variable {var.name!r} must be {var.type}, got {value.type}"
                f" (created at {value.location}); cast or reshape it"
            )
        out.append((var, value))
    return out


def _check_fed(graph: Graph) -> None:
    fed = {id(p) for p in graph.inputs}
    for n in graph.nodes:
        if isinstance(n, Recipe):
            raise GraphError(
                f"compile: {n!r} has sizes given at call time but sits inside a graph of fixed sizes (captured"
                " by a function given to scan, cond or checkpoint? pass it as an argument instead)"
            )
        if n.op.leaf == "fed" and id(n) not in fed:
            raise GraphError(
                f"compile: the outputs need placeholder {n.name!r} ({n.type}, created at"
                f" {n.location}), which is not among the inputs"
            )


def compile(  # noqa: A001 - the API's name
    inputs: Sequence[Node],
    outputs: Any,
    updates: Mapping[Variable, Any] | None = None,
    optimize: bool = True,
    check_numerics: bool = False,
    memory_budget: int | None = None,
    cache: bool = True,
    backend: str = "numba",
    disable: Sequence[str] = (),
    debug: bool = False,
    gradient_flow: bool = False,
    threads: int | None = None,
) -> Function:
    """A callable program computing `outputs` from `inputs` and applying `updates` atomically.

    Placeholders declared with a None dimension make a `SpecializingFunction`: a program per set
    of sizes it is called with.

    `backend="numpy"` runs the NumPy reference executor instead of native code (for comparison);
    `backend="python"` runs the generated program in CPython without compiling it (slow; for
    debugging the lowering).
    `disable` names passes to skip (see `graphc.passes.pipeline.PIPELINE`); `debug=True` verifies
    the graph after every pass and prints it to stderr. `gradient_flow=True` (a training step with
    updates from `gc.optim`) also computes each parameter's gradient norm and each ReLU's
    fraction of dead units, read after a step with `f.gradient_flow()`. `threads` is how many
    threads the BLAS runs for this program's products (default: one, unless a product is large
    enough to split, then every core the process may use), set at each call whatever the
    environment says.
    """
    if recipes.holds_recipe((inputs, outputs, list(updates.values()) if isinstance(updates, Mapping) else None)):
        options = dict(optimize=optimize, check_numerics=check_numerics, memory_budget=memory_budget, cache=cache,
                       backend=backend, disable=disable, debug=debug, gradient_flow=gradient_flow, threads=threads)
        return SpecializingFunction(inputs, outputs, updates, options)  # type: ignore[return-value]
    return Function(inputs, outputs, updates, optimize, check_numerics, memory_budget, cache, backend, disable, debug,
                    gradient_flow, threads)


def _blas_threads(graph: Graph, threads: Any) -> int:
    """The BLAS thread count of a program: `threads` as given, else chosen by its largest product."""
    if threads is None:
        products = [n.size * n.inputs[0].shape[-1] for n in graph.nodes if n.op is MATMUL]
        return blas.choose_threads(max(products, default=0))
    if not is_int(threads) or isinstance(threads, bool) or threads < 1:
        raise GraphError(f"compile: threads= takes a positive int (or None to let graphc choose), got {threads!r}")
    return int(threads)
