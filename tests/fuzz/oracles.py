"""Running random programs every way graphc can, and comparing the results.

The oracle is the NumPy reference executor on the graph as built (no pass). Against it:
- native code with every pass, with none, and with each pass disabled alone (`CONFIGS`);
- the reference executor on the graph after the pipeline (all passes, and each disabled alone);
- eager mode (values and first-order gradients: its tape does not record a second order).
- recomputation: the optimized graph with what a min cut can recompute recomputed, and a
  program compiled under a memory budget below its arena;
- the program built with the first placeholder's first dimension given at call time (None).
What is compared: the loss, each loss term's value, the gradient of the loss with respect to
every float input, a second-order gradient (of <grad, w> again, reverse over reverse) and a
forward-mode tangent (jvp), float64 at rtol 1e-7. A program where the operands of a maximum,
minimum or comparison meet at rounding distance but not exactly (`near_ties`) is skipped:
rounding, not graphc, picks the side of the kink there.

The generated program runs two ways: natively (Numba) and interpreted (`backend="python"`: the
same source run by CPython, no compile). The interpreted run tests the lowering (fusion, loop
nests, indexing, the memory plan) at a hundredth of the cost of a compile, so every program gets
it under every configuration; Numba's own typing and code generation get a share of programs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import graphc as gc
from graphc import eager
from graphc.backends.numpy.executor import evaluate
from graphc.ir import Graph, Node, verify
from graphc.passes.pipeline import PIPELINE, run_pipeline
from graphc.passes.remat import chosen_by_min_cut, rematerialize
from graphc.recipes import NOMINAL, replayable

from . import programs
from .programs import Program, random_feeds, random_program, run, weight, weighted_sum

Config = tuple[str, dict[str, object]]
CONFIGS: list[Config] = (
    [("all passes", {}), ("no pass", {"optimize": False})]
    + [(f"all but {name}", {"disable": (name,)}) for name, _ in PIPELINE]
)


@dataclass
class Built:
    """A program built on placeholders (and, when it trains, one variable): its outputs,
    labelled, and the reference values. A training program also has `updates` (the variable and
    its new value, SGD on the loss; for odd seeds SGD with momentum, whose buffer is a second
    variable read by the first's update), whose expected values come last in `expected`."""

    program: Program
    feeds: list[np.ndarray]
    inputs: list[Node]  # one per program input: a placeholder, or the variable in its place
    outputs: list[Node]
    labels: list[str]
    expected: list[np.ndarray] = field(default_factory=list)
    updates: list[tuple[gc.Variable, Node]] = field(default_factory=list)
    # float32 tolerances wherever float32 arithmetic happens (a float32 program, or float32
    # values inside a float64 one, such as a constant standing alone).
    float_dtype: np.dtype = np.dtype("float64")

    @property
    def placeholders(self) -> list[Node]:
        return [n for n in self.inputs if n.op.leaf in ("fed", "recipe")]

    def graph(self) -> Graph:
        """Every output, the new variable values last."""
        return Graph(self.placeholders, self.outputs + [value for _, value in self.updates])

    def fed(self) -> dict[Node, np.ndarray]:
        return {p: f for p, f in zip(self.inputs, self.feeds) if p.op.leaf in ("fed", "recipe")}

    def reset(self) -> None:
        """The variables back to their first values (each run starts from them)."""
        for var, _ in self.updates:
            first = next((f for n, f in zip(self.inputs, self.feeds) if n is var), None)
            var.assign(np.zeros(var.shape, var.dtype) if first is None else first)

    def update_dict(self) -> dict[gc.Variable, Node] | None:
        return dict(self.updates) or None

    def new_values(self) -> list[np.ndarray]:
        return [var.value for var, _ in self.updates]

    def fed_args(self) -> list[np.ndarray]:
        """The feeds of the placeholders, in order."""
        fed = self.fed()
        return [fed[p] for p in self.placeholders]


@dataclass
class Mismatch:
    """What disagreed: program, oracle, output, and how."""

    program: Program
    feeds: list[np.ndarray]
    oracle: str
    output: str
    detail: str

    def __str__(self) -> str:
        return f"program {self.program.seed}: {self.oracle} differs from the reference in {self.output}: {self.detail}"


def build(program: Program, feeds: list[np.ndarray], tag: str = "", second_order: bool = True,
          unknown: int | None = None) -> Built:
    """Placeholders and outputs of `program` (loss, loss terms, gradients, second order, jvp, and
    an SGD update of the variable when it trains). With `unknown`, input `unknown`'s first
    dimension is declared None (given at call time) and nothing is evaluated."""
    trained = next((i for i, (_, dt) in enumerate(program.inputs) if dt[0] == "f"), None) if program.train else None
    gc.set_seed(0)  # random nodes are numbered as they are made: the same numbers in every mode
    nodes: list[Node] = [gc.variable(feeds[i], name=f"{tag}w{i}") if i == trained
                         else gc.placeholder((None, *shape[1:]) if i == unknown else shape, dt, name=f"{tag}x{i}")
                         for i, (shape, dt) in enumerate(program.inputs)]
    values, loss = run(program, nodes)
    outputs, labels = [], []
    if loss is not None:
        outputs.append(loss)
        labels.append("loss")
    for k in program.loss_terms:
        outputs.append(values[k])
        labels.append(f"value v{k}")
    xs = [n for n in nodes if n.dtype.kind == "f"]
    updates: list[tuple[gc.Variable, Node]] = []
    if loss is not None and xs:
        grads = gc.grad(loss, xs)
        outputs += grads
        labels += [f"d loss / d {p.name}" for p in xs]
        if trained is not None:
            var = nodes[trained]
            g = grads[xs.index(var)]
            if program.seed % 2:  # momentum: the buffer's new value is read by the parameter's update
                buffer = gc.variable(np.zeros(var.shape, var.dtype), name=f"{tag}buffer")
                moved = buffer * 0.5 + g
                updates = [(buffer, moved), (var, var - 0.125 * moved)]
            else:
                updates = [(var, var - 0.125 * g)]
            if program.seed % 3 == 0:  # a second variable given the very same new value (a kept copy)
                shadow = gc.variable(np.zeros(var.shape, var.dtype), name=f"{tag}shadow")
                updates.append((shadow, updates[-1][1]))
        if second_order:
            z = None
            for j, g in enumerate(grads):
                term = weighted_sum(g, 50 + j)
                z = term if z is None else z + term
            seconds = gc.grad(z, xs)
            outputs += seconds
            labels += [f"second order d/d {p.name}" for p in xs]
            outputs.append(_jvp_along_weights(loss, xs))
            labels.append("jvp of the loss")
            term = values[program.loss_terms[0]] if program.loss_terms else None
            if program.seed % 4 == 0 and term is not None and term.dtype.kind == "f":
                # a whole Jacobian: built row by row, or past 16 rows (columns) as a loop
                mode = "rev" if program.seed % 8 == 0 else "fwd"
                outputs.append(gc.jacobian(term, xs[0], mode=mode))
                labels.append(f"jacobian ({mode}) of v{program.loss_terms[0]} by {xs[0].name}")
    labels = [f"{lab} ({o.type})" for lab, o in zip(labels, outputs)]
    labels += [f"the new value of variable {var.name} ({var.type})" for var, _ in updates]
    b = Built(program, feeds, nodes, outputs, labels, updates=updates)
    if unknown is not None:
        return b
    graph = b.graph()
    b.expected = [np.asarray(v) for v in evaluate(graph, b.fed())]
    b.float_dtype = np.dtype("float32" if any(n.dtype == np.float32 for n in graph.nodes) else "float64")
    return b


# Ops whose result jumps where their two operands meet: the side of a tie decides the value or
# the gradient.
_KINKS = {"maximum", "minimum", "less", "less_equal", "greater", "greater_equal", "equal", "not_equal"}


def near_ties(b: Built) -> int:
    """How many elementwise operand pairs of a kinked op (`_KINKS`) meet at rounding distance but
    not exactly, in the reference run: a sum that is zero in exact arithmetic comes out as
    -2.8e-19 in NumPy's pairwise order and +8.3e-19 in the generated code's (seed 91403,
    program 482), so the two pick opposite sides of `maximum` and its gradient differs, both
    rightly. Exact ties stay checked: they mostly come from one computation on both sides."""
    kinked = [n for n in b.graph().nodes if n.op.name in _KINKS and all(x.dtype.kind == "f" for x in n.inputs)]
    if not kinked:
        return 0
    operands = [x for n in kinked for x in n.inputs]
    values = evaluate(Graph(b.placeholders, operands), b.fed())
    count = 0
    for k in range(0, len(values), 2):
        x, y = np.broadcast_arrays(np.asarray(values[k], np.float64), np.asarray(values[k + 1], np.float64))
        with np.errstate(invalid="ignore"):  # inf - inf
            apart = np.abs(x - y)
            band = (1e-9 if b.float_dtype == np.float64 else 1e-4) * np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
            count += int(np.count_nonzero((apart > 0) & (apart <= band) & np.isfinite(x) & np.isfinite(y)))
    return count


@replayable  # the directions take the inputs' shapes
def _jvp_along_weights(loss: Node, xs: list[Node]) -> Node:
    return gc.jvp(loss, xs, [weight(p.shape, 80 + j).astype(p.dtype) for j, p in enumerate(xs)])


def difference(got: np.ndarray, want: np.ndarray, float_dtype: np.dtype) -> str | None:
    """None when `got` matches `want`; else what differs. Floats: rtol 1e-7 in a float64 program,
    1e-3 in a float32 one, an absolute slack scaled by the largest expected magnitude, NaN where
    NaN and infinities of the same sign; other dtypes exactly."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"got {got.dtype}{list(got.shape)}, want {want.dtype}{list(want.shape)}"
    if want.dtype.kind != "f":
        return None if np.array_equal(got, want) else f"got {got.tolist()}, want {want.tolist()}"
    # float32: the vectorized tanh (1.3 ulp) and float32 rounding, amplified by
    # second derivatives, reach 1e-4; a real error (a wrong cast, index or formula) is far larger.
    rtol = 1e-7 if float_dtype == np.float64 else 1e-3
    finite = want[np.isfinite(want)]
    scale = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    same_special = np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(
        got[np.isinf(want)], want[np.isinf(want)]) and np.array_equal(np.isinf(got), np.isinf(want))
    # The absolute slack is relative to the output's largest magnitude: small entries of an output
    # come from cancellation there (float32: 1e-3 of the largest, its approximation error amplified).
    slack = rtol * (1e-2 if float_dtype == np.float64 else 1.0) * scale
    close = np.isclose(got, want, rtol=rtol, atol=slack, equal_nan=True)
    if same_special and close.all():
        return None
    at = np.argwhere(~close)[:3].tolist() if not close.all() else "non-finite positions"
    return f"at {at}: got {np.array2string(got, precision=10)}, want {np.array2string(want, precision=10)}"


def _compare(b: Built, got: Sequence[np.ndarray], oracle: str) -> Mismatch | None:
    fdt = b.float_dtype
    for label, g, w in zip(b.labels, got, b.expected):
        why = difference(g, w, fdt)
        if why is not None:
            return Mismatch(b.program, b.feeds, oracle, label, why)
    return None


def _guarded(b: Built, oracle: str, run: Callable[[], Sequence[np.ndarray]]) -> list[Mismatch]:
    """Run one oracle; an exception is a finding too."""
    try:
        got = run()
    except Exception as exc:  # noqa: BLE001 - any failure of a valid program is a bug
        return [Mismatch(b.program, b.feeds, oracle, "the run", f"raised {type(exc).__name__}: {exc}"[:2000])]
    m = _compare(b, got, oracle)
    return [] if m is None else [m]


def check_eager(b: Built) -> list[Mismatch]:
    """Eager mode: the loss, the loss terms and the first-order gradients."""
    program = b.program

    def eagerly() -> list[np.ndarray]:
        tensors = [eager.tensor(f, requires_grad=f.dtype.kind == "f") for f in b.feeds]
        gc.set_seed(0)
        values, loss = run(program, tensors)
        got: list[np.ndarray] = []
        if loss is not None:
            loss = eager.to_eager(loss)  # a loss of constants alone is a graph constant even here
            got.append(np.asarray(loss.data))
        # A value made from constants alone is a graph constant even here: evaluate it.
        got += [np.asarray(eager.to_eager(values[k]).data) for k in program.loss_terms]
        if loss is not None and any(t.requires_grad for t in tensors):
            if loss.requires_grad:
                loss.backward()
            got += [np.zeros_like(t.data) if t.grad is None else t.grad.data for t in tensors if t.requires_grad]
        return got

    return _guarded(b, "eager mode", eagerly)


def check_compiled(b: Built, backend: str, configs: Sequence[Config] = CONFIGS,
                   reference_too: bool = False) -> list[Mismatch]:
    """The generated program (natively with backend "numba", by CPython with "python") under
    each configuration of passes; with `reference_too`, also the graph each compile optimized,
    through the reference executor (the pipeline then runs once for both)."""
    found: list[Mismatch] = []
    updates = b.update_dict()
    for label, options in configs:
        made: list[gc.Function] = []

        def compiled(options: dict[str, object] = options, made: list[gc.Function] = made) -> list[np.ndarray]:
            f = gc.compile(b.placeholders, b.outputs, updates, backend=backend, **options)  # type: ignore[arg-type]
            made.append(f)
            b.reset()
            got = list(f(*b.fed_args()))
            return got + b.new_values()

        found += _guarded(b, f"{backend}, {label}", compiled)
        if reference_too and made and options.get("optimize", True):
            graph = made[0].graph

            def through_reference(graph: Graph = graph) -> list[np.ndarray]:
                b.reset()
                fed = b.fed()
                return evaluate(graph, {p: fed[p] for p in graph.inputs})

            found += _guarded(b, f"reference executor, {label}", through_reference)
    return found


def check_unknown_sizes(b: Built) -> list[Mismatch]:
    """The program built again with the first placeholder's first dimension given at call time
    (None), compiled (interpreted, every pass) and run at the size fed: the graph replayed for
    that size must compute what the declared one does. A program whose first dimension must
    equal another input's fixed one cannot leave it open: it is refused where written, and
    skipped here."""
    unknown = next((i for i, n in enumerate(b.inputs) if n.op.leaf == "fed" and n.ndim >= 1), None)
    if unknown is None:
        return []
    if any(a is programs._scan_dropping for s in b.program.steps for a in s.args):
        return []  # a scan of open length drawing in its steps: later draws take streams of their own (documented)
    try:
        open_ = build(b.program, b.feeds, second_order=True, unknown=unknown)
    except gc.GraphcError as exc:  # a ShapeError, or scan's carry changing shape with the size
        if f"set to {NOMINAL[0]}" in str(exc):
            return []
        if "pass it as an argument" in str(exc):  # a checkpoint closing over a tensor of open size: refused
            return []
        raise
    open_.expected, open_.float_dtype = b.expected, b.float_dtype

    def replayed() -> list[np.ndarray]:
        f = gc.compile(open_.placeholders, open_.outputs, open_.update_dict(), backend="python")
        open_.reset()
        got = list(f(*open_.fed_args()))
        return got + open_.new_values()

    return _guarded(open_, "unknown sizes, python", replayed)


def check_remat(b: Built) -> list[Mismatch]:
    """Recomputation: the optimized graph with everything the min cut can recompute recomputed
    (price 0), through the reference executor; and the program compiled (interpreted) under a
    memory budget one byte below its arena, when that is reachable."""
    graph, _ = run_pipeline(b.graph(), ("fuse",))
    redone = rematerialize(graph, chosen_by_min_cut(graph, 0.0)).graph

    def through_reference() -> list[np.ndarray]:
        verify(redone)
        b.reset()
        fed = b.fed()
        return [np.asarray(v) for v in evaluate(redone, {p: fed[p] for p in redone.inputs})]

    def under_budget() -> list[np.ndarray]:
        updates = b.update_dict()
        f = gc.compile(b.placeholders, b.outputs, updates, backend="python")
        try:
            f = gc.compile(b.placeholders, b.outputs, updates, backend="python",
                           memory_budget=f.memory.arena_bytes - 1)
        except gc.GraphError as exc:
            if "cannot be met" not in str(exc):
                raise
        b.reset()
        got = list(f(*b.fed_args()))
        return got + b.new_values()

    return _guarded(b, "remat, reference executor", through_reference) + _guarded(b, "remat, python", under_budget)


def check_unrolled(b: Built) -> list[Mismatch]:
    """The program built again with its scans unrolled (one copy of the body per step, no loop
    node), through the reference: values, gradients and second order must be the loops' own,
    to rounding."""
    if not any(step.fn.startswith("programs.scan") for step in b.program.steps):
        return []

    def unrolled() -> list[np.ndarray]:
        programs.UNROLL = True
        try:
            u = build(b.program, b.feeds)
        finally:
            programs.UNROLL = False
        b.reset()
        return u.expected

    return _guarded(b, "unrolled scans, reference executor", unrolled)


def case(seed: int, second_order: bool = True) -> Built:
    """Program `seed` with its feeds, built."""
    program = random_program(seed)
    feeds = random_feeds(program, np.random.default_rng([seed, 17]))
    return build(program, feeds, second_order=second_order)


def check_program(seed: int, native: bool = False, configs: Sequence[Config] = CONFIGS,
                  native_configs: Sequence[Config] = CONFIGS, rebuilt: bool = True) -> list[Mismatch]:
    """Every oracle on program `seed`: eager, the generated code under every configuration
    (interpreted; also natively when `native`), each optimized graph through the reference and,
    when `rebuilt`, the program with unknown sizes and under a memory budget."""
    try:
        b = case(seed)
    except Exception as exc:  # noqa: BLE001 - the reference itself failed on a valid program
        program = random_program(seed)
        return [Mismatch(program, [], "reference executor", "the run", f"raised {type(exc).__name__}: {exc}")]
    if near_ties(b):  # rounding picks the side of a kink: no oracle can be held to the reference's
        return []
    found = check_eager(b) + check_compiled(b, "python", configs, reference_too=True)
    if rebuilt:
        found += check_unknown_sizes(b) + check_remat(b) + check_unrolled(b)
    if native:
        found += check_compiled(b, "numba", native_configs)
    return found


def program_failure(program: Program, oracle: str) -> Mismatch | None:
    """The mismatch `oracle` (a Mismatch's label) finds in `program` with its usual feeds, if any
    (for shrinking: the same oracle must still fail)."""
    feeds = random_feeds(program, np.random.default_rng([program.seed, 17]))
    try:
        b = build(program, feeds)
    except Exception as exc:  # noqa: BLE001
        m = Mismatch(program, feeds, "reference executor", "the run", f"raised {type(exc).__name__}: {exc}")
        return m if oracle == m.oracle else None
    if near_ties(b):  # shrinking must not drift to a program that rounding alone tells apart
        return None
    where, _, config = oracle.partition(", ")
    if where == "eager mode":
        found = check_eager(b)
    elif where == "unknown sizes":
        found = check_unknown_sizes(b)
    elif where == "remat":
        found = [m for m in check_remat(b) if m.oracle == oracle]
    elif where == "unrolled scans":
        found = check_unrolled(b)
    elif where == "reference executor":  # the graph a compile optimized, through the reference
        configs = [c for c in CONFIGS if c[0] == config]
        found = [m for m in check_compiled(b, "python", configs, reference_too=True) if m.oracle == oracle]
    else:
        found = check_compiled(b, where, [c for c in CONFIGS if c[0] == config])
    return found[0] if found else None
