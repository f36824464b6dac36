"""Write docs/api.md, the reference of every public name of graphc, from the code itself:
`python docs/api_md.py` (tests/test_docs.py checks the page is current)."""

from __future__ import annotations

import inspect
import pathlib
from typing import Any

import graphc as gc

SECTIONS = [
    ("Graphs and compiling", ["placeholder", "variable", "constant", "compile", "Function", "Graph", "Node",
                              "Variable", "verify", "save", "load"]),
    ("Differentiation", ["grad", "vjp", "jvp", "hvp", "jacobian", "checkpoint"]),
    ("Loops and conditionals", ["scan", "fori_loop", "cond"]),
    ("Model pieces", ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "layer_norm", "dropout",
                      "softmax", "log_softmax", "softmax_cross_entropy", "one_hot", "take", "einsum", "matmul"]),
    ("Randomness", ["random_normal", "random_uniform", "set_seed"]),
    ("Errors", ["GraphcError", "ShapeError", "DTypeError", "FeedError", "NumericsError", "GraphError",
                "GraphcWarning"]),
    ("Modules", ["optim", "eager"]),
]

# What a compiled function holds besides its methods (attributes set when it is built).
FUNCTION_ATTRIBUTES = [
    ("graph", "the optimized graph (a `gc.Graph`)"),
    ("source_graph", "the graph as the user built it, before any pass"),
    ("passes", "per pass that ran: its name, nodes before and after, counters, notes and time"),
    ("memory", "the native program's memory plan: `arena_bytes`, `naive_bytes`, `lower_bound_bytes` (None when"
               " the Numba back end cannot lower the program)"),
    ("calls", "the calls made so far (a `run_many` step is one), which random draws follow; settable, to"
              " resume a rebuilt step's draws where a saved run was"),
]


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    return first.replace("|", "\\|")


def _signature(name: str, obj: Any) -> str:
    """`name(arguments)` without type annotations (classes and modules: the name alone)."""
    if inspect.ismodule(obj) or inspect.isclass(obj):
        return name
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    bare = sig.replace(parameters=[p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()],
                       return_annotation=inspect.Signature.empty)
    return f"{name}{bare}".replace("|", "\\|")


def render() -> str:
    lines = ["# API reference", "",
             "Every public name of `graphc` (`import graphc as gc`), generated from the code by",
             "`python docs/api_md.py`; the [user guide](user-guide.md) tells how they fit together.", ""]
    placed = {n for _, names in SECTIONS for n in names}
    rest = sorted(n for n in gc.__all__ if n not in placed)
    for title, names in [*SECTIONS, ("Functions on tensors", rest)]:
        lines += [f"## {title}", "", "| name | what it does |", "| --- | --- |"]
        for name in names:
            obj = getattr(gc, name)
            lines.append(f"| `gc.{_signature(name, obj)}` | {_summary(obj)} |")
        lines.append("")
    lines += ["## Compiled functions (`f = gc.compile(...)`)", "", "| call | what it does |", "| --- | --- |",
              "| `f(*arrays)`, `f(**{name: array})` | one step: the outputs, as NumPy arrays; the variables updated |"]
    for name in sorted(n for n, _ in inspect.getmembers(gc.Function, inspect.isfunction) if not n.startswith("_")):
        lines.append(f"| `f.{_signature(name, getattr(gc.Function, name)).replace('(self, /, ', '(').replace('(self, ', '(').replace('(self)', '()')}`"
                     f" | {_summary(getattr(gc.Function, name))} |")
    lines += [f"| `f.{name}` | {what} |" for name, what in FUNCTION_ATTRIBUTES]
    lines += ["", "## Optimizers (`gc.optim`)", "", "| name | what it does |", "| --- | --- |"]
    for name in ("sgd", "momentum", "adam", "adamw", "clip_by_global_norm"):
        obj = getattr(gc.optim, name)
        lines.append(f"| `gc.optim.{_signature(name, obj)}` | {_summary(obj)} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    pathlib.Path(__file__).with_name("api.md").write_text(render())
